"""`prodfix deploy --tag TAG [--dc DC]... [--image NAME] [--allow-missing] [--dry-run] [--json]`,
and the workflow's deploy step (`deploy_for_fix`, called by `next`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from prodfix import output
from prodfix.cli import App
from prodfix.commands.common import context
from prodfix.errors import Exit, ProdfixError
from prodfix.workflow.context import Ctx
from prodfix.workflow.deploy_repo import (
    deploy_branch,
    deploy_ctx,
    folders,
    image_name,
    scratch,
    service_cfg_dcs,
    target_tip,
)
from prodfix.workflow.interpreter import execute
from prodfix.workflow.ops import Op
from prodfix.workflow.ops_deploy import DeployCommit, DeployMergePr, DeployOpenPr, DeployPush

if TYPE_CHECKING:
    from prodfix.adapters.gitops.plan import DeployPlan
    from prodfix.workflow.observe import RepoView


@dataclass(frozen=True)
class Deploy:
    """What to pin where: the planned facts of one deploy (one wave, or a manual deploy)."""

    image: str
    tag: str
    dcs: list[str]
    allow_missing: bool
    wave: int  # 0-based wave recorded for the fix; -1: not a wave of the workflow
    waves: int  # how many waves the config has (branch names carry the wave only if > 1)


def plan_now(service: Ctx, dctx: Ctx, d: Deploy) -> DeployPlan:
    """The plan at the target tip of the freshly fetched deploy repository."""
    dctx.repo.fetch(dctx.remote)
    template = str(service.cfg["deploy.path"])
    tip = target_tip(dctx, str(service.cfg["deploy.target"]))
    with scratch(dctx.repo, tip, folders(template, d.dcs)) as s:
        return s.plan(
            path_template=template,
            dcs=d.dcs,
            image=d.image,
            tag=d.tag,
            allow_missing=d.allow_missing,
        )


def program(service: Ctx, dctx: Ctx, d: Deploy, todo: list[str]) -> list[Op]:
    """Commit, push, PR — for the DCs that need a change (`todo`)."""
    cfg = service.cfg
    target, fix = str(cfg["deploy.target"]), service.fix or ""
    branch = deploy_branch(d.image, d.tag, d.wave + 1 if d.waves > 1 and d.wave >= 0 else None)
    ref = f"refs/heads/{branch}"
    remote_now = dctx.repo.ls_remote(dctx.remote, ref).get(ref, "")
    spec = (branch, target, d.image, d.tag, tuple(todo), str(cfg["deploy.path"]), fix)
    where = ", ".join(todo)
    title = f"Deploy {image_name(d.image)}:{d.tag} to {where}"
    body = f"Pins `{d.image}:{d.tag}` in {where}" + (f" (prodfix fix `{fix}`)" if fix else "")
    body += ".\n\nArgo CD deploys it once merged."
    return [
        DeployCommit(*spec, d.allow_missing),
        DeployPush(*spec, d.allow_missing, remote_now),
        DeployOpenPr(branch, target, title, body, d.wave),
    ]


def run(
    app: App,
    *,
    tag: str,
    dcs: list[str],
    image: str | None,
    allow_missing: bool,
    dry_run: bool,
    as_json: bool,
) -> int:
    if as_json and not dry_run:
        raise ProdfixError(
            "--json goes with --dry-run", hint="prodfix deploy --tag TAG --dry-run --json"
        )
    ctx = context(app, dry_run=dry_run)
    branch = ctx.repo.current_branch()
    rec = ctx.store.fix_for_branch(ctx.path, branch) if branch else None
    ctx.fix = rec.fix if rec else None
    image = image or ctx.cfg["deploy.image"]
    if not image or not ctx.cfg["deploy.repo"]:
        raise ProdfixError(
            "no deploy repository or image configured",
            hint="set [deploy] repo and image in .prodfix.toml (or pass --image)",
        )
    from prodfix.adapters.gitops.images import validate_image, validate_version

    validate_image(image)
    validate_version(tag)
    chosen = service_cfg_dcs(ctx.cfg, dcs)
    # A manual deploy of every DC on a fix branch is the fix's deploy (its only wave).
    whole = len(ctx.cfg.waves) == 1 and chosen == ctx.cfg.waves[0] and ctx.fix is not None
    d = Deploy(image, tag, chosen, allow_missing, 0 if whole else -1, len(ctx.cfg.waves))
    dctx = deploy_ctx(ctx)
    plan = plan_now(ctx, dctx, d)
    if dry_run and as_json:
        output.emit_json(plan.to_json())
        return Exit.FAILED if plan.errors else Exit.OK
    show(plan, reasons=dry_run)
    if dry_run:
        output.say(plan.unified_diff().rstrip("\n"))
        return Exit.FAILED if plan.errors else Exit.OK
    refuse_errors(plan)
    if not plan.changes:
        output.say(f"nothing to do: {', '.join(chosen)} already run {image}:{tag}")
        return Exit.OK
    return execute(ctx, "deploy", program(ctx, dctx, d, plan.changed_dcs))


def show(plan: DeployPlan, *, reasons: bool = False) -> None:
    """Warnings on stderr; per DC what happens, each edit as file:line old → new. With
    `reasons` (a dry run, where no error follows), why a DC is refused: file:line, the
    problem, and what to do."""
    from prodfix.adapters.gitops.refusals import HINTS

    for w in plan.warnings:
        output.warn(w.message)
    for d in plan.dcs:
        now = ", ".join(c or "(no tag)" for c in d.current)
        if d.status == "change":
            output.say(f"{d.dc}: {now} → {plan.tag}")
        elif d.status == "already":
            output.say(f"{d.dc}: already at {plan.tag}, skipped")
        elif d.status == "missing":
            output.say(f"{d.dc}: does not reference {plan.image}")
        elif d.status == "no-folder":
            output.say(f"{d.dc}: no folder {d.folder}/")
        else:
            output.say(f"{d.dc}: {d.status}")
        for e in d.edits:
            output.say(f"  {e.file}:{e.line}  {e.old or '(none)'} → {e.new}")
        for f in plan.errors if reasons and d.status == "refused" else ():
            if f.dc == d.dc:
                output.say(f"  {f.message}")
                if f.reason in HINTS:
                    output.say(f"    next: {HINTS[f.reason]}")


def refuse_errors(plan: DeployPlan) -> None:
    if not plan.errors:
        return
    for e in plan.errors[:-1]:
        output.error(e.message)
    raise ProdfixError(
        plan.errors[-1].message + "; nothing was changed",
        hint="fix the deploy repository, or pass --allow-missing to skip DCs without the image",
        code=Exit.FAILED,
    )


def deploy_for_fix(view: RepoView, *, merge: bool, dry_run: bool) -> None:
    """The workflow's deploy step: merge the open deploy PR (with --merge), else open the PR of
    the next wave — the tag the build recorded, the DCs of that wave (all DCs by default)."""
    ctx, f = view.ctx, view.facts
    assert ctx is not None and f.tag
    ctx.dry_run = dry_run
    waves = ctx.cfg.waves
    wave = int(f.deploy.get("wave", 0))
    pr = f.deploy.get("pr")
    if pr is not None:
        if merge and not pr.blockers:
            step = DeployMergePr(int(pr.number), pr.head_sha, tuple(waves[wave]))
            execute(ctx, "next deploy", [step])
        return
    image = str(ctx.cfg["deploy.image"])
    d = Deploy(image, f.tag, waves[wave], False, wave, len(waves))
    dctx = deploy_ctx(ctx)
    plan = plan_now(ctx, dctx, d)
    for w in plan.warnings:
        output.warn(w.message)
    refuse_errors(plan)
    if plan.changes:
        execute(ctx, "next deploy", program(ctx, dctx, d, plan.changed_dcs))
