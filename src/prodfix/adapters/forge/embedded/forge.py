"""The embedded git forge (`forge.type = "git"`): pull requests kept inside the remote itself.

Not a mock: every clone that fetches sees the same PRs (store.py has the layout),
numbers are allocated with a must-not-exist lease, every update is a compare-and-swap on the
metadata ref, and a merge is computed with plumbing and pushed with a lease on the base
branch, atomically with the metadata. What it cannot see it observes: a PR whose changes
reached the base by another road (a hand merge, a hand squash, a base push whose metadata
push never happened) is reported merged on read and recorded so by the next update.

Reads never write: `--dry-run` and `status` call them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from prodfix.adapters import identity
from prodfix.adapters.forge import (
    HeadMoved,
    MergeBlocked,
    MergeMethod,
    PrState,
    PullRequest,
)
from prodfix.adapters.forge.embedded.merge import (
    BaseMoved,
    MergePlan,
    build_merge,
    default_message,
    find_landing,
)
from prodfix.adapters.forge.embedded.store import (
    ApprovalRec,
    CommentRec,
    PrRecord,
    Snapshot,
    Store,
    Stored,
    head_ref,
    meta_ref,
)
from prodfix.adapters.forge.embedded.view import Viewer, require_open
from prodfix.adapters.git import Repo
from prodfix.adapters.identity import commit_env, email_of
from prodfix.errors import Exit, ProdfixError, ServiceError
from prodfix.types import BranchName, PrNumber, Sha

__all__ = ["BaseMoved", "EmbeddedForge", "MergePlan", "find_landing"]

MAX_RETRIES = 20  # lost races before giving up: each loss means another writer progressed


class EmbeddedForge:
    def __init__(
        self,
        repo: Repo,
        *,
        remote: str = "origin",
        approvals_required: int = 1,
        identity: str | Callable[[], str] | None = None,  # "Name <email>"; default: git's
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.repo = repo
        self.remote = remote
        self.approvals_required = approvals_required
        self._identity = identity
        self._now = now or (lambda: datetime.now(UTC))
        self._store = Store(repo, remote)
        self._viewer = Viewer(repo, remote, repo.remote_url(remote) or remote, approvals_required)

    @property
    def name(self) -> str:
        return "embedded git forge"

    # -- reads ----------------------------------------------------------------------------
    def prime(self) -> dict[str, Sha]:
        """Fetch the branches and every PR now; later reads reuse it until a write. Returns
        every ref read (local heads, remote-tracking branches, PR refs) for the reconciler."""
        return dict(self._store.snapshot().refs)

    def get_pr(self, number: PrNumber) -> PullRequest:
        snap = self._store.cached()
        return self._viewer.view(self._stored(snap, number), snap)

    def list_prs(self, *, state: str = "open") -> list[PullRequest]:
        if state not in ("open", "all"):
            raise ProdfixError(f"unknown PR state filter {state!r}", hint="use open or all")
        snap = self._store.cached()
        views = [self._viewer.view(snap.prs[n], snap) for n in sorted(snap.prs)]
        return [v for v in views if state == "all" or v.state is PrState.OPEN]

    def merged_prs(self, base: BranchName, *, since: str | None = None) -> list[PullRequest]:
        """Every PR merged into `base` (the snapshot holds them all; `since` changes nothing)."""
        return [
            pr
            for pr in self.list_prs(state="all")
            if pr.state is PrState.MERGED and pr.base == base
        ]

    def find_pr(
        self, head: BranchName, base: BranchName, *, open_only: bool = True
    ) -> PullRequest | None:
        """The newest PR head → base (open ones only, unless open_only=False)."""
        return self._find(self._store.cached(), head, base, open_only=open_only)

    def compare_url(self, base: BranchName, head: BranchName) -> str | None:
        return None  # no web UI

    def has_credentials(self) -> bool:
        return True  # git's own access to the remote is all it needs

    def credentials_problem(self) -> tuple[str, str] | None:
        return None

    def backmerge_warnings(self) -> list[tuple[str, str]]:
        return []  # every merge method is available; prodfix always asks for a merge commit

    # -- writes ---------------------------------------------------------------------------
    def create_pr(
        self, head: BranchName, base: BranchName, title: str, body: str, *, draft: bool = False
    ) -> PullRequest:
        """Open PR head → base; an open PR with the same head and base is returned as is.

        Numbers come from a push that requires `pulls/<N>/meta` not to exist yet: of two
        clones creating at once, one wins N and the other retries with the next free number.
        """
        if head == base:
            raise ProdfixError(
                f"a pull request needs two branches, got {head} → {base}", code=Exit.USAGE
            )
        for attempt in range(MAX_RETRIES):
            snap = self._store.snapshot(again=attempt > 0)
            existing = self._find(snap, head, base, open_only=True)
            if existing is not None:
                return existing
            try:
                head_sha = self._tip(snap, head, "head")
                base_sha = self._tip(snap, base, "base")
                if self.repo.is_ancestor(head_sha, base_sha):
                    raise ProdfixError(
                        f"{head} has no commits that {base} lacks: nothing to propose",
                        hint=f"commit the fix on {head} and push it first",
                        code=Exit.FAILED,
                    )
            except ProdfixError:
                if self._store.reused:
                    continue  # judged on this command's earlier fetch: judge on a fresh one
                raise
            number = snap.next_number()
            now, who = self._stamp(), self._who()
            rec = PrRecord(
                number=number,
                title=title,
                body=body,
                head=head,
                base=base,
                head_sha=head_sha,
                state=PrState.OPEN.value,
                draft=draft,
                created_at=now,
                updated_at=now,
                author=who,
            )
            meta = self._store.write_meta(
                rec, None, f"PR #{number} opened by {who}", commit_env(who)
            )
            pushed = self._store.push(
                {meta_ref(number): (meta, None), head_ref(number): (head_sha, None)}
            )
            if pushed.ok:
                return self._viewer.view(Stored(rec, meta, head_sha), snap)
        raise ServiceError(f"could not allocate a PR number after {MAX_RETRIES} attempts")

    def approve(self, number: PrNumber, body: str = "") -> PullRequest:
        """Approve the PR's current head. Authors cannot approve their own PRs (as on GitHub):
        with one approval required, a self-approval would make the review gate mean nothing."""

        def apply(rec: PrRecord, now: str, who: str) -> PrRecord:
            require_open(rec, "approve")
            if rec.author and email_of(rec.author) == email_of(who):
                raise ProdfixError(
                    f"you opened PR #{rec.number}: authors cannot approve their own pull requests",
                    hint="ask a reviewer to approve it (`prodfix pr approve "
                    f"{rec.number}` in their clone)",
                    code=Exit.FAILED,
                )
            kept = tuple(
                a for a in rec.approvals if not (a.who == who and a.head_sha == rec.head_sha)
            )
            comments = rec.comments + ((CommentRec(who, now, body),) if body else ())
            return replace(
                rec, approvals=(*kept, ApprovalRec(who, now, rec.head_sha)), comments=comments
            )

        return self._update(number, "approved", apply)

    def close(self, number: PrNumber) -> PullRequest:
        def apply(rec: PrRecord, now: str, who: str) -> PrRecord:
            if rec.state == PrState.MERGED.value:
                raise ProdfixError(
                    f"PR #{number} is already merged; a merged PR cannot be closed",
                    hint="revert the merge commit with a new PR if the change must go",
                    code=Exit.FAILED,
                )
            return replace(rec, state=PrState.CLOSED.value)

        return self._update(number, "closed", apply)

    def comment(self, number: PrNumber, body: str) -> None:
        def apply(rec: PrRecord, now: str, who: str) -> PrRecord:
            return replace(rec, comments=(*rec.comments, CommentRec(who, now, body)))

        self._update(number, "commented", apply)

    def merge(
        self,
        number: PrNumber,
        *,
        method: MergeMethod,
        expected_head: Sha,
        message: str | None = None,
    ) -> PullRequest:
        """Merge with plumbing and one atomic push of base + metadata (+ head ref).

        The base is leased on the tip we merged onto: a concurrent push to it raises
        BaseMoved and is never overwritten. Metadata that moved meanwhile (a comment) is
        re-read and the merge planned again. An already merged PR is returned as is.
        """
        for attempt in range(MAX_RETRIES):
            try:
                plan = self.plan_merge(
                    number,
                    method=method,
                    expected_head=expected_head,
                    message=message,
                    again=attempt > 0,
                )
            except ProdfixError:  # HeadMoved, MergeBlocked…
                if attempt == 0 and self._store.reused:
                    continue  # judged on this command's earlier fetch: judge on a fresh one
                raise
            # planned on this command's earlier fetch: a base that moved since is planned
            # again on a fresh one, as a fresh plan would have seen it
            reused = attempt == 0 and self._store.reused
            if plan is None:
                return self.get_pr(number)
            try:
                outcome = self.execute_merge(plan)
            except BaseMoved:
                if reused:
                    continue
                raise
            if outcome is not None:
                return outcome
        raise ServiceError(f"PR #{number} kept changing while prodfix was merging it")

    def plan_merge(
        self,
        number: PrNumber,
        *,
        method: MergeMethod,
        expected_head: Sha,
        message: str | None = None,
        again: bool = True,
    ) -> MergePlan | None:
        """Check and build the merge; None when the PR is already merged. `again=False`
        plans on this command's last fetch (a first try: the push leases the base and the
        metadata on what it read)."""
        snap = self._store.snapshot(again=again)
        stored = self._stored(snap, number)
        rec = self._viewer.observe(stored, snap)
        if rec.state == PrState.MERGED.value:
            return None
        require_open(rec, "merge")
        if rec.head_sha != expected_head:
            raise HeadMoved(number, expected_head, rec.head_sha)
        base_sha = self._tip(snap, rec.base, "base")
        blockers = self._viewer.blockers(rec, base_sha, with_conflicts=False)
        if blockers:
            raise MergeBlocked(number, blockers)
        now, who = self._stamp(), self._who()
        msg = message or default_message(self.repo, rec, method, base_sha)
        base_new = build_merge(
            self.repo,
            number=number,
            method=method,
            base_sha=base_sha,
            head_sha=Sha(rec.head_sha),
            message=msg,
            env=commit_env(who),
        )
        done = replace(
            rec,
            state=PrState.MERGED.value,
            merge_commit=base_new,
            merge_method=method.value,
            updated_at=now,
        )
        meta = self._store.write_meta(
            done, stored.meta_sha, f"PR #{number} merged ({method.value}) by {who}", commit_env(who)
        )
        return MergePlan(
            number=number,
            base=rec.base,
            base_old=base_sha,
            base_new=base_new,
            head_sha=Sha(rec.head_sha),
            meta_old=stored.meta_sha,
            meta_new=meta,
            head_ref_old=stored.head_ref_sha,
        )

    def execute_merge(self, plan: MergePlan) -> PullRequest | None:
        """Push a plan; None when only the metadata moved (plan again)."""
        updates: dict[str, tuple[str, str | None]] = {
            f"refs/heads/{plan.base}": (plan.base_new, plan.base_old),
            meta_ref(plan.number): (plan.meta_new, plan.meta_old),
        }
        if plan.head_ref_old != plan.head_sha:
            updates[head_ref(plan.number)] = (plan.head_sha, plan.head_ref_old)
        pushed = self._store.push(updates)
        if pushed.ok:
            return self.get_pr(PrNumber(plan.number))
        if f"refs/heads/{plan.base}" in pushed.rejected:
            current = self.get_pr(PrNumber(plan.number))
            if current.state is PrState.MERGED:  # a concurrent merge of this very PR won
                return current
            raise BaseMoved(plan.number, plan.base)
        return None

    # -- internals ------------------------------------------------------------------------
    def _update(
        self, number: PrNumber, action: str, fn: Callable[[PrRecord, str, str], PrRecord]
    ) -> PullRequest:
        """Compare-and-swap on the meta ref: on a lost race re-read and re-apply fn."""
        for attempt in range(MAX_RETRIES):
            snap = self._store.snapshot(again=attempt > 0)
            try:
                stored = self._stored(snap, number)
                observed = self._viewer.observe(stored, snap)
                now, who = self._stamp(), self._who()
                new = fn(observed, now, who)
            except ProdfixError:
                if self._store.reused:
                    continue  # judged on this command's earlier fetch: judge on a fresh one
                raise
            if new == stored.record and stored.head_ref_sha == new.head_sha:
                return self._viewer.view(stored, snap)
            new = replace(new, updated_at=now)
            meta = self._store.write_meta(
                new, stored.meta_sha, f"PR #{number} {action} by {who}", commit_env(who)
            )
            updates: dict[str, tuple[str, str | None]] = {meta_ref(number): (meta, stored.meta_sha)}
            if stored.head_ref_sha != new.head_sha:  # keep the PR's commits alive
                updates[head_ref(number)] = (new.head_sha, stored.head_ref_sha)
            if self._store.push(updates).ok:
                return self._viewer.view(Stored(new, meta, Sha(new.head_sha)), snap)
        raise ServiceError(f"PR #{number} kept changing while prodfix was updating it")

    def _find(self, snap: Snapshot, head: str, base: str, *, open_only: bool) -> PullRequest | None:
        for n in sorted(snap.prs, reverse=True):  # newest first
            stored = snap.prs[n]
            if stored.record.head == head and stored.record.base == base:
                view = self._viewer.view(stored, snap)
                if not open_only or view.state is PrState.OPEN:
                    return view
        return None

    def _stored(self, snap: Snapshot, number: int) -> Stored:
        if number not in snap.prs:
            raise ProdfixError(
                f"there is no PR #{number} on {self.remote}",
                hint="list them with `prodfix pr list`",
                code=Exit.FAILED,
            )
        return snap.prs[number]

    def _tip(self, snap: Snapshot, branch: str, role: str) -> Sha:
        sha = snap.branches.get(branch)
        if sha is None:
            raise ProdfixError(
                f"the {role} branch {branch} is not on {self.remote}",
                hint=f"push it first: git push {self.remote} {branch}",
                code=Exit.USAGE,
            )
        return sha

    def _who(self) -> str:
        if isinstance(self._identity, str):
            return self._identity
        if self._identity is not None:
            return self._identity()
        name, email = identity.of(self.repo, "approvals and merges are recorded by name")
        return f"{name} <{email}>"

    def _stamp(self) -> str:
        return self._now().astimezone(UTC).isoformat(timespec="seconds")
