"""`prodfix backmerge [--from BRANCH] [--dry-run] [--json]`: delivery → master, predicted first."""

from __future__ import annotations

from prodfix.cli import App
from prodfix.commands.common import context, require_clean_state, require_remote
from prodfix.errors import Exit, ProdfixError
from prodfix.policy.backmerge import Prediction, predict
from prodfix.workflow.context import Ctx
from prodfix.workflow.interpreter import execute
from prodfix.workflow.ops import Op
from prodfix.workflow.plans import backmerge_program


def _prediction(ctx: Ctx, delivery: str) -> Prediction:
    r = ctx.remote
    return predict(
        ctx.repo,
        mainline=f"refs/remotes/{r}/{ctx.cfg.mainline}",
        delivery=f"refs/remotes/{r}/{delivery}",
    )


def _fix_lines(ctx: Ctx, p: Prediction) -> list[str]:
    landings = ctx.repo.log_records("%h\x1f%s", "--first-parent", p.delivery, f"^{p.mainline}")
    return [f"{h} {s}" for h, s in landings]


def plan_backmerge(ctx: Ctx, delivery: str) -> list[Op]:
    p = _prediction(ctx, delivery)
    if not p.pending:
        return []
    if not p.clean:
        require_clean_state(ctx)
        if ctx.repo.is_dirty():
            raise ProdfixError(
                "the back-merge has conflicts to resolve in your work tree, "
                "which has uncommitted changes",
                hint="commit or stash them, then run the command again",
            )
    return backmerge_program(
        ctx,
        delivery=delivery,
        prediction_clean=p.clean,
        delivery_tip=p.delivery,
        mainline_tip=p.mainline,
        fixes=_fix_lines(ctx, p),
    )


def _pick_delivery(ctx: Ctx, from_: str | None) -> str:
    if from_:
        if not ctx.cfg.is_delivery(from_):
            raise ProdfixError(
                f"{from_!r} is not a delivery branch ({ctx.cfg.delivery})",
                hint="name a delivery branch with --from",
            )
        return from_
    branch = ctx.repo.current_branch()
    rec = ctx.store.fix_for_branch(ctx.path, branch) if branch else None
    if rec and rec.delivery:
        ctx.fix = rec.fix
        return rec.delivery
    if branch and ctx.cfg.is_delivery(branch):
        return branch
    prefix = f"refs/remotes/{ctx.remote}/"
    names = sorted(
        r.removeprefix(prefix)
        for r in ctx.repo.refs(prefix)
        if ctx.cfg.is_delivery(r.removeprefix(prefix))
    )
    if len(names) == 1:
        return names[0]
    raise ProdfixError(
        f"which delivery branch? {', '.join(names) or 'none found on ' + ctx.remote}",
        hint="name it: `prodfix backmerge --from <delivery branch>`",
    )


def run(app: App, *, from_: str | None, dry_run: bool, as_json: bool) -> int:
    ctx = context(app, dry_run=dry_run)
    require_remote(ctx)
    if not dry_run:
        require_clean_state(ctx)  # consistent with start/propose, also for a clean back-merge
    ctx.repo.fetch(ctx.remote)
    delivery = _pick_delivery(ctx, from_)
    p = _prediction(ctx, delivery)
    if as_json:
        if not dry_run:
            raise ProdfixError(
                "--json goes with --dry-run", hint="prodfix backmerge --dry-run --json"
            )
        ctx.out.emit_json(p.to_json(delivery))
        return Exit.OK
    if not p.pending:
        ctx.out.say(f"nothing to back-merge: every commit of {delivery} is on {ctx.cfg.mainline}")
        return Exit.OK
    ctx.out.say(f"{len(p.commits)} commit(s) of {delivery} are not on {ctx.cfg.mainline}:")
    for line in _fix_lines(ctx, p):
        ctx.out.say(f"  {line}")
    if p.clean:
        ctx.out.say("prediction: merges cleanly")
    else:
        ctx.out.say("prediction: conflicts")
        for c in p.conflicts:
            ctx.out.say(f"  {c.path}  (first from {c.introduced_by[:7]})")
    if dry_run:
        return Exit.OK
    return execute(ctx, "backmerge", plan_backmerge(ctx, delivery))
