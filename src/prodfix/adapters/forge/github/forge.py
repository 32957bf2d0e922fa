"""The Forge protocol on GitHub and GitHub Enterprise Server (REST, plus GraphQL for blockers).

Facts relied on (GitHub's REST reference, https://docs.github.com/en/rest/pulls/pulls): `head` must
be `owner:branch` when listing PRs (a bare branch is silently ignored and every PR comes back);
list items lack `merged`/`mergeable`, so the single PR is fetched; `mergeable: null` means GitHub
is still computing it; merging with `sha` makes GitHub answer 409 when the head moved and 405 when
protection blocks it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from prodfix.adapters.credentials import Credential
from prodfix.adapters.forge import (
    Approval,
    HeadMoved,
    MergeBlocked,
    MergeMethod,
    PrState,
    PullRequest,
)
from prodfix.adapters.forge.github import graphql as gql
from prodfix.adapters.forge.github.api import GitHubApi
from prodfix.adapters.http import RetryPolicy
from prodfix.adapters.remote_url import RemoteRepo
from prodfix.errors import ProdfixError, ServiceError
from prodfix.types import BranchName, PrNumber, Sha

# Review states that replace a reviewer's earlier verdict; COMMENTED and PENDING do not
# (an approval followed by a comment is still an approval, as on GitHub's own page).
_VERDICTS = frozenset({"APPROVED", "CHANGES_REQUESTED", "DISMISSED"})


class GitHubForge:
    def __init__(
        self,
        remote: RemoteRepo,
        credential: Credential | None,
        *,
        verify: bool = True,
        policy: RetryPolicy | None = None,
        mergeable_polls: int = 5,
        poll_interval: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.remote = remote
        self.credential = credential
        self.api = GitHubApi(remote, credential, verify=verify, policy=policy)
        self.mergeable_polls = mergeable_polls
        self.poll_interval = poll_interval
        self.sleep = sleep

    def __repr__(self) -> str:
        return f"GitHubForge({self.remote.full_name!r} on {self.remote.host}, {self.credential!r})"

    @property
    def name(self) -> str:
        return f"GitHub ({self.remote.host})"

    def shutdown(self) -> None:
        """Release the HTTP connections (`close` is the Forge verb that closes a PR)."""
        self.api.close()

    # -- reads -------------------------------------------------------------------------------

    def find_pr(
        self, head: BranchName, base: BranchName, *, open_only: bool = True
    ) -> PullRequest | None:
        items = self.api.paginate(
            f"{self.api.repo_path}/pulls",
            {
                "head": f"{self.remote.owner}:{head}",
                "base": base,
                "state": "open" if open_only else "all",
            },
        )
        # Belt and braces for the bare-branch pitfall: keep only exact head/base matches.
        items = [i for i in items if i["head"]["ref"] == head and i["base"]["ref"] == base]
        if not items:
            return None
        items.sort(key=lambda i: (i["state"] == "open", i["number"]), reverse=True)
        return self.get_pr(PrNumber(items[0]["number"]))

    def list_prs(self, *, state: str = "open") -> list[PullRequest]:
        items = self.api.paginate(f"{self.api.repo_path}/pulls", {"state": state})
        return [_to_pr(i) for i in items]

    def merged_prs(self, base: BranchName, *, since: str | None = None) -> list[PullRequest]:
        """Closed PRs into `base`, newest update first, read until a page ends with a PR last
        updated before `since` (a PR is updated when it merges: the pages after hold none
        merged since). List items carry `merged_at` and `merge_commit_sha` (the
        pull-request-simple schema), so no PR is fetched one by one."""
        params: dict[str, str | int] = {
            "state": "closed",
            "base": base,
            "sort": "updated",
            "direction": "desc",
        }
        found: list[PullRequest] = []
        for page in self.api.pages(f"{self.api.repo_path}/pulls", params):
            for item in page:
                pr = _to_pr(item)
                if pr.state is PrState.MERGED and pr.base == base:
                    found.append(pr)
            if since and page and str(page[-1].get("updated_at") or "") < since:
                break
        return found

    def get_pr(self, number: PrNumber) -> PullRequest:
        raw = self._get_raw(number)
        for _ in range(self.mergeable_polls):
            if raw["state"] != "open" or raw.get("mergeable") is not None:
                break
            # null = GitHub started a background job computing it; ask again shortly.
            self.sleep(self.poll_interval)
            raw = self._get_raw(number)
        pr = _to_pr(raw, approvals=self._approvals(number, author=raw["user"]["login"]))
        if pr.state is PrState.OPEN:
            pr = dataclasses.replace(pr, blockers=self._blockers(raw))
        return pr

    def repo_allows_merge_commits(self) -> bool | None:
        """Whether merge commits are enabled (back-merges need them: docs/backmerge.md). None when
        GitHub does not say (the field is returned only to users who may push)."""
        repo = self.api.http.json(self.api.call("GET", self.api.repo_path))
        value = repo.get("allow_merge_commit")
        return value if isinstance(value, bool) else None

    def whoami(self) -> tuple[str, tuple[str, ...] | None]:
        """(login, classic-token scopes or None when GitHub does not report them)."""
        resp = self.api.call("GET", "/user")
        header = resp.headers.get("x-oauth-scopes")
        scopes = (
            None if header is None else tuple(s.strip() for s in header.split(",") if s.strip())
        )
        return str(self.api.http.json(resp)["login"]), scopes

    def prime(self) -> None:
        return None  # PRs come from the API; the caller fetches the branches itself

    def has_credentials(self) -> bool:
        return self.credential is not None

    def credentials_problem(self) -> tuple[str, str] | None:
        if self.credential is not None:
            return None
        from prodfix.adapters.credentials import missing_token

        missing = missing_token(self.remote.host)
        return missing.message, missing.hint

    def backmerge_warnings(self) -> list[tuple[str, str]]:
        if self.credential is None:
            return []
        try:
            allowed = self.repo_allows_merge_commits()
        except ProdfixError:
            return []  # cannot tell now; the merge itself reports GitHub's refusal
        if allowed is not False:
            return []
        return [
            (
                f"{self.remote.full_name} does not allow merge commits: the back-merge PR cannot "
                "be merged as it must be (a merge commit, never squash or rebase)",
                "enable “Allow merge commits” in the repository settings (General → Pull Requests)",
            )
        ]

    def compare_url(self, base: BranchName, head: BranchName) -> str | None:
        # Base always explicit: without it GitHub compares against the default branch (master),
        # the wrong target for a fix (GitHub Docs, "About comparing branches in pull requests").
        # The same URL as `gh pr create --web` builds (cli/cli, generateCompareURL).
        b, h = quote(base, safe=""), quote(head, safe="")
        return f"{self.remote.web_url}/{self.remote.owner}/{self.remote.name}/compare/{b}...{h}?expand=1"

    # -- writes ------------------------------------------------------------------------------

    def create_pr(
        self, head: BranchName, base: BranchName, title: str, body: str, *, draft: bool = False
    ) -> PullRequest:
        # Safe to send again after a 502: a PR that the first try did open makes GitHub
        # answer 422, and the existing PR is returned below.
        resp = self.api.call(
            "POST",
            f"{self.api.repo_path}/pulls",
            json={"title": title, "head": head, "base": base, "body": body, "draft": draft},
            expect=(422,),
            idempotent=True,
        )
        if resp.status_code == 422:
            existing = self.find_pr(head, base)
            if existing is not None:  # created meanwhile (another run): report, not duplicate
                return existing
            raise ProdfixError(
                f"GitHub refused to open {head} → {base}: {_errors(self.api.http.json(resp))}",
                hint=f"check that {head} is pushed and has commits that {base} lacks",
            )
        return self.get_pr(PrNumber(self.api.http.json(resp)["number"]))

    def approve(self, number: PrNumber, body: str = "") -> PullRequest:
        payload: dict[str, str] = {"event": "APPROVE"}
        if body:
            payload["body"] = body
        resp = self.api.call(
            "POST", f"{self.api.repo_path}/pulls/{number}/reviews", json=payload, expect=(422,)
        )
        if resp.status_code == 422:
            raise ProdfixError(
                f"GitHub refused the approval of PR #{number}: {_errors(self.api.http.json(resp))}",
                hint="a pull request must be approved by someone other than its author",
            )
        return self.get_pr(number)

    def merge(
        self,
        number: PrNumber,
        *,
        method: MergeMethod,
        expected_head: Sha,
        message: str | None = None,
    ) -> PullRequest:
        payload: dict[str, str] = {"sha": expected_head, "merge_method": method.value}
        if message:
            title, _, rest = message.partition("\n")
            payload["commit_title"] = title
            if rest.strip():
                payload["commit_message"] = rest.strip()
        resp = self.api.call(
            "PUT",
            f"{self.api.repo_path}/pulls/{number}/merge",
            json=payload,
            expect=(405, 409, 422),
        )
        if resp.status_code == 200:
            return self.get_pr(number)
        pr = self.get_pr(number)
        if pr.state is PrState.MERGED:
            return pr  # merged by someone else meanwhile: the goal is reached
        if resp.status_code == 409 or pr.head_sha != expected_head:
            raise HeadMoved(number, expected_head, pr.head_sha)
        said = f"GitHub says: {_errors(self.api.http.json(resp))}"
        # GitHub's own 405 text is more precise than "blocked" when GraphQL could not tell why
        # (a required check that never reported, merge commits disabled on the repository).
        specific = [b for b in pr.blockers if b != gql.UNSPECIFIC]
        raise MergeBlocked(number, specific or [said])

    def close(self, number: PrNumber) -> PullRequest:
        self.api.call("PATCH", f"{self.api.repo_path}/pulls/{number}", json={"state": "closed"})
        return self.get_pr(number)

    def comment(self, number: PrNumber, body: str) -> None:
        self.api.call("POST", f"{self.api.repo_path}/issues/{number}/comments", json={"body": body})

    # -- helpers -----------------------------------------------------------------------------

    def _get_raw(self, number: PrNumber) -> dict[str, Any]:
        resp = self.api.call("GET", f"{self.api.repo_path}/pulls/{number}", expect=(404,))
        if resp.status_code == 404:
            raise ProdfixError(
                f"{self.remote.full_name} has no pull request #{number}",
                hint="list them with `prodfix pr list`",
            )
        raw: dict[str, Any] = self.api.http.json(resp)
        return raw

    def _approvals(self, number: PrNumber, *, author: str) -> tuple[Approval, ...]:
        latest: dict[str, dict[str, Any]] = {}
        for review in self.api.paginate(f"{self.api.repo_path}/pulls/{number}/reviews", {}):
            user = (review.get("user") or {}).get("login")
            if user and user != author and review.get("state") in _VERDICTS:
                latest[user] = review  # the API lists reviews oldest first
        return tuple(
            Approval(who, str(r.get("submitted_at") or ""))
            for who, r in latest.items()
            if r["state"] == "APPROVED"
        )

    def _blockers(self, raw: dict[str, Any]) -> tuple[str, ...]:
        base = str(raw["base"]["ref"])
        try:
            data = self.api.graphql(
                gql.QUERY,
                {"owner": self.remote.owner, "name": self.remote.name, "number": raw["number"]},
            )
        except ServiceError:
            data = {}  # fall back to what REST says; blockers are advice, not a gate
        facts = gql.parse(data)
        if facts is not None:
            return gql.blockers(facts, base=base)
        return _rest_blockers(raw, base)


def _rest_blockers(raw: dict[str, Any], base: str) -> tuple[str, ...]:
    state = str(raw.get("mergeable_state") or "unknown")
    if raw.get("draft"):
        return ("the pull request is a draft",)
    if raw.get("mergeable") is False or state == "dirty":
        return (f"merge conflicts with {base}",)
    if state == "blocked":
        return ("blocked by branch protection (reviews, checks or conversations)",)
    if state == "behind":
        return (f"branch is behind {base} (branch protection requires it up to date)",)
    return ()


def _to_pr(raw: dict[str, Any], *, approvals: tuple[Approval, ...] = ()) -> PullRequest:
    merged = raw.get("merged_at") is not None
    state = PrState.MERGED if merged else PrState(raw["state"])
    return PullRequest(
        number=PrNumber(raw["number"]),
        title=str(raw["title"]),
        head=BranchName(raw["head"]["ref"]),
        base=BranchName(raw["base"]["ref"]),
        head_sha=Sha(raw["head"]["sha"]),
        state=state,
        url=str(raw["html_url"]),
        body=str(raw.get("body") or ""),
        draft=bool(raw.get("draft")),
        # GitHub fills merge_commit_sha with a *test* merge while the PR is open: only a
        # merged PR's value names a commit on the base branch.
        merge_commit=Sha(raw["merge_commit_sha"])
        if merged and raw.get("merge_commit_sha")
        else None,
        approvals=approvals,
        mergeable=raw.get("mergeable"),
        labels=tuple(str(lb["name"]) for lb in raw.get("labels") or []),
        created_at=str(raw["created_at"]) if raw.get("created_at") else None,
        author=str((raw.get("user") or {}).get("login") or ""),
    )


def _errors(doc: Any) -> str:
    """GitHub's 4xx text: `message` plus the `errors[].message` details when present."""
    if not isinstance(doc, dict):
        return "no details"
    parts = [str(doc.get("message") or "")]
    for e in doc.get("errors") or []:
        if isinstance(e, dict) and e.get("message"):
            parts.append(str(e["message"]))
        elif isinstance(e, str):
            parts.append(e)
    return ": ".join(p for p in parts if p)[:300] or "no details"
