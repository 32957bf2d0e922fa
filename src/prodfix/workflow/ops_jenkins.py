"""`test --ci`: the fix branch in the Jenkins fix-job's to-be-built branches, and its build."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from prodfix.adapters.build import Build, BuildState
from prodfix.errors import ProdfixError
from prodfix.types import BranchName, Sha
from prodfix.workflow.ops import Op, register
from prodfix.workflow.ops_test import record_result

if TYPE_CHECKING:
    from prodfix.adapters.build.jenkins import JenkinsBuilder
    from prodfix.workflow.context import Ctx

IDENT = "jenkins_fix_branch"
# A Git branch-list job builds the oldest unbuilt head among all its branches, then schedules
# catch-up builds (the git plugin's DefaultBuildChooser and GitSCM, jenkinsci/git-plugin): a
# few builds of other branches may come first.
MAX_BUILDS = 5


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
        want = {"job": self.job, "branch": self.branch}
        ours = bool(ctx.fix) and ctx.store.idents(ctx.fix or "", ctx.path).get(IDENT) == want
        if ctx.fix and not ours:
            # Remembered before the POST: if prodfix dies between the POST and the journal, the
            # re-run finds the entry present and still knows it is ours to remove.
            ctx.store.set_ident(ctx.fix, ctx.path, IDENT, want)
        edit = b.add_fix_branch(self.job, BranchName(self.branch))
        for w in edit.warnings:
            ctx.out.warn(f"Jenkins job {self.job}: {w}")
        if not edit.changed and not ours:
            # Someone else listed it (or a pattern matches it): not ours to remove later.
            if ctx.fix:
                ctx.store.del_ident(ctx.fix, ctx.path, IDENT)
            return None
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
        if edit.needs_scan:  # the scan lets Jenkins drop the branch job (orphaned item strategy)
            b.scan_multibranch(self.job)
        if ctx.fix:
            ctx.store.del_ident(ctx.fix, ctx.path, IDENT)
        return None  # a clean-up is not worth re-doing: `undo` of it leaves the job clean


@register
@dataclass(frozen=True)
class RunCiBuild(Op):
    """Find or trigger the build of `sha` on the fix-job, wait, record passed/failed for `sha`.

    Idempotent: after a kill -9, `continue` finds the build it triggered instead of queueing
    another. A failing build is a result (recorded, exit 1), not a suspension.
    """

    reversible: ClassVar[bool] = False
    job: str
    branch: str
    sha: str

    def describe(self) -> str:
        return f"build {self.branch} ({self.sha[:7]}) on Jenkins job {self.job}"

    def run(self, ctx: Ctx) -> Op | None:
        b = jenkins(ctx)
        branch, sha = BranchName(self.branch), Sha(self.sha)
        _ensure_branch_job(b, self.job, branch)
        build: Build | None = None
        for _ in range(MAX_BUILDS):
            build = b.find_branch_build(self.job, branch, sha) or b.trigger_branch_build(
                self.job, branch, sha
            )
            with ctx.out.waiting(f"Jenkins: waiting for {build.url or build.id}") as tick:
                build = b.wait(
                    build, on_tick=lambda x: tick(f"Jenkins: {_label(x)} is {x.state.value}")
                )
            if not build.state.finished:
                raise ProdfixError(
                    f"Jenkins build {build.url or build.id} is still {build.state.value} "
                    f"after {b.waiter.timeout:.0f}s",
                    hint="`prodfix continue` waits for the same build again",
                )
            if build.sha == sha or build.state is BuildState.ABORTED:
                break
            ctx.out.info(f"Jenkins job {self.job} built {(build.sha or '?')[:7]}, not ours: again")
        assert build is not None
        result = _result(build, sha)
        # The branch is on the remote (Jenkins built it): the result is shared at once.
        record_result(ctx, self.sha, {**result}, share=True, where="jenkins")
        ctx.vars["test"] = result
        if result["result"] == "failed" and build.console_tail:
            ctx.out.info(f"--- console of {build.url} (last lines) ---\n{build.console_tail}")
        return None


def _ensure_branch_job(b: JenkinsBuilder, job: str, branch: BranchName) -> None:
    """A multibranch project learns of a new branch only by a scan; REST config uploads do not
    start one (cloudbees-folder plugin: only the web form's save rescans,
    ComputedFolder.doConfigSubmit). Scanned here, after the push, so the scan sees the branch."""
    path = b.client.job_path(job)
    info = b.client.json(path, tree="_class,jobs[name]")
    multibranch = "MultiBranch" in str(info.get("_class", "")) or "jobs" in info
    if multibranch and b.client.branch_job(path, branch) is None:
        b.scan_multibranch(job)


def _result(build: Build, sha: Sha) -> dict[str, str]:
    where = build.url or build.id
    if build.sha != sha:
        return {
            "result": "failed",
            "reason": f"Jenkins built {(build.sha or '?')[:7]}, not {sha[:7]} ({where})",
        }
    if build.state is BuildState.SUCCESS:
        return {"result": "passed", "reason": "", "build": where}
    return {"result": "failed", "reason": f"Jenkins build {where} {build.state.value}"}


def _label(build: Build) -> str:
    return f"#{build.number}" if build.number else "queued build"
