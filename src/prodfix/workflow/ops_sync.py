"""Operations of a sync (the mainline merged into a delivery branch, through a PR): the marked
merge on its throwaway `sync/*` head, and the sync's record in the remote."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from prodfix.adapters import records
from prodfix.adapters.forge import PrState
from prodfix.errors import Exit, ProdfixError, RuleRefusal
from prodfix.types import BranchName, Sha
from prodfix.workflow.fixrecords import SYNCS, stamp
from prodfix.workflow.ops import Op, register
from prodfix.workflow.ops_merge import MergeForResolution

if TYPE_CHECKING:
    from prodfix.workflow.context import Ctx


@register
@dataclass(frozen=True)
class CreateSyncMerge(Op):
    """The sync head when the merge is clean, made without the work tree: `merge-tree
    --write-tree` and `commit-tree` (git-merge-tree(1)), then a new local branch on it. The
    user's checkout, index and files are never touched."""

    branch: BranchName
    onto: Sha  # the delivery tip the head is cut from
    mainline: BranchName
    mainline_sha: Sha
    message: str

    def describe(self) -> str:
        return (
            f"create {self.branch}: {self.mainline} ({self.mainline_sha[:7]}) merged into "
            f"{self.onto[:7]}"
        )

    def run(self, ctx: Ctx) -> Op | None:
        repo = ctx.repo
        ref = f"refs/heads/{self.branch}"
        current = repo.resolve(ref)
        if current is not None:
            parents = repo.out("rev-list", "--parents", "-n1", current).split()[1:]
            if parents == [self.onto, self.mainline_sha]:
                return None  # made before an interruption
            raise ProdfixError(
                f"branch {self.branch} already exists at {current[:7]}",
                hint=f"delete it (git branch -D {self.branch}), then run the command again",
            )
        merged = repo.merge_tree(self.onto, self.mainline_sha)
        if not merged.clean:
            raise ProdfixError(
                f"merging {self.mainline} into {self.onto[:7]} conflicts in: "
                f"{', '.join(merged.conflicts) or 'a path git does not name'}",
                hint="run `prodfix sync` again: it prepares the merge in your work tree to resolve",
                code=Exit.FAILED,
            )
        commit = repo.git(
            "commit-tree", merged.tree, "-p", self.onto, "-p", self.mainline_sha,
            input=self.message + "\n",
        ).stdout.strip()  # fmt: skip
        repo.git("update-ref", ref, commit, "")  # "" = the branch must not exist yet
        return None


@register
@dataclass(frozen=True)
class MergeSyncForResolution(MergeForResolution):
    """`git merge --no-ff <mainline>` on the checked-out sync head, stopping for the user on
    conflicts. The commit made on `continue` takes the op's message exactly, its
    `Prodfix-Sync:` trailer the last paragraph (git-interpret-trailers(1)): `git commit
    --no-edit` would keep the `# Conflicts:` lines git appends to a conflicted merge's message
    (the `whitespace` cleanup of a message not edited, git-commit(1) --cleanup)."""

    what: ClassVar[str] = "sync"

    def describe(self) -> str:
        return f"merge {self.delivery} ({self.delivery_sha[:7]}) into the sync branch"

    def commit(self, ctx: Ctx) -> None:
        ctx.repo.git("commit", "--quiet", "--cleanup=verbatim", "-F", "-", input=self.message)


