"""Operations on git refs and on the fix record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from prodfix.errors import Exit, ProdfixError
from prodfix.types import BranchName, Sha
from prodfix.workflow.ops import Op, register

if TYPE_CHECKING:
    from prodfix.workflow.context import Ctx


@register
@dataclass(frozen=True)
class CreateBranch(Op):
    branch: BranchName
    at: Sha  # full SHA: the remote delivery tip, never a stale local branch

    def describe(self) -> str:
        return f"create branch {self.branch} at {self.at[:7]}"

    def run(self, ctx: Ctx) -> Op | None:
        current = ctx.repo.resolve(f"refs/heads/{self.branch}")
        if current == self.at:
            return None  # done before an interruption
        if current is not None:
            raise ProdfixError(
                f"branch {self.branch} already exists at {current[:7]}",
                hint=f"pick another name, or delete it: git branch -D {self.branch}",
            )
        # --no-track: the fix branch must not track delivery, or `git push` would push into it.
        ctx.repo.git("branch", "--no-track", self.branch, self.at)
        return None


@register
@dataclass(frozen=True)
class Switch(Op):
    branch: BranchName

    def describe(self) -> str:
        return f"switch to {self.branch}"

    def run(self, ctx: Ctx) -> Op | None:
        if ctx.repo.current_branch() == self.branch:
            return None
        # `git switch` carries uncommitted changes over, and refuses when they would be lost.
        r = ctx.repo.git("switch", "--quiet", self.branch, check=False)
        if r.returncode != 0:
            raise ProdfixError(
                f"cannot switch to {self.branch}: {r.stderr.strip().splitlines()[-1]}",
                hint="commit or stash your changes, then run `prodfix continue`",
            )
        return None


@register
@dataclass(frozen=True)
class SetBranchConfig(Op):
    """Remember the fix branch's delivery branch in the clone itself (`check` reads it too)."""

    branch: BranchName
    key: str
    value: str

    def describe(self) -> str:
        return f"record branch.{self.branch}.{self.key} = {self.value}"

    def run(self, ctx: Ctx) -> Op | None:
        ctx.repo.git("config", f"branch.{self.branch}.{self.key}", self.value)
        return UnsetBranchConfig(self.branch, self.key)


@register
@dataclass(frozen=True)
class UnsetBranchConfig(Op):
    branch: BranchName
    key: str

    def describe(self) -> str:
        return f"forget branch.{self.branch}.{self.key}"

    def run(self, ctx: Ctx) -> Op | None:
        ctx.repo.git("config", "--unset", f"branch.{self.branch}.{self.key}", ok_codes=(0, 5))
        return None


@register
@dataclass(frozen=True)
class RecordFix(Op):
    fix: str
    role: str
    kind: str
    delivery: str | None
    branch: BranchName | None
    base_sha: str | None

    def describe(self) -> str:
        return f"record fix {self.fix!r} ({self.role}) for {self.branch or 'this repository'}"

    def run(self, ctx: Ctx) -> Op | None:
        ctx.store.add_repo(
            self.fix,
            ctx.path,
            role=self.role,
            kind=self.kind,
            delivery=self.delivery,
            branch=self.branch,
            base_sha=self.base_sha,
        )
        return ForgetFix(self.fix)


@register
@dataclass(frozen=True)
class ForgetFix(Op):
    fix: str

    def describe(self) -> str:
        return f"forget fix {self.fix!r} in this repository"

    def run(self, ctx: Ctx) -> Op | None:
        ctx.store.remove_repo(self.fix, ctx.path)
        return None


