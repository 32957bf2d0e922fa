"""`prodfix test --ci` and the clean-up when the fix is done."""

from __future__ import annotations

from prodfix import output
from prodfix.errors import Exit, ProdfixError
from prodfix.workflow.context import Ctx
from prodfix.workflow.interpreter import execute
from prodfix.workflow.ops_jenkins import IDENT, AddJobBranch, RemoveJobBranch, RunCiBuild


def run_ci(ctx: Ctx, head: str) -> int:
    job, branch = ctx.cfg["build.fix-job"], ctx.repo.current_branch()
    if not job:
        raise ProdfixError(
            "no [build] fix-job configured", hint="set [build] fix-job in .prodfix.toml"
        )
    if not branch:
        raise ProdfixError("HEAD is detached", hint="switch to your fix branch")
    code = execute(ctx, "test --ci", [AddJobBranch(job, branch), RunCiBuild(job, branch, head)])
    if ctx.dry_run or code != Exit.OK:
        return code
    result = ctx.vars["test"]
    if result["result"] == "passed":
        output.say(f"Jenkins passed for {head[:7]}")
        return Exit.OK
    output.error(
        f"Jenkins failed for {head[:7]}: {result['reason']}",
        "fix it, commit, then `prodfix test --ci` again",
    )
    return Exit.FAILED


def cleanup(ctx: Ctx) -> None:
    """The fix is done: its branch leaves the fix-job's list (WORKFLOW.md: not forever)."""
    assert ctx.fix
    rec = ctx.store.idents(ctx.fix, ctx.path).get(IDENT)
    if rec:
        execute(ctx, "cleanup", [RemoveJobBranch(rec["job"], rec["branch"])])
