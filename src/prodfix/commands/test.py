"""`prodfix test [--ci]`: run the tests and record the result for HEAD."""

from __future__ import annotations

from prodfix.app import App
from prodfix.commands.common import context, require_clean_state
from prodfix.errors import Exit
from prodfix.workflow.fixrecords import SYNC_PREFIX
from prodfix.workflow.interpreter import execute
from prodfix.workflow.ops import Op
from prodfix.workflow.ops_test import RunTests, SkipTests


def run(app: App, *, ci: bool, dry_run: bool, skip: str | None = None) -> int:
    ctx = context(app, dry_run=dry_run)
    require_clean_state(ctx)
    branch = ctx.repo.current_branch()
    ctx.fix = ctx.cfg.fix_name(branch) if branch else None
    if branch and branch.startswith(SYNC_PREFIX):
        ctx.fix = branch  # a sync's head is tested like a fix (and leaves the fix job like one)
    head = ctx.repo.head()
    # Already on the remote: the result is shared at once (else `propose` shares it).
    share = bool(branch) and ctx.repo.resolve(ctx.tracking(str(branch))) is not None
    if ci:
        from prodfix.commands.test_ci import run_ci

        return run_ci(ctx, head)
    dirty = ctx.repo.is_dirty()
    program: list[Op]
    if skip:
        program = [SkipTests(head, skip, share)]
    else:
        program = [RunTests(ctx.cfg.test_command, head, record=not dirty, share=share)]
    code = execute(ctx, "test", program)
    if dry_run or code != Exit.OK:
        return code
    if skip:
        ctx.out.say(f"tests of {head[:7]} recorded as skipped: {skip}")
        return Exit.OK
    result = ctx.vars["test"]
    if dirty:
        ctx.out.warn(
            "you have uncommitted changes: the tests ran on them, so the result is not "
            "recorded for HEAD — commit, then run `prodfix test` again"
        )
    if result["result"] == "passed":
        ctx.out.say(f"tests passed for {head[:7]}")
        return Exit.OK
    ctx.out.error(
        f"tests failed for {head[:7]}: {result['reason']}",
        "fix them and commit, then run `prodfix test` again",
    )
    return Exit.FAILED