@register
@dataclass(frozen=True)
class PublishSync(Op):
    """The sync's record in the remote (`refs/prodfix/syncs/<delivery>-<short sha>`): every
    clone's `status` shows the sync from it, after its head branch is gone too. A record of
    the same sync left by an abandoned attempt is taken up again. (A new sync head is pushed
    with its record by PushSync; this op records a head an earlier attempt pushed.)"""

    name: str
    branch: BranchName
    delivery: BranchName
    base: Sha  # the delivery tip the head was cut from
    mainline: BranchName
    mainline_sha: Sha
    reason: str

    def describe(self) -> str:
        return f"record the sync {self.branch} in the remote"

    def run(self, ctx: Ctx) -> Op | None:
        repo = ctx.repo
        head = repo.resolve(ctx.tracking(self.branch)) or repo.resolve(f"refs/heads/{self.branch}")
        who = records.who(repo)
        record_sha = self._ours(self._record(ctx, who, head), who)
        return (
            UnpublishSync(self.name, self.branch, self.delivery, record_sha) if record_sha else None
        )

    def _record(
        self,
        ctx: Ctx,
        who: str,
        head: Sha | None,
        also: Mapping[str, tuple[str, str | None]] | None = None,
    ) -> records.Record | None:
        """Write the record (or take up an abandoned one) with `also` in the same push."""
        doc = {
            "name": self.name,
            "delivery": self.delivery,
            "branch": self.branch,
            "base": self.base,
            "kind": "sync",
            "mainline": self.mainline,
            "mainline_sha": self.mainline_sha,
            "reason": self.reason,
            "started_by": who,
            "started_at": stamp(ctx.clock.now()),
            "head": head,
            "done_at": None,
        }

        def change(now: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
            if now is None:
                return doc
            if now.get("done_at"):
                return {**now, "done_at": None, "head": head}
            return None

        return records.update(
            ctx.repo, ctx.remote, SYNCS, self.name, change, f"sync {self.branch}", also=also
        )

    def _ours(self, rec: records.Record | None, who: str) -> Sha | None:
        """The record's commit when the record is this attempt's to withdraw: someone else's
        record of this very sync is not."""
        if rec is None or rec.doc.get("started_by") != who or rec.doc.get("base") != self.base:
            return None
        return rec.sha


@register
@dataclass(frozen=True)
class PushSync(PublishSync):
    """Push the sync head made by the ops before and the sync's record in one atomic push:
    every clone sees the head with its record or neither, in one round trip to the remote.
    The head must be new on the remote (a lease on its absence: never a force push); a push
    made before an interruption is found there and taken as done."""

    def describe(self) -> str:
        return f"push {self.branch} and record the sync in the remote, in one push"

    def run(self, ctx: Ctx) -> Op | None:
        ref = f"refs/heads/{self.branch}"
        head = ctx.repo.resolve(ref)
        if head is None:
            raise ProdfixError(
                f"no local branch {self.branch} to push", hint="run the command again"
            )
        # the branch's lease fails only when someone else's head is there: git answers "up to
        # date" for our own, pushed before an interruption
        who = records.who(ctx.repo)
        try:
            rec = self._record(ctx, who, head, also={ref: (head, None)})
        except records.OthersMoved:
            theirs = ctx.repo.ls_remote(ctx.remote, ref).get(ref, "")
            raise ProdfixError(
                f"another {self.branch} reached {ctx.remote} first (at {theirs[:7] or '?'}): "
                "the same sync, pushed from another clone",
                hint="`prodfix abort` drops this attempt: theirs is the sync to review and merge "
                "(`prodfix status` shows it)",
                code=Exit.SERVICE,
            ) from None
        record_sha = self._ours(rec, who)
        return UnpublishSync(self.name, self.branch, self.delivery, record_sha or Sha(""), head)


@register
@dataclass(frozen=True)
class UnpublishSync(Op):
    """Undo of PushSync and PublishSync — unless the sync is merged: prodfix never rewrites a
    delivery branch, so a merged sync is reverted by hand (then nothing of the undo has run).
    The sync head PushSync pushed and this attempt's record are deleted in one push, each only
    where it still is what the op left; a head someone pushed on is their work: refused."""

    name: str
    branch: BranchName
    delivery: BranchName
    record_sha: Sha  # "" = the record was someone else's: left alone
    head: str = ""  # the head PushSync pushed; "" (PublishSync): the head is left alone

    def describe(self) -> str:
        if self.head:
            return f"delete {self.branch} and withdraw its sync record (unless it is merged)"
        return f"withdraw the sync {self.branch} from the remote (unless it is merged)"

    def run(self, ctx: Ctx) -> Op | None:
        repo, remote = ctx.repo, ctx.remote
        records.fetch(repo, remote)
        pr = ctx.forge.find_pr(self.branch, self.delivery, open_only=False)
        landing = pr.merge_commit if pr is not None and pr.state is PrState.MERGED else None
        head = repo.resolve(ctx.tracking(self.branch))
        tip = repo.resolve(ctx.tracking(self.delivery))
        if landing is None and head and tip and repo.is_ancestor(head, tip):
            landing = head  # merged by hand
        if landing is not None:
            via = f" by PR #{pr.number}" if pr is not None and pr.merge_commit else ""
            raise RuleRefusal(
                f"{self.branch} is merged into {self.delivery}{via}: a merged sync cannot be "
                "undone by prodfix, which never rewrites a delivery branch",
                hint=f"revert it on {self.delivery} by hand, through a reviewed PR "
                f"(`git revert -m 1 <the merge commit>` on a branch from {self.delivery})",
            )
        ref, target = f"refs/heads/{self.branch}", records.ref(SYNCS, self.name)
        now = repo.ls_remote(remote, *([ref] if self.head else []), target)
        updates: dict[str, tuple[str, str | None]] = {}
        if self.record_sha and now.get(target) == self.record_sha:
            updates[target] = ("", self.record_sha)
        elif self.record_sha and target in now:
            ctx.out.warn(f"the record of {self.branch} changed since: left as it is")
        moved = bool(self.head) and now.get(ref) not in (None, self.head)
        if self.head and not moved and ref in now:
            updates[ref] = ("", self.head)
        if updates and not records.push(repo, remote, updates).ok:
            ctx.out.warn(f"{self.branch} or its record moved meanwhile: left as it is")
        if moved:
            raise ProdfixError(
                f"remote branch {self.branch} moved to {now[ref][:7]}: not deleting someone's work",
                hint=f"delete it by hand if it is really unused: git push {remote} --delete "
                f"{self.branch}",
            )
        return None
