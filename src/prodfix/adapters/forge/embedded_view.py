"""What an embedded-forge PR is *now*: its stored record read against the remote's branches.

Observed facts win over the record (DESIGN.md): the head follows the branch, like a hosted
forge's PR, and a PR whose changes already reached its base is merged, whoever merged it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from prodfix.adapters.forge import Approval, PrState, PullRequest
from prodfix.adapters.forge.embedded_merge import conflicts_text, find_landing
from prodfix.adapters.forge.embedded_store import PrRecord, Snapshot, Stored
from prodfix.adapters.git import Repo
from prodfix.types import BranchName, PrNumber, Sha


@dataclass(frozen=True)
class Viewer:
    repo: Repo
    remote: str
    url: str  # the remote's URL, for PR links
    approvals_required: int

    def observe(self, stored: Stored, snap: Snapshot) -> PrRecord:
        """The record as the remote shows it now (merged and closed records are final)."""
        rec = stored.record
        if rec.state != PrState.OPEN.value:
            return rec
        # A deleted head branch leaves the PR on its head ref, which keeps the commits.
        head = snap.branches.get(rec.head) or stored.head_ref_sha or Sha(rec.head_sha)
        rec = replace(rec, head_sha=head)
        base = snap.branches.get(rec.base)
        landing = find_landing(self.repo, base, head) if base else None
        if landing is not None:  # merged by hand, or a merge push that lost its metadata push
            rec = replace(rec, state=PrState.MERGED.value, merge_commit=landing, merge_method=None)
        return rec

    def view(self, stored: Stored, snap: Snapshot) -> PullRequest:
        rec = self.observe(stored, snap)
        state = PrState(rec.state)
        # Only approvals of the current head count (a push after review needs a new review).
        valid = tuple(Approval(a.who, a.when) for a in rec.approvals if a.head_sha == rec.head_sha)
        if state is PrState.OPEN:
            blockers = tuple(self.blockers(rec, snap.branches.get(rec.base), with_conflicts=True))
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
        )

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
