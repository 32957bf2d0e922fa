"""`prodfix pr list|show|approve|merge`: the same verbs on every forge."""

from __future__ import annotations

from prodfix.adapters.forge import PullRequest
from prodfix.cli import App
from prodfix.commands.common import context
from prodfix.errors import Exit
from prodfix.types import PrNumber
from prodfix.workflow.interpreter import execute
from prodfix.workflow.plans import (
    merge_program,
    require_merge_method,
    warn_if_no_merge_commits,
)


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
) -> int:
    ctx = context(app)
    forge = ctx.forge
    if verb == "list":
        prs = forge.list_prs(state="all" if all_ else "open")
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
    assert number is not None
    n = PrNumber(number)
    if verb == "show":
        pr = forge.get_pr(n)
        if as_json:
            ctx.out.emit_json(
                {
                    **_json(pr),
                    "head_sha": pr.head_sha,
                    "merge_commit": pr.merge_commit,
                    "approvals": [a.who for a in pr.approvals],
                    "blockers": list(pr.blockers),
                    "body": pr.body,
                }
            )
            return Exit.OK
        ctx.out.say(f"#{pr.number} {pr.title}  [{pr.state.value}]")
        ctx.out.say(f"  {pr.head} ({pr.head_sha[:7]}) → {pr.base}")
        ctx.out.say(f"  {pr.url}")
        if pr.approvals:
            ctx.out.say("  approved by " + ", ".join(f"{a.who} ({a.when})" for a in pr.approvals))
        if pr.merge_commit:
            ctx.out.say(f"  merged as {pr.merge_commit[:7]}")
        for b in pr.blockers:
            ctx.out.say(f"  blocked: {b}")
        if pr.body:
            ctx.out.say("")
            ctx.out.say(pr.body)
        return Exit.OK
    if verb == "approve":
        pr = forge.approve(n)
        ctx.out.say(f"approved PR #{pr.number}" + (f" (approvals: {len(pr.approvals)})"))
        return Exit.OK
    pr = forge.get_pr(n)
    is_backmerge = pr.head.startswith("backmerge/")
    require_merge_method(method, backmerge=is_backmerge)
    if is_backmerge:
        warn_if_no_merge_commits(ctx)
    from prodfix.workflow.ops_forge import MergePr

    chosen = method or "merge"
    program = (
        merge_program(int(pr.number), pr.head_sha, backmerge=True)
        if is_backmerge
        else [MergePr(int(pr.number), chosen, pr.head_sha)]
    )
    return execute(ctx, "pr merge", program)
