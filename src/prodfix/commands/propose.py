"""`prodfix propose [--draft]`: check, push, open the PR fix → its delivery branch."""

from __future__ import annotations

import webbrowser

from prodfix.app import App
from prodfix.commands.common import context, require_clean_state, require_remote
from prodfix.errors import Exit, ProdfixError
from prodfix.types import BranchName
from prodfix.workflow import gates
from prodfix.workflow.context import Ctx
from prodfix.workflow.discover import find_seed
from prodfix.workflow.interpreter import execute, refuse_if_suspended
from prodfix.workflow.steps import propose


def run(app: App, *, draft: bool, web: bool, dry_run: bool) -> int:
    ctx = context(app, dry_run=dry_run)
    require_clean_state(ctx)
    require_remote(ctx)
    branch, delivery = fix_of_current_branch(ctx)
    refuse_if_suspended(ctx)
    gates.refuse_proposal(ctx, branch=branch, delivery=delivery)
    facts = propose.gather(ctx, fix=str(ctx.fix), branch=branch, delivery=delivery, draft=draft)
    code = execute(ctx, "propose", propose.plan(facts))
    if code != Exit.OK or dry_run:
        return code
    if not facts.can_open:
        url = ctx.forge.compare_url(BranchName(delivery), BranchName(branch))
        if problem := ctx.forge.credentials_problem():
            ctx.out.warn(f"{problem[0]}; {problem[1]}")
        ctx.out.say(f"no credentials for {ctx.forge.name}: open the PR yourself: {url}")
        if web and url:
            webbrowser.open(url)
        return code
    url = ctx.vars.get("pr_url")
    if web and isinstance(url, str) and url.startswith("http"):
        webbrowser.open(url)
    ctx.out.say("next: get it reviewed, then `prodfix next --merge`")
    return code


def fix_of_current_branch(ctx: Ctx) -> tuple[BranchName, BranchName]:
    """(fix branch, its delivery branch) of the checked-out fix, after a fetch."""
    branch = ctx.repo.current_branch()
    name = ctx.cfg.fix_name(branch) if branch else None
    if branch is None or name is None:
        raise ProdfixError(
            f"the current branch ({branch or 'detached HEAD'}) is not a fix branch "
            f"({ctx.cfg.fix_branch_template})",
            hint="switch to your fix branch, or start one: `prodfix start NAME`",
        )
    ctx.fix = name
    seed = find_seed(ctx, name)
    delivery = seed.delivery if seed else None
    if delivery is None:
        raise ProdfixError(
            f"cannot tell which delivery branch {branch} is for",
            hint=f"start fixes with `prodfix start`, or name it: "
            f"git config branch.{branch}.prodfix-delivery <delivery branch>",
        )
    return BranchName(branch), BranchName(delivery)