@register
@dataclass(frozen=True)
class Push(Op):
    """Push a branch with a lease: `expect` is the remote value we planned on ('' = absent).

    Never a force push: when the lease fails someone else pushed, and the command re-plans.
    """

    branch: BranchName
    sha: Sha  # "" = the local branch's tip when the op runs (made by an earlier op)
    expect: str

    def describe(self) -> str:
        return f"push {self.branch}" + (f" ({self.sha[:7]})" if self.sha else "") + " to the remote"

    def run(self, ctx: Ctx) -> Op | None:
        ref = f"refs/heads/{self.branch}"
        sha = self.sha or ctx.repo.resolve(ref)
        if not sha:
            raise ProdfixError(
                f"no local branch {self.branch} to push", hint="run the command again"
            )
        inverse: Op | None = None  # sha == expect: the remote has it already, nothing to undo
        if sha != self.expect:
            inverse = (
                ResetRemoteBranch(self.branch, sha, Sha(self.expect))
                if self.expect
                else DeleteRemoteBranch(self.branch, sha)
            )
        # Push first, look after: a push the remote already has answers "up to date", and a
        # refused one is told apart by what the remote holds (our own push, made before an
        # interruption, or someone else's).
        r = ctx.repo.push(ctx.remote, f"{sha}:{ref}", leases={ref: self.expect or None})
        if r.returncode != 0:
            now = ctx.repo.ls_remote(ctx.remote, ref).get(ref, "")
            if now == sha:
                return inverse
            raise branch_moved(ctx.remote, self.branch, self.expect, now)
        ctx.repo.git("update-ref", f"refs/remotes/{ctx.remote}/{self.branch}", sha)
        return inverse


def branch_moved(remote: str, branch: str, expect: str, now: str) -> ProdfixError:
    """A push whose lease failed: the branch is not where the plan read it (someone pushed)."""
    return ProdfixError(
        f"the remote refused the push of {branch}: it moved since prodfix read it "
        f"(expected {expect[:7] or 'no branch'}, found {now[:7] or 'none'})",
        hint=f"someone else pushed to {branch}: bring their commits into yours "
        f"(git pull --rebase {remote} {branch}), then run the command again — "
        "prodfix never overwrites a push",
        code=Exit.SERVICE,
    )


@register
@dataclass(frozen=True)
class DeleteRemoteBranch(Op):
    branch: BranchName
    sha: Sha  # only if it still points here: never delete work someone pushed on top

    def describe(self) -> str:
        return f"delete remote branch {self.branch} (if still at {self.sha[:7]})"

    def run(self, ctx: Ctx) -> Op | None:
        ref = f"refs/heads/{self.branch}"
        now = ctx.repo.ls_remote(ctx.remote, ref).get(ref)
        if now is None:
            return None
        if now != self.sha:
            raise ProdfixError(
                f"remote branch {self.branch} moved to {now[:7]}: not deleting someone's work",
                hint=f"delete it by hand if it is really unused: git push {ctx.remote} --delete {self.branch}",
            )
        ctx.repo.push(ctx.remote, f":{ref}", leases={ref: self.sha})
        ctx.repo.git("update-ref", "-d", f"refs/remotes/{ctx.remote}/{self.branch}", check=False)
        return None


@register
@dataclass(frozen=True)
class ResetRemoteBranch(Op):
    """Undo of a push onto an existing fix branch: put it back where it was, if nobody pushed
    since. Never master or a delivery branch (prodfix never rewrites them)."""

    branch: BranchName
    sha: Sha  # where our push left it
    to: Sha  # where it was before

    def describe(self) -> str:
        return f"reset remote branch {self.branch} to {self.to[:7]} (if still at {self.sha[:7]})"

    def run(self, ctx: Ctx) -> Op | None:
        if ctx.cfg.is_protected(self.branch):
            ctx.out.warn(f"not rewriting {self.branch}: prodfix never rewrites master or delivery")
            return None
        ref = f"refs/heads/{self.branch}"
        now = ctx.repo.ls_remote(ctx.remote, ref).get(ref)
        if now == self.to:
            return None
        if now != self.sha:
            ctx.out.warn(f"remote {self.branch} moved to {(now or 'nothing')[:7]}: leaving it")
            return None
        r = ctx.repo.push(ctx.remote, f"{self.to}:{ref}", leases={ref: self.sha})
        if r.returncode != 0:
            raise ProdfixError(
                f"cannot reset remote branch {self.branch}: {r.stderr.strip()}",
                hint="run `prodfix undo` again; this is safe to retry",
                code=Exit.SERVICE,
            )
        ctx.repo.git("update-ref", f"refs/remotes/{ctx.remote}/{self.branch}", self.to)
        return None
