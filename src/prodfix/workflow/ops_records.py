"""Operations on the shared records in the remote: a fix's record, test results, the image
map. Each checks before it acts (a rerun after a kill -9 is harmless)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prodfix.adapters import records
from prodfix.errors import Exit, ProdfixError, ServiceError
from prodfix.types import BranchName, Sha
from prodfix.workflow.fixrecords import FIXES, SYNCS, TESTS, FixRecord, stamp, test_updates
from prodfix.workflow.ops import Op, register
from prodfix.workflow.ops_git import DeleteRemoteBranch, ResetRemoteBranch, branch_moved

if TYPE_CHECKING:
    from prodfix.workflow.context import Ctx


@register
@dataclass(frozen=True)
class PublishFix(Op):
    """Push the new fix branch and its record in one atomic push, both must-not-exist: of two
    people starting the same fix name, one wins and the other is told who has it."""

    name: str
    branch: BranchName
    delivery: BranchName
    base: Sha
    kind: str

    def describe(self) -> str:
        return f"publish fix {self.name!r}: push {self.branch} and its record"

    def run(self, ctx: Ctx) -> Op | None:
        repo, remote = ctx.repo, ctx.remote
        # What this command fetched will do: the push below requires the record not to exist
        existing = records.current(repo, remote, FIXES, self.name, again=False)
        if existing is not None:
            rec = FixRecord.from_record(existing)
            mine = rec is not None and (rec.branch, rec.base, rec.started_by) == (
                self.branch,
                self.base,
                records.who(repo),
            )
            if mine:  # published before an interruption
                return UnpublishFix(self.name, self.branch, self.base, existing.sha)
            raise _taken(ctx, self.name, rec)
        doc = FixRecord(
            name=self.name,
            delivery=BranchName(self.delivery),
            branch=BranchName(self.branch),
            base=Sha(self.base),
            kind=self.kind,
            started_by=records.who(repo),
            started_at=stamp(ctx.clock.now()),
        ).doc()
        commit = records.write(repo, doc, None, f"fix {self.name} started from {self.delivery}")
        updates: dict[str, tuple[str, str | None]] = {
            records.ref(FIXES, self.name): (commit, None),
            f"refs/heads/{self.branch}": (self.base, None),
        }
        if not records.push(repo, remote, updates).ok:
            taken = records.current(repo, remote, FIXES, self.name)  # who got there first
            raise _taken(ctx, self.name, FixRecord.from_record(taken) if taken else None)
        return UnpublishFix(self.name, self.branch, self.base, commit)


def _taken(ctx: Ctx, name: str, rec: FixRecord | None) -> ProdfixError:
    who = f" by {rec.started_by.split(' <')[0]} at {rec.started_at}" if rec else ""
    return ProdfixError(
        f"a fix named {name!r} already exists on {ctx.remote}{who}",
        hint=f"pick it up (`git switch {ctx.cfg.fix_branch(name)}` then `prodfix next {name}`), "
        "or choose another name",
        code=Exit.USAGE,
    )


@register
@dataclass(frozen=True)
class UnpublishFix(Op):
    """Undo of PublishFix: delete the record and the branch, if both are still as pushed."""

    name: str
    branch: BranchName
    base: Sha
    record_sha: Sha

    def describe(self) -> str:
        return f"withdraw fix {self.name!r} from the remote (if nobody built on it)"

    def run(self, ctx: Ctx) -> Op | None:
        repo, remote = ctx.repo, ctx.remote
        now = repo.ls_remote(remote, f"refs/heads/{self.branch}", records.ref(FIXES, self.name))
        updates: dict[str, tuple[str, str | None]] = {}
        branch_now = now.get(f"refs/heads/{self.branch}")
        if branch_now == self.base:
            updates[f"refs/heads/{self.branch}"] = ("", self.base)
        elif branch_now is not None:
            ctx.out.warn(f"{self.branch} has new commits on {remote}: leaving it and its record")
            return None
        record_now = now.get(records.ref(FIXES, self.name))
        if record_now == self.record_sha:
            updates[records.ref(FIXES, self.name)] = ("", self.record_sha)
        if updates and not records.push(repo, remote, updates).ok:
            ctx.out.warn(f"{remote} moved meanwhile: fix {self.name!r} left as it is")
        return None


@register
@dataclass(frozen=True)
class MarkFixDone(Op):
    """Every step of the fix finished: its record says when (it leaves `status`). A sync's
    record (kind SYNCS) is marked the same way."""

    name: str
    kind: str = FIXES

    def describe(self) -> str:
        what = "sync" if self.kind == SYNCS else "fix"
        return f"mark {what} {self.name!r} done"

    def run(self, ctx: Ctx) -> Op | None:
        when = stamp(ctx.clock.now())

        def change(doc: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
            if doc is None or doc.get("done_at"):
                return None
            return {**doc, "done_at": when}

        what = "sync" if self.kind == SYNCS else "fix"
        records.update(
            ctx.repo, ctx.remote, self.kind, self.name, change, f"{what} {self.name}: done"
        )
        return None


@register
@dataclass(frozen=True)
class PushProposal(Op):
    """Push the fix branch, this clone's test results of its commits and the proposed head in
    the fix's record, in one atomic push: every clone sees the head with its tests and its
    record, or none of them, and it costs one round trip to the remote, not three.

    The branch is leased on `expect`, the remote value planned on ('' = absent): never a force
    push. The record is leased on what was read and read again when someone else changed it.
    A test result someone else shared first is left as theirs.
    """

    fix: str
    branch: BranchName
    head: Sha
    expect: str
    tests: tuple[str, ...] = ()  # commits of the branch with a test result in this clone only

    def describe(self) -> str:
        tests = f", the test results of {_shorts(self.tests)}" if self.tests else ""
        return (
            f"push {self.branch} ({self.head[:7]}){tests} and the proposed head of fix "
            f"{self.fix!r}, in one push"
        )

    def run(self, ctx: Ctx) -> Op | None:
        repo, remote, ref = ctx.repo, ctx.remote, f"refs/heads/{self.branch}"
        inverse: Op | None = None  # head == expect: the remote has it already, nothing to undo
        if self.head != self.expect:
            inverse = (
                ResetRemoteBranch(self.branch, self.head, Sha(self.expect))
                if self.expect
                else DeleteRemoteBranch(self.branch, self.head)
            )
        tests = list(self.tests)
        for attempt in range(records.MAX_RETRIES):
            # the first look is this command's fetch: the leases catch what moved since
            fix = records.current(repo, remote, FIXES, self.fix, again=attempt > 0)
            updates = test_updates(repo, remote, tests)
            if self.expect != self.head:
                updates[ref] = (self.head, self.expect or None)
            if fix is not None and fix.doc.get("head") != self.head:
                doc = {**fix.doc, "head": self.head}
                new = records.write(repo, doc, fix.sha, f"fix {self.fix}: proposed")
                updates[records.ref(FIXES, self.fix)] = (new, fix.sha)
            if not updates or records.push(repo, remote, updates).ok:
                return inverse
            # A lost race: look at what moved. The branch anywhere but where we planned (or at
            # our head: git answers "up to date" for that) is someone else's work.
            now = repo.ls_remote(remote, ref, *(records.ref(TESTS, s) for s in tests))
            if now.get(ref, "") not in (self.expect, self.head):
                raise branch_moved(remote, self.branch, self.expect, now.get(ref, ""))
            tests = [s for s in tests if records.ref(TESTS, s) not in now]
        raise ServiceError(f"{remote} kept changing while prodfix was pushing {self.branch}")


def _shorts(shas: tuple[str, ...]) -> str:
    return ", ".join(s[:7] for s in shas)


@register
@dataclass(frozen=True)
class RecordImage(Op):
    """Remember which delivery commit an image tag was built from, in the service's remote
    (the build system may forget old builds). A tag never names two commits: refused."""

    tag: str
    sha: Sha

    def describe(self) -> str:
        return f"record image {self.tag} as built from {self.sha[:7]}"

    def run(self, ctx: Ctx) -> Op | None:
        target = records.ref("images", self.tag)
        now = ctx.repo.ls_remote(ctx.remote, target).get(target)
        if now == self.sha:
            return None
        if now is not None:
            raise ProdfixError(
                f"image tag {self.tag} is already recorded as built from {now[:7]}, not "
                f"{self.sha[:7]}: two builds share one tag",
                hint="make the build's tag unique per build (e.g. include the build number)",
                code=Exit.FAILED,
            )
        records.push(ctx.repo, ctx.remote, {target: (self.sha, None)})
        return None
