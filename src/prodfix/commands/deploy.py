"""`prodfix deploy --tag TAG [--dc DC]... [--image NAME] [--allow-missing] [--rollback]
[--dry-run] [--json]`: pin an image tag in the GitOps repository through a PR, never moving a
DC back to a build that lacks what it runs (unless --rollback)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prodfix.adapters import records
from prodfix.app import App
from prodfix.commands.common import context, fix_here
from prodfix.errors import Exit, ProdfixError
from prodfix.output import Reporter
from prodfix.workflow import gates
from prodfix.workflow.context import Ctx
from prodfix.workflow.deploy_repo import deploy_ctx, service_cfg_dcs
from prodfix.workflow.images import ImageIndex
from prodfix.workflow.interpreter import execute, refuse_if_suspended
from prodfix.workflow.steps import deploy
from prodfix.workflow.steps.deploy import Deploy

if TYPE_CHECKING:
    from prodfix.adapters.gitops.plan import DeployPlan


def run(
    app: App,
    *,
    tag: str,
    dcs: list[str],
    image: str | None,
    allow_missing: bool,
    rollback: bool = False,
    dry_run: bool,
    as_json: bool,
) -> int:
    if as_json and not dry_run:
        raise ProdfixError(
            "--json goes with --dry-run", hint="prodfix deploy --tag TAG --dry-run --json"
        )
    ctx = context(app, dry_run=dry_run)
    fix_here(ctx)
    refuse_if_suspended(ctx)
    image = image or ctx.cfg.deploy.image
    if not image or not ctx.cfg.deploy.repo:
        raise ProdfixError(
            "no deploy repository or image configured",
            hint="set [deploy] repo and image in .prodfix.toml (or pass --image)",
        )
    from prodfix.adapters.gitops.images import validate_image, validate_version

    validate_image(image)
    validate_version(tag)
    chosen = service_cfg_dcs(ctx.cfg, dcs)
    # A manual deploy of every DC on a fix branch is the fix's deploy (its only wave).
    whole = (
        len(ctx.cfg.deploy.waves) == 1 and chosen == ctx.cfg.deploy.waves[0] and ctx.fix is not None
    )
    d = Deploy(image, tag, chosen, allow_missing, 0 if whole else -1, len(ctx.cfg.deploy.waves))
    # What each tag was built from is known for the service's own builds only.
    ours = image == ctx.cfg.deploy.image and ctx.cfg.build.configured
    images = _images(ctx) if ours else None
    facts = deploy.gather(ctx, deploy_ctx(ctx), d, images=images, rollback=rollback)
    plan = facts.plan
    if dry_run and as_json:
        ctx.out.emit_json(plan.to_json())
        return Exit.FAILED if plan.errors else Exit.OK
    show(ctx.out, plan, reasons=dry_run)
    for why in facts.backwards:
        ctx.out.warn(f"rolling back on purpose (--rollback): {why}")
    for unknown in facts.unknown:
        ctx.out.warn(
            f"cannot tell which commit {unknown} was built from (not a build prodfix or the "
            "build system knows): the no-rollback check could not compare it"
        )
    if dry_run:
        ctx.out.say(plan.unified_diff().rstrip("\n"))
        return Exit.FAILED if plan.errors else Exit.OK
    refuse_errors(ctx.out, plan)
    if not plan.changes:
        ctx.out.say(f"nothing to do: {', '.join(chosen)} already run {image}:{tag}")
        return Exit.OK
    if facts.built:
        _refuse_master_in(ctx, facts.built, tag)
    return execute(ctx, "deploy", deploy.plan(facts))


def _images(ctx: Ctx) -> ImageIndex:
    """The service's image map (its remote's records, fetched now)."""
    records.fetch(ctx.repo, ctx.remote)
    refs = ctx.repo.refs(f"{records.mirror(ctx.remote)}/images/", f"refs/remotes/{ctx.remote}/")
    prefix = f"refs/remotes/{ctx.remote}/"
    deliveries = [
        r.removeprefix(prefix) for r in refs if ctx.cfg.is_delivery(r.removeprefix(prefix))
    ]
    return ImageIndex(ctx, refs, deliveries)


def _refuse_master_in(ctx: Ctx, built: str, tag: str) -> None:
    """Rule 2 on what the image was built from: the delivery branch that contains it."""
    mainline_tip = ctx.repo.resolve(ctx.tracking(ctx.cfg.mainline))
    prefix = f"refs/remotes/{ctx.remote}/"
    for ref, tip in ctx.repo.refs(prefix).items():
        delivery = ref.removeprefix(prefix)
        if ctx.cfg.is_delivery(delivery) and mainline_tip and ctx.repo.is_ancestor(built, tip):
            gates.refuse_unless_clean(
                ctx, delivery=delivery, tip=built, mainline_tip=mainline_tip, before=f"deploy {tag}"
            )
            return


def show(out: Reporter, plan: DeployPlan, *, reasons: bool = False) -> None:
    """Warnings on stderr; per DC what happens, each edit as file:line old → new. With
    `reasons` (a dry run, where no error follows), why a DC is refused: file:line, the
    problem, and what to do."""
    from prodfix.adapters.gitops.refusals import HINTS

    for w in plan.warnings:
        out.warn(w.message)
    for d in plan.dcs:
        now = ", ".join(c or "(no tag)" for c in d.current)
        if d.status == "change":
            out.say(f"{d.dc}: {now} → {plan.tag}")
        elif d.status == "already":
            out.say(f"{d.dc}: already at {plan.tag}, skipped")
        elif d.status == "missing":
            out.say(f"{d.dc}: does not reference {plan.image}")
        elif d.status == "no-folder":
            out.say(f"{d.dc}: no folder {d.folder}/")
        else:
            out.say(f"{d.dc}: {d.status}")
        for e in d.edits:
            out.say(f"  {e.file}:{e.line}  {e.old or '(none)'} → {e.new}")
        for f in plan.errors if reasons and d.status == "refused" else ():
            if f.dc == d.dc:
                out.say(f"  {f.message}")
                if f.reason in HINTS:
                    out.say(f"    next: {HINTS[f.reason]}")


def refuse_errors(out: Reporter, plan: DeployPlan) -> None:
    if not plan.errors:
        return
    for e in plan.errors[:-1]:
        out.error(e.message)
    raise ProdfixError(
        plan.errors[-1].message + "; nothing was changed",
        hint="fix the deploy repository, or pass --allow-missing to skip DCs without the image",
        code=Exit.FAILED,
    )
