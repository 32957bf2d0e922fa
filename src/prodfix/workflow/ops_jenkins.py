"""`test --ci`: the fix branch in the Jenkins fix-job's to-be-built branches, and its build."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from prodfix import output
from prodfix.errors import ProdfixError
from prodfix.types import BranchName, Sha
from prodfix.workflow.ops import Op, register
from prodfix.workflow.ops_test import test_key

if TYPE_CHECKING:
    from prodfix.adapters.build.jenkins import JenkinsBuilder
    from prodfix.workflow.context import Ctx

IDENT = "jenkins_fix_branch"


def jenkins(ctx: Ctx) -> JenkinsBuilder:
    from prodfix.adapters.build.jenkins import JenkinsBuilder

    b = ctx.builder
    if not isinstance(b, JenkinsBuilder):
        raise ProdfixError(
            '`prodfix test --ci` needs [build] type = "jenkins"',
            hint="set [build] type, url and fix-job in .prodfix.toml, or run `prodfix test`",
        )
    return b


@register
@dataclass(frozen=True)
class AddJobBranch(Op):
    job: str
    branch: str

    def describe(self) -> str:
        return f"add {self.branch} to the to-be-built branches of Jenkins job {self.job}"

    def run(self, ctx: Ctx) -> Op | None:
        b = jenkins(ctx)
        edit = b.add_fix_branch(self.job, BranchName(self.branch))
        for w in edit.warnings:
            output.warn(w)
        if edit.needs_scan:
            b.scan_multibranch(self.job)
        if ctx.fix:
            ctx.store.set_ident(ctx.fix, ctx.path, IDENT, {"job": self.job, "branch": self.branch})
        return RemoveJobBranch(self.job, self.branch)


@register
@dataclass(frozen=True)
class RemoveJobBranch(Op):
    """Re-reads config.xml and removes only our entry: edits made meanwhile survive."""

    job: str
    branch: str

    def describe(self) -> str:
        return f"remove {self.branch} from the to-be-built branches of Jenkins job {self.job}"

    def run(self, ctx: Ctx) -> Op | None:
        b = jenkins(ctx)
        edit = b.remove_fix_branch(self.job, BranchName(self.branch))
        if edit.needs_scan:
            b.scan_multibranch(self.job)
        if ctx.fix:
            ctx.store.del_ident(ctx.fix, ctx.path, IDENT)
        return None


@register
@dataclass(frozen=True)
class RunCiBuild(Op):
    reversible: ClassVar[bool] = False
    job: str
    branch: str
    sha: str
    timeout: float = 3600

    def describe(self) -> str:
        return f"build {self.branch} ({self.sha[:7]}) on Jenkins job {self.job}"

    def run(self, ctx: Ctx) -> Op | None:
        b = jenkins(ctx)
        branch, sha = BranchName(self.branch), Sha(self.sha)
        build = b.find_branch_build(self.job, branch, sha) or b.trigger_branch_build(
            self.job, branch, sha
        )
        with output.waiting(f"Jenkins {self.job}: waiting for {self.branch}") as tick:
            build = b.wait(
                build,
                timeout=self.timeout,
                on_tick=lambda bl: tick(
                    f"Jenkins {self.job}: build {bl.number or ''} {bl.state.value}"
                ),
            )
        if not build.state.finished:
            raise ProdfixError(
                f"Jenkins build {build.url or build.id} still {build.state.value}",
                hint="`prodfix continue` waits again",
            )
        passed = build.state.value == "success" and (build.sha in (None, self.sha))
        result = {
            "result": "passed" if passed else "failed",
            "reason": "" if passed else f"Jenkins {build.url or build.id} {build.state.value}",
        }
        if build.sha and build.sha != self.sha:
            result["reason"] = f"Jenkins built {build.sha[:7]}, not {self.sha[:7]}"
        if ctx.fix:
            ctx.store.set_ident(ctx.fix, ctx.path, test_key(self.sha), result)
        ctx.vars["test"] = result
        if not passed and build.console_tail:
            output.info(build.console_tail)
        return None
