"""`prodfix pr list|show|approve|merge`: the same verbs on every forge.

`approve` and `merge` change state, so they run as programs (journal, `--dry-run`) and check
their preconditions first: an unapproved or conflicting PR is refused before anything runs,
leaving nothing to continue or abort."""

from __future__ import annotations

from prodfix.adapters.forge import MergeBlocked, PrState, PullRequest
from prodfix.app import App
from prodfix.commands.common import context
from prodfix.errors import Exit, ProdfixError
from prodfix.types import PrNumber
from prodfix.workflow.context import Ctx
from prodfix.workflow.fixrecords import SYNC_PREFIX
from prodfix.workflow.interpreter import execute
from prodfix.workflow.ops import Op
from prodfix.workflow.ops_forge import ApprovePr
from prodfix.workflow.steps.backmerge import warn_settings
from prodfix.workflow.steps.merge import merge_program, require_merge_method


def _json(pr: PullRequest) -> dict[str, object]:
    return {
        "number": int(pr.number),
        "title": pr.title,
        "head": pr.head,
        "base": pr.base,
        "state": pr.state.value,
        "url": pr.url,
    }


def run(
    app: App,
    *,
    verb: str,
    number: int | None = None,
    as_json: bool = False,
    all_: bool = False,
    method: str | None = None,
    dry_run: bool = False,
) -> int:
    ctx = context(app, dry_run=dry_run)
    if verb == "list":
        return _list(ctx, all_=all_, as_json=as_json)
    assert number is not None
    pr = ctx.forge.get_pr(PrNumber(number))
    if verb == "show":
        return _show(ctx, pr, as_json=as_json)
    if verb == "approve":
        return execute(ctx, "pr approve", plan_approve(pr))
    return execute(ctx, "pr merge", plan_merge(ctx, pr, method))


def plan_approve(pr: PullRequest) -> list[Op]:
    if pr.state is not PrState.OPEN:
        raise ProdfixError(
            f"cannot approve PR #{pr.number}: it is {pr.state.value}",
            hint="open a new pull request for further changes",
            code=Exit.FAILED,
        )
    return [ApprovePr(int(pr.number), pr.head_sha)]


def plan_merge(ctx: Ctx, pr: PullRequest, method: str | None) -> list[Op]:
    """Preconditions first (exit 1, no run state): open, approved, no conflicts."""
    backmerge = pr.head.startswith("backmerge/")
    sync = pr.head.startswith(SYNC_PREFIX) and ctx.cfg.is_delivery(pr.base)
    chosen = require_merge_method(method, backmerge=backmerge, sync=sync)
    if pr.state is PrState.MERGED:
        return []
    if pr.state is not PrState.OPEN:
        raise ProdfixError(
            f"cannot merge PR #{pr.number}: it is {pr.state.value}",
            hint="reopen it, or open a new pull request",
            code=Exit.FAILED,
        )
    if pr.blockers:
        raise MergeBlocked(int(pr.number), list(pr.blockers))
    if backmerge:
        warn_settings(ctx)
    return merge_program(int(pr.number), pr.head_sha, backmerge=backmerge, method=chosen)


def _list(ctx: Ctx, *, all_: bool, as_json: bool) -> int:
    prs = ctx.forge.list_prs(state="all" if all_ else "open")
    if as_json:
        ctx.out.emit_json([_json(p) for p in prs])
        return Exit.OK
    if not prs:
        ctx.out.say("no open pull requests" if not all_ else "no pull requests")
        return Exit.OK
    ctx.out.table(
        "",
        ["#", "state", "head → base", "title"],
        [[str(p.number), p.state.value, f"{p.head} → {p.base}", p.title] for p in prs],
    )
    return Exit.OK


def _show(ctx: Ctx, pr: PullRequest, *, as_json: bool) -> int:
    out = ctx.out
    if as_json:
        out.emit_json(
            {
                **_json(pr),
                "head_sha": pr.head_sha,
                "merge_commit": pr.merge_commit,
                "author": pr.author,
                "approvals": [a.who for a in pr.approvals],
                "blockers": list(pr.blockers),
                "body": pr.body,
            }
        )
        return Exit.OK
    out.say(f"#{pr.number} {pr.title}  [{pr.state.value}]")
    out.say(
        f"  {pr.head} ({pr.head_sha[:7]}) → {pr.base}" + (f", by {pr.author}" if pr.author else "")
    )
    out.say(f"  {pr.url}")
    if pr.approvals:
        out.say("  approved by " + ", ".join(f"{a.who} ({a.when})" for a in pr.approvals))
    if pr.merge_commit:
        out.say(f"  merged as {pr.merge_commit[:7]}")
    for b in pr.blockers:
        out.say(f"  blocked: {b}")
    if pr.body:
        out.say("")
        out.say(pr.body)
    return Exit.OK
