"""What an embedded-forge PR is *now*: its stored record read against the remote's branches.

Observed facts win over the record (docs/concepts.md): the head follows the branch, like a hosted
forge's PR, and a PR whose changes already reached its base is merged, whoever merged it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from prodfix.adapters.forge import Approval, PrState, PullRequest
from prodfix.adapters.forge.embedded.merge import conflicts_text, find_landing
from prodfix.adapters.forge.embedded.store import PrRecord, Snapshot, Stored
from prodfix.adapters.git import Repo
from prodfix.adapters.shacache import shared
from prodfix.errors import Exit, ProdfixError
from prodfix.types import BranchName, PrNumber, Sha


@dataclass(frozen=True)
class Viewer:
    repo: Repo
    remote: str
    url: str  # the remote's URL, for PR links
    approvals_required: int
    # Per snapshot: which open-PR heads each base contains, and each open PR's conflicts —
    # computed for all PRs at once (one for-each-ref per base, one merge-tree --stdin) so a
    # `status` over many fixes costs a few git processes, not a few per PR.
    _batch: dict[int, _Batch] = field(default_factory=dict, compare=False)

    def _prepared(self, snap: Snapshot) -> _Batch:
        key = id(snap)
        if key not in self._batch:
            self._batch.clear()  # one snapshot at a time: they are replaced, never mixed
            self._batch[key] = self._prepare(snap)
        return self._batch[key]

    def _prepare(self, snap: Snapshot) -> _Batch:
        """Ancestry both ways and conflicts of every open PR against its base, from the SHA-pair
        cache, computing only what it lacks: one for-each-ref --merged and one --contains per
        base, one merge-tree --stdin for all."""
        cache = shared(self.repo.path, "pr-pairs")
        pairs: dict[int, tuple[str, Sha, Sha]] = {}
        for st in snap.prs.values():
            base = snap.branches.get(st.record.base)
            if st.record.state == PrState.OPEN.value and base is not None:
                pairs[st.record.number] = (st.record.base, base, self._head(st, snap))
        known = {n: cache.get(f"{b}:{h}") for n, (_, b, h) in pairs.items()}
        todo = {n: p for n, p in pairs.items() if known[n] is None}
        patterns = (f"refs/remotes/{self.remote}/", f"refs/prodfix/remotes/{self.remote}/pulls/")
        merged: dict[Sha, set[Sha]] = {}
        containing: dict[Sha, set[Sha]] = {}
        for base in {b for _, b, _ in todo.values()}:
            merged[base] = self.repo.merged_into(base, *patterns)
            containing[base] = self.repo.containing(base, *patterns)
        order = list(todo)
        results = self.repo.merge_tree_batch([(todo[n][1], todo[n][2]) for n in order])
        for n, mt in zip(order, results, strict=True):
            _, b, h = todo[n]
            conflicts = [] if mt.clean else list(mt.conflicts or ("(unknown paths)",))
            known[n] = {"a": h in merged[b], "c": h in containing[b], "x": conflicts}
            cache.put(f"{b}:{h}", known[n])
        cache.save()
        return _Batch(
            ancestor={n: bool(v["a"]) for n, v in known.items() if v},
            base_in_head={n: bool(v["c"]) for n, v in known.items() if v},
            conflicts={n: tuple(v["x"]) for n, v in known.items() if v},
        )

    def _conflicts(self, snap: Snapshot, rec: PrRecord, base: Sha) -> tuple[str, ...]:
        batch = self._prepared(snap)
        if rec.number in batch.conflicts:
            return batch.conflicts[rec.number]
        return self._one_conflict(base, rec.head_sha)

    def _one_conflict(self, base: Sha, head: str) -> tuple[str, ...]:
        mt = self.repo.merge_tree(base, head)
        return () if mt.clean else mt.conflicts or ("(unknown paths)",)

    @staticmethod
    def _head(stored: Stored, snap: Snapshot) -> Sha:
        # A deleted head branch leaves the PR on its head ref, which keeps the commits.
        rec = stored.record
        return snap.branches.get(rec.head) or stored.head_ref_sha or Sha(rec.head_sha)

    def observe(self, stored: Stored, snap: Snapshot) -> PrRecord:
        """The record as the remote shows it now (merged and closed records are final)."""
        rec = stored.record
        if rec.state != PrState.OPEN.value:
            return rec
        head = self._head(stored, snap)
        rec = replace(rec, head_sha=head)
        base = snap.branches.get(rec.base)
        landing = None
        if base:
            batch = self._prepared(snap)
            landing = find_landing(
                self.repo,
                base,
                head,
                base_sha=base,
                is_ancestor=batch.ancestor.get(rec.number),
                base_in_head=batch.base_in_head.get(rec.number),
            )
        if landing is not None:  # merged by hand, or a merge push that lost its metadata push
            rec = replace(rec, state=PrState.MERGED.value, merge_commit=landing, merge_method=None)
        return rec

    def view(self, stored: Stored, snap: Snapshot) -> PullRequest:
        rec = self.observe(stored, snap)
        state = PrState(rec.state)
        # Only approvals of the current head count (a push after review needs a new review).
        valid = tuple(Approval(a.who, a.when) for a in rec.approvals if a.head_sha == rec.head_sha)
        if state is PrState.OPEN:
            blockers = tuple(self._blockers_in(snap, rec))
        else:
            blockers = (f"PR is {state.value}",)
        return PullRequest(
            number=PrNumber(rec.number),
            title=rec.title,
            head=BranchName(rec.head),
            base=BranchName(rec.base),
            head_sha=Sha(rec.head_sha),
            state=state,
            url=f"git-pr://{self.url}#{rec.number}",
            body=rec.body,
            draft=rec.draft,
            merge_commit=Sha(rec.merge_commit) if rec.merge_commit else None,
            approvals=valid,
            mergeable=state is PrState.OPEN and not blockers,
            blockers=blockers,
            created_at=rec.created_at,
            author=rec.author,
        )

    def _blockers_in(self, snap: Snapshot, rec: PrRecord) -> list[str]:
        base = snap.branches.get(rec.base)
        reasons = self.blockers(rec, base, with_conflicts=False)
        if base is not None and (paths := self._conflicts(snap, rec, base)):
            reasons.append(conflicts_text(paths))
        return reasons

    def blockers(self, rec: PrRecord, base: Sha | None, *, with_conflicts: bool) -> list[str]:
        """Why it cannot merge now. A merge skips the conflict probe: building the merge runs
        the same merge-tree and reports conflicts the same way."""
        reasons: list[str] = []
        if rec.draft:
            reasons.append("draft")
        have = sum(1 for a in rec.approvals if a.head_sha == rec.head_sha)
        missing = self.approvals_required - have
        if missing > 0:
            reasons.append(f"needs {missing} approval{'s' if missing != 1 else ''}")
        if base is None:
            reasons.append(f"base branch {rec.base} is not on {self.remote}")
        elif with_conflicts:
            merged = self.repo.merge_tree(base, rec.head_sha)
            if not merged.clean:
                reasons.append(conflicts_text(merged.conflicts))
        return reasons


@dataclass
class _Batch:
    ancestor: dict[int, bool]  # PR number → its head is in its base already
    base_in_head: dict[int, bool]  # PR number → the base has not moved since the branch point
    conflicts: dict[int, tuple[str, ...]]  # PR number → conflicting paths (empty: clean)


def require_open(rec: PrRecord, verb: str) -> None:
    """Only an open PR is approved, commented on, updated or merged."""
    if rec.state != PrState.OPEN.value:
        raise ProdfixError(
            f"cannot {verb} PR #{rec.number}: it is {rec.state}",
            hint="open a new pull request for further changes",
            code=Exit.FAILED,
        )
