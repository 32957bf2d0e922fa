"""Observe the deploy step: which DCs the target branch pins at the fix's tag, the deploy PR of
each wave, and (with Argo CD) whether each merged wave really runs. Waves go in order: a wave
counts only once the one before it is deployed.

Result keys (read by evaluate._deploy): done + detail | failed | pr (open) | waiting, plus
wave (0-based) and dcs (that wave's DCs) for the next action."""

from __future__ import annotations

from typing import Any

from prodfix.adapters.forge import PrState, PullRequest
from prodfix.types import PrNumber
from prodfix.workflow import argocd_step
from prodfix.workflow.context import Ctx
from prodfix.workflow.deploy_repo import deploy_ctx, folders, scratch, target_tip
from prodfix.workflow.facts import RepoFacts


def pinned_dcs(
    dctx: Ctx, rev: str, template: str, dcs: list[str], image: str, tag: str
) -> tuple[set[str], list[tuple[str | None, str]]]:
    """The DCs whose every reference to `image` is at `tag` at `rev` (the deploy planner's own
    verdict, so `deploy` and `status` agree), and the plan's errors."""
    with scratch(dctx.repo, rev, folders(template, dcs)) as s:
        plan = s.plan(path_template=template, dcs=dcs, image=image, tag=tag, allow_missing=False)
    return {d.dc for d in plan.dcs if d.status == "already"}, [
        (e.dc, e.message) for e in plan.errors
    ]


def observe_deploy(ctx: Ctx, f: RepoFacts) -> dict[str, Any]:
    assert f.tag
    cfg = ctx.cfg
    dctx = deploy_ctx(ctx)
    dctx.repo.fetch(dctx.remote)
    tip = target_tip(dctx, str(cfg.deploy.target))
    image, template, waves = str(cfg.deploy.image), str(cfg.deploy.path), cfg.deploy.waves
    pinned, errors = pinned_dcs(dctx, tip, template, [d for w in waves for d in w], image, f.tag)
    argo = argocd_step.configured(cfg)
    prs: list[PullRequest] = []
    for i, wave in enumerate(waves):
        where = {"wave": i, "dcs": ", ".join(wave)}
        pr = _wave_pr(dctx, f.idents, i)
        if pr is not None:
            prs.append(pr)
        if not set(wave) <= pinned:
            wave_errors = [msg for dc, msg in errors if dc in wave]
            if wave_errors:
                return {**where, "failed": "; ".join(wave_errors)}
            if pr is not None and pr.state == PrState.OPEN:
                return {**where, "pr": pr}
            if pr is not None and pr.state == PrState.CLOSED:
                return {
                    **where,
                    "failed": f"deploy PR #{pr.number} was closed without merging "
                    f"(`prodfix deploy --tag {f.tag}` opens a new one)",
                }
            return where
        if argo:
            merged = pr.merge_commit if pr is not None and pr.state == PrState.MERGED else None
            # Pinned without our PR (deployed by hand): the last commit touching the folders.
            since = merged or dctx.repo.out(
                "log", "-1", "--format=%H", tip, "--", *folders(template, wave)
            )
            v = argocd_step.observe_apps(
                ctx,
                dctx.repo,
                wave,
                merge_commit=since,
                image=argocd_step.image_ref(image, f.tag),
            )
            if v.failed:
                return {**where, "failed": v.failed}
            if not v.done:
                return {**where, "waiting": v.waiting}
    shown = ", ".join(f"#{p.number}" for p in prs)
    detail = f"{', '.join(d for w in waves for d in w)} pin {f.tag}"
    detail += f" (PR {shown})" if shown else ""
    detail += "; Argo CD: synced and Healthy" if argo else ""
    return {"done": True, "detail": detail}


def _wave_pr(dctx: Ctx, idents: dict[str, Any], wave: int) -> PullRequest | None:
    number = idents.get(f"deploy_pr_w{wave}")
    return dctx.forge.get_pr(PrNumber(int(number))) if number is not None else None
