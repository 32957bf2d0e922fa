"""`prodfix deploy --tag TAG [--dc DC]... [--image NAME] [--dry-run] [--json]`."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from prodfix import output
from prodfix.cli import App
from prodfix.commands.common import context
from prodfix.errors import Exit, ProdfixError
from prodfix.workflow.context import Ctx
from prodfix.workflow.deploy_repo import deploy_branch, deploy_ctx, service_cfg_dcs
from prodfix.workflow.interpreter import execute
from prodfix.workflow.ops import Op
from prodfix.workflow.ops_deploy import DeployCommit
from prodfix.workflow.ops_forge import OpenPr
from prodfix.workflow.ops_git import Push, RecordFix

if TYPE_CHECKING:
    from prodfix.adapters.gitops.plan import DeployPlan
    from prodfix.workflow.observe import RepoView


def _plan_now(
    dctx: Ctx,
    *,
    image: str,
    tag: str,
    dcs: list[str],
    path_template: str,
    target: str,
    allow_missing: bool,
) -> DeployPlan:
    from prodfix.adapters.gitops.plan import plan_deploy

    base = f"refs/remotes/{dctx.remote}/{target}"
    with tempfile.TemporaryDirectory(prefix="prodfix-plan-") as tmp:
        wt = Path(tmp) / "wt"
        dctx.repo.git("worktree", "add", "--detach", "--quiet", str(wt), base)
        try:
            return plan_deploy(
                wt,
                path_template=path_template,
                dcs=dcs,
                image=image,
                tag=tag,
                allow_missing=allow_missing,
            )
        finally:
            dctx.repo.git("worktree", "remove", "--force", str(wt), check=False)


def program(
    dctx: Ctx,
    *,
    image: str,
    tag: str,
    dcs: list[str],
    path_template: str,
    target: str,
    fix: str,
    allow_missing: bool,
    wave: int | None,
    kind: str,
) -> list[Op]:
    branch = deploy_branch(image, tag, wave)
    ref = f"refs/heads/{branch}"
    remote_now = dctx.repo.ls_remote(dctx.remote, ref).get(ref, "")
    title = f"Deploy {image.rsplit('/', 1)[-1]}:{tag} to {', '.join(dcs)}"
    body = (
        f"Pins `{image}:{tag}` in {', '.join(dcs)} (prodfix fix `{fix}`).\n\n"
        "Argo CD deploys it once merged."
    )
    ops: list[Op] = [RecordFix(fix, "deploy", kind, None, None, None)] if fix else []
    return [
        *ops,
        DeployCommit(branch, target, image, tag, tuple(dcs), path_template, fix, allow_missing),
        Push(branch, "", remote_now),
        OpenPr(branch, target, title, body, "deploy_pr"),
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
    ctx = context(app, dry_run=dry_run)
    if as_json and not dry_run:
        raise ProdfixError(
            "--json goes with --dry-run", hint="prodfix deploy --tag T --dry-run --json"
        )
    branch = ctx.repo.current_branch()
    rec = ctx.store.fix_for_branch(ctx.path, branch) if branch else None
    ctx.fix = rec.fix if rec else None
    image = image or ctx.cfg["deploy.image"]
    if not image or not ctx.cfg["deploy.repo"]:
        raise ProdfixError(
            "no deploy repository or image configured",
            hint="set [deploy] repo and image in .prodfix.toml, or pass --image",
        )
    from prodfix.adapters.gitops.images import validate_image, validate_version

    validate_image(image)
    validate_version(tag)
    chosen = service_cfg_dcs(ctx.cfg, dcs)
    dctx = deploy_ctx(ctx)
    dctx.repo.fetch(dctx.remote)
    target, template = str(ctx.cfg["deploy.target"]), str(ctx.cfg["deploy.path"])
    plan = _plan_now(
        dctx,
        image=image,
        tag=tag,
        dcs=chosen,
        path_template=template,
        target=target,
        allow_missing=allow_missing,
    )
    if dry_run:
        if as_json:
            output.emit_json(plan.to_json())
        else:
            _show(plan)
            output.say(plan.unified_diff())
        return Exit.FAILED if plan.errors else Exit.OK
    _show(plan)
    if plan.errors:
        return Exit.FAILED
    if not plan.changes:
        output.say(f"nothing to do: {', '.join(chosen)} already run {image}:{tag}")
        return Exit.OK
    todo = [d for d in chosen if d in plan.changed_dcs]
    return execute(
        dctx,
        "deploy",
        program(
            dctx,
            image=image,
            tag=tag,
            dcs=todo,
            path_template=template,
            target=target,
            fix=ctx.fix or "",
            allow_missing=allow_missing,
            wave=None,
            kind=ctx.cfg.kind,
        ),
    )


def _show(plan: DeployPlan) -> None:
    for w in plan.warnings:
        output.warn(w.message)
    for e in plan.errors:
        output.error(e.message)
    for line in plan.summary_lines():
        output.say(line)


def deploy_for_fix(view: RepoView, *, merge: bool, dry_run: bool) -> None:
    """The workflow's deploy step: the tag the build recorded, every DC (or the next wave)."""
    from prodfix.workflow.ops_forge import MergePr

    ctx, f = view.ctx, view.facts
    assert ctx is not None and f.tag
    dctx = deploy_ctx(ctx)
    dctx.dry_run = dry_run
    pr = f.deploy.get("pr")
    if pr is not None and pr.state.value == "open":
        if merge and not pr.blockers:
            execute(dctx, "next deploy", [MergePr(int(pr.number), "merge", pr.head_sha)])
        return
    waves = ctx.cfg.waves
    wave_no = int(f.deploy.get("wave", 0))
    dcs = waves[wave_no] if wave_no < len(waves) else []
    execute(
        dctx,
        "next deploy",
        program(
            dctx,
            image=str(ctx.cfg["deploy.image"]),
            tag=f.tag,
            dcs=dcs,
            path_template=str(ctx.cfg["deploy.path"]),
            target=str(ctx.cfg["deploy.target"]),
            fix=ctx.fix or "",
            allow_missing=False,
            wave=wave_no + 1 if len(waves) > 1 else None,
            kind=ctx.cfg.kind,
        ),
    )
