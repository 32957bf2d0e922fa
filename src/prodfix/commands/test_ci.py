"""`prodfix test --ci` and the clean-up when the fix is done.

Program: add the fix branch to `[build] fix-job` (inverse recorded: `undo`/`abort` remove it),
push the branch (Jenkins builds what the remote has), then find or trigger the build of HEAD,
wait, and record passed/failed against HEAD's SHA like a local `prodfix test`.
"""

from __future__ import annotations

from prodfix.errors import Exit, ProdfixError
from prodfix.types import BranchName, Sha
from prodfix.workflow.context import Ctx
from prodfix.workflow.interpreter import execute
from prodfix.workflow.ops import Op
from prodfix.workflow.ops_git import Push
from prodfix.workflow.ops_jenkins import AddJobBranch, RunCiBuild, jenkins


def run_ci(ctx: Ctx, head: str) -> int:
    job, branch = ctx.cfg.build.fix_job, ctx.repo.current_branch()
    if not branch:
        raise ProdfixError("HEAD is detached", hint="switch to your fix branch")
    if ctx.fix is None:
        # Only a fix branch's entry is removed again when the fix is done (by its name):
        # any other branch would stay in the to-be-built list forever.
        raise ProdfixError(
            f"{branch} is not a fix branch ({ctx.cfg.fix_branch_template}): its branch would "
            "stay in the Jenkins job",
            hint="start the fix with `prodfix start NAME`, or run `prodfix test` locally",
        )
    jenkins(ctx)  # refuses a non-Jenkins [build] before anything happens
    if not job:
        raise ProdfixError(
            "no [build] fix-job configured", hint="set [build] fix-job in .prodfix.toml"
        )
    if ctx.repo.is_dirty():
        ctx.out.warn("uncommitted changes are not pushed: Jenkins builds the committed HEAD only")
    program: list[Op] = [AddJobBranch(str(job), branch)]
    program += _push(ctx, branch, head)
    program.append(RunCiBuild(str(job), branch, head))
    code = execute(ctx, "test --ci", program)
    if ctx.dry_run or code != Exit.OK:
        return code
    result = ctx.vars["test"]
    if result["result"] == "passed":
        ctx.out.say(f"Jenkins passed for {head[:7]} ({result.get('build', '')})")
        return Exit.OK
    ctx.out.error(
        f"Jenkins failed for {head[:7]}: {result['reason']}",
        "fix it, commit, then `prodfix test --ci` again",
    )
    return Exit.FAILED


def _push(ctx: Ctx, branch: str, head: str) -> list[Op]:
    ref = f"refs/heads/{branch}"
    remote_now = ctx.repo.ls_remote(ctx.remote, ref).get(ref, "")
    if remote_now == head:
        return []
    if remote_now and not ctx.repo.is_ancestor(remote_now, head):
        raise ProdfixError(
            f"{ctx.remote}/{branch} has commits that your {branch} does not",
            hint=f"integrate them first: git pull --rebase {ctx.remote} {branch}",
        )
    return [Push(BranchName(branch), Sha(head), remote_now)]
