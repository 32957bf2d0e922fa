"""`prodfix backmerge [--from BRANCH] [--dry-run] [--json] [--no-fetch]`: delivery → master,
predicted first."""

from __future__ import annotations

from prodfix.adapters import records
from prodfix.app import App
from prodfix.commands.common import context, require_remote
from prodfix.errors import Exit, ProdfixError
from prodfix.workflow.context import Ctx
from prodfix.workflow.interpreter import execute, refuse_if_suspended
from prodfix.workflow.steps import backmerge


def run(app: App, *, from_: str | None, dry_run: bool, as_json: bool, fetch: bool = True) -> int:
    if as_json and not dry_run:
        raise ProdfixError("--json goes with --dry-run", hint="prodfix backmerge --dry-run --json")
    ctx = context(app, dry_run=dry_run)
    require_remote(ctx)
    refuse_if_suspended(ctx)
    if fetch:
        records.fetch(ctx.repo, ctx.remote)
    delivery = pick_delivery(ctx, from_)
    # --dry-run --no-fetch changes no ref at all: not even the forge's read of its PRs.
    facts = backmerge.gather(ctx, delivery, open_prs=[] if dry_run and not fetch else None)
    p = facts.prediction
    if as_json:
        ctx.out.emit_json(p.to_json(delivery))
        return Exit.OK
    mainline = ctx.cfg.mainline
    if not p.pending:
        ctx.out.say(f"nothing to back-merge: every commit of {delivery} is on {mainline}")
        return Exit.OK
    n = len(facts.landings)
    ctx.out.say(
        f"{n} change(s) on {delivery} ({len(p.commits)} commit(s) in all) are not on {mainline}:"
    )
    for sha, subject in facts.landings:
        ctx.out.say(f"  {sha} {subject}")
    if p.clean:
        ctx.out.say("prediction: merges cleanly")
    else:
        ctx.out.say(f"prediction: {len(p.conflicts)} conflicting path(s)")
        for c in p.conflicts:
            by = facts.subjects.get(c.introduced_by, "")
            ctx.out.say(f"  {c.path}  (first from {c.introduced_by[:7]} {by})".rstrip())
    if facts.existing is not None:
        ctx.out.say(f"open back-merge PR: #{facts.existing.number} {facts.existing.url}")
    if dry_run:
        return Exit.OK
    backmerge.warn_settings(ctx)
    return execute(ctx, "backmerge", backmerge.plan(facts))


def pick_delivery(ctx: Ctx, from_: str | None) -> str:
    """--from; else the delivery branch of the checked-out fix, or the checked-out delivery
    branch; else the only delivery branch on the remote."""
    cfg = ctx.cfg
    if from_:
        if not cfg.is_delivery(from_):
            raise ProdfixError(
                f"{from_!r} is not a delivery branch ({cfg.delivery})",
                hint="name a delivery branch with --from",
            )
        return from_
    branch = ctx.repo.current_branch()
    if branch and cfg.is_delivery(branch):
        return branch
    recorded = (
        ctx.repo.git("config", f"branch.{branch}.prodfix-delivery", ok_codes=(0, 1)).stdout.strip()
        if branch
        else ""
    )
    if recorded:
        return recorded
    prefix = f"refs/remotes/{ctx.remote}/"
    names = sorted(
        r.removeprefix(prefix)
        for r in ctx.repo.refs(prefix)
        if cfg.is_delivery(r.removeprefix(prefix))
    )
    if len(names) == 1:
        return names[0]
    raise ProdfixError(
        f"which delivery branch? {', '.join(names) or 'none found on ' + ctx.remote}",
        hint="name it: `prodfix backmerge --from <delivery branch>`",
    )
