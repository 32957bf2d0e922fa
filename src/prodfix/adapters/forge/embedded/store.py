"""Pull-request records of the embedded forge, kept as refs inside the remote repository.

Layout on the remote (docs/concepts.md lists every prodfix ref):

    refs/prodfix/pulls/<N>/head  the PR's head commit, so its commits live on when the
                                 branch is deleted
    refs/prodfix/pulls/<N>/meta  a chain of metadata commits, each with one blob `pr.json`;
                                 the parent chain is the PR's history of state changes

Reading fetches those refs (and the remote's branches) into the clone in one `git fetch`, then
reads every `pr.json` with one `cat-file --batch`: objects must be local to read blobs anyway,
and the fetch is one round trip, like `ls-remote`. Local copies live under
`refs/prodfix/remotes/<remote>/pulls/`, beside the remote-tracking branches, so two remotes never
mix. Objects are built with plumbing only (`hash-object`, `mktree`, `commit-tree`): no work
tree, the user's index and HEAD are never touched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from prodfix.adapters import records
from prodfix.adapters.git import Repo
from prodfix.adapters.shacache import shared
from prodfix.errors import Exit, ProdfixError
from prodfix.types import Sha

PULLS = "refs/prodfix/pulls"
SCHEMA_VERSION = 1
_REF_RE = re.compile(r"^refs/prodfix/remotes/.+/pulls/(\d+)/(head|meta)$")


@dataclass(frozen=True)
class ApprovalRec:
    who: str
    when: str
    head_sha: str  # an approval counts only while the PR head is still this commit


@dataclass(frozen=True)
class CommentRec:
    who: str
    when: str
    body: str


@dataclass(frozen=True)
class PrRecord:
    """The contents of `pr.json` (format version 1)."""

    number: int
    title: str
    body: str
    head: str
    base: str
    head_sha: str
    state: str  # open | merged | closed
    draft: bool
    created_at: str
    updated_at: str
    approvals: tuple[ApprovalRec, ...] = ()
    comments: tuple[CommentRec, ...] = ()
    merge_commit: str | None = None
    merge_method: str | None = None  # merge | squash | rebase | None: landed outside the forge
    author: str = ""  # "Name <email>" of who opened it ("" in records older than the field)

    def to_json(self) -> str:
        doc: dict[str, Any] = {"version": SCHEMA_VERSION, **asdict(self)}
        return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str) -> PrRecord:
        try:
            doc = json.loads(text)
            version = doc.pop("version")
            if version != SCHEMA_VERSION:
                raise ProdfixError(
                    f"{where} has metadata format {version}; this prodfix reads {SCHEMA_VERSION}",
                    hint="upgrade prodfix (pip install -U prodfix)",
                )
            doc["approvals"] = tuple(ApprovalRec(**a) for a in doc.get("approvals", ()))
            doc["comments"] = tuple(CommentRec(**c) for c in doc.get("comments", ()))
            return cls(**doc)
        except (ValueError, KeyError, TypeError) as exc:
            raise ProdfixError(
                f"{where} holds unreadable pull-request metadata ({exc})",
                hint=f"inspect it with `git show {where}:pr.json`",
            ) from exc


@dataclass(frozen=True)
class Stored:
    """A record as read, with the ref values the next update must lease against."""

    record: PrRecord
    meta_sha: Sha
    head_ref_sha: Sha | None


@dataclass(frozen=True)
class Snapshot:
    prs: Mapping[int, Stored]
    branches: Mapping[str, Sha]  # short branch name on the remote → tip
    refs: Mapping[str, Sha] = field(default_factory=dict)  # every ref read, local heads too

    def next_number(self) -> int:
        return max(self.prs, default=0) + 1


@dataclass(frozen=True)
class PushOutcome:
    ok: bool
    rejected: Mapping[str, str] = field(default_factory=dict)  # ref → git's reason


def meta_ref(number: int) -> str:
    return f"{PULLS}/{number}/meta"


def head_ref(number: int) -> str:
    return f"{PULLS}/{number}/head"


class Store:
    def __init__(self, repo: Repo, remote: str) -> None:
        self.repo = repo
        self.remote = remote
        self._mirror = f"refs/prodfix/remotes/{remote}/pulls"
        self._tracking = f"refs/remotes/{remote}"
        self._last: Snapshot | None = None
        self.reused = False  # the last snapshot was read without a fetch of its own

    def cached(self) -> Snapshot:
        """For reads: the last snapshot this command took. One `status` over 20 fixes in a
        repository reads the remote once, not 20 times. After a push of ours the refs are read
        again, not fetched: the push left our copies as the remote has them."""
        if self._last is None:
            self._last = self._snapshot(again=False)
        return self._last

    def snapshot(self, *, again: bool = True) -> Snapshot:
        """Fetch, then read every PR of the remote: 3 git processes whatever the PR count.
        `again=False` is a write's first try: it reuses this command's last fetch (see
        records.fetch), and `reused` tells the write to try again on a fresh one when what
        it read turns out stale."""
        self._last = self._snapshot(again=again)
        return self._last

    def _snapshot(self, *, again: bool) -> Snapshot:
        # One fetch for branches, PRs and every other record prodfix keeps in the remote.
        self.reused = not records.fetch(self.repo, self.remote, again=again)
        # Local heads and all records too: the reconciler reads its facts from this same
        # for-each-ref.
        refs = self.repo.refs(
            records.mirror(self.remote), self._tracking, "refs/heads/", records.LOCAL
        )
        metas: dict[int, Sha] = {}
        heads: dict[int, Sha] = {}
        branches: dict[str, Sha] = {}
        for name, sha in refs.items():
            m = _REF_RE.match(name)
            if m:
                (metas if m.group(2) == "meta" else heads)[int(m.group(1))] = sha
            elif name.startswith(self._tracking + "/") and not name.endswith("/HEAD"):
                branches[name[len(self._tracking) + 1 :]] = sha
        texts = self._meta_texts(list(metas.values()))
        prs = {
            n: Stored(PrRecord.from_json(text, meta_ref(n)), sha, heads.get(n))
            for (n, sha), text in zip(metas.items(), texts, strict=True)
        }
        return Snapshot(prs=prs, branches=branches, refs=refs)

    def _meta_texts(self, shas: list[Sha]) -> list[str]:
        """pr.json of each metadata commit; a commit never changes, so what was read once is
        read from the cache after (a PR's update is a new commit)."""
        cache = shared(self.repo.path, "pr-meta")
        missing = [sha for sha in shas if cache.get(sha) is None]
        for sha, text in zip(
            missing, self._read_blobs([f"{sha}:pr.json" for sha in missing]), strict=True
        ):
            cache.put(sha, text)
        cache.save()
        return [str(cache.get(sha)) for sha in shas]

    def _read_blobs(self, specs: list[str]) -> list[str]:
        texts: list[str] = []
        for spec, blob in zip(specs, self.repo.read_blobs(specs), strict=True):
            if blob is None:
                raise ProdfixError(
                    f"{spec} is missing from the pull-request metadata",
                    hint="every metadata commit must hold pr.json; run the command again",
                    code=Exit.SERVICE,
                )
            texts.append(blob.decode("utf-8", "surrogateescape"))
        return texts

    def write_meta(
        self, record: PrRecord, parent: Sha | None, message: str, env: Mapping[str, str]
    ) -> Sha:
        """One metadata commit (tree: pr.json), chained to the previous one."""
        text = record.to_json()
        blob = self.repo.git("hash-object", "-w", "--stdin", input=text).stdout
        tree = self.repo.git("mktree", input=f"100644 blob {blob.strip()}\tpr.json\n").stdout
        args = ["commit-tree", tree.strip()]
        if parent:
            args += ["-p", parent]
        sha = Sha(self.repo.git(*args, input=message + "\n", env=env).stdout.strip())
        shared(self.repo.path, "pr-meta").put(sha, text)  # read back after our push: known
        return sha

    def push(self, updates: Mapping[str, tuple[str, str | None]]) -> PushOutcome:
        """Push ref → (new sha, expected old sha or None = must not exist), all or nothing.

        `--atomic` because a PR is several refs (meta, head, and the base branch on merge):
        a half-applied update would hand out one number twice or merge without recording it.
        """
        try:
            outcome = records.push(self.repo, self.remote, updates)
        finally:
            self._last = None  # whatever happened, the remote may have changed
        return PushOutcome(ok=outcome.ok, rejected=outcome.rejected)
