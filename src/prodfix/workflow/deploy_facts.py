"""Observe the deploy step of a fix by ancestry: a DC runs the fix when every tag of the image
pinned in its folder (on the branch Argo CD deploys) was built from a delivery commit that
contains the fix's landing. Waves go in order: a wave counts only once the one before it is
deployed; with Argo CD, a wave counts once its apps are Synced and Healthy on the new image.

Result keys (read by evaluate._deploy): done + detail | failed | pr (open) | waiting, plus
wave (0-based), dcs (that wave's DCs) and current ({dc: [tags]}) for the next action."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from prodfix import __version__
from prodfix.adapters.forge import PrState, PullRequest
from prodfix.adapters.gitlook import is_sha
from prodfix.adapters.shacache import shared
from prodfix.errors import ProdfixError
from prodfix.types import BranchName
from prodfix.workflow import argocd_step
from prodfix.workflow.context import Ctx
from prodfix.workflow.deploy_repo import (
    Scratch,
    deploy_branch,
    deploy_ctx,
    folders,
    scratch,
    target_tip,
)
from prodfix.workflow.facts import RepoFacts
from prodfix.workflow.images import ImageIndex

PLACEHOLDER_TAG = "0"  # a valid tag to plan with when only the current pins are wanted


def current_pins(
    s: Scratch, template: str, dcs: list[str], image: str, tag: str
) -> tuple[dict[str, list[str]], list[tuple[str | None, str]]]:
    """{dc: the distinct tags of `image` pinned under its folder in the scratch tree} and the
    planner's errors (the deploy planner's own reading, so `deploy` and `status` agree)."""
    plan = s.plan(path_template=template, dcs=dcs, image=image, tag=tag, allow_missing=False)
    pins = {d.dc: [c for c in d.current if c] for d in plan.dcs}
    return pins, [(e.dc, e.message) for e in plan.errors]


class DeployLook:
    """The deploy repository as one look at a service repository sees it: located, fetched,
    its target tip and its pins read once for every fix observed in that look (each fix would
    otherwise fetch it and build a scratch tree of its own). A failure is kept and raised again
    for every fix, as each would have met it."""

    def __init__(self, service: Ctx) -> None:
        self.service = service
        self._read: tuple[Ctx, str] | ProdfixError | None = None
        self._pins: dict[str, tuple[dict[str, list[str]], list[tuple[str | None, str]]]] = {}
        self._trees = ExitStack()  # the scratch tree of the target tip, while the look lasts
        self._tree: Scratch | None = None

    def __enter__(self) -> DeployLook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._tree = None
        self._trees.close()

    def target(self) -> tuple[Ctx, str]:
        """The deploy repository's context (its forge shared by the fixes) and target tip."""
        if self._read is None:
            try:
                dctx = deploy_ctx(self.service)
                target = self.service.cfg.deploy.target
                # The embedded forge's read is a fetch of the branches and its PRs: one fetch
                # for both (a hosted forge's PRs come from its API: None, fetch here).
                try:
                    primed = dctx.forge.prime()
                except ProdfixError:
                    primed = None  # fails again where the forge is asked, as it always did
                if primed is None:
                    dctx.repo.fetch(dctx.remote)
                tip = primed.get(dctx.tracking(target)) if primed else None
                self._read = dctx, tip or target_tip(dctx, target)
            except ProdfixError as exc:
                self._read = exc
        if isinstance(self._read, ProdfixError):
            raise self._read
        return self._read

    def pins(self, tag: str) -> tuple[dict[str, list[str]], list[tuple[str | None, str]]]:
        """The pins, and the planner's errors for `tag` (one plan per tag, all of them on one
        scratch tree of the target tip)."""
        if tag not in self._pins:
            dctx, tip = self.target()
            d = self.service.cfg.deploy
            dcs = [dc for w in d.waves for dc in w]
            # What a commit's files pin never changes: kept across commands, keyed by the
            # commit and everything the planner is asked (and prodfix's version, whose planner
            # may read differently).
            cache = shared(dctx.repo.path, "deploy-pins")
            key = f"{__version__}:{tip}:{d.path}:{','.join(dcs)}:{d.image}:{tag}"
            known = cache.get(key) if is_sha(tip) else None
            if isinstance(known, dict):
                errors = [(e[0], str(e[1])) for e in known["errors"]]
                self._pins[tag] = {k: list(v) for k, v in known["pins"].items()}, errors
            else:
                if self._tree is None:
                    self._tree = self._trees.enter_context(
                        scratch(dctx.repo, tip, folders(d.path, dcs))
                    )
                pins, errors = current_pins(self._tree, d.path, dcs, str(d.image), tag)
                if is_sha(tip):
                    cache.put(key, {"pins": pins, "errors": [list(e) for e in errors]})
                self._pins[tag] = pins, errors
        return self._pins[tag]


def observe_deploy(
    ctx: Ctx, f: RepoFacts, images: ImageIndex, look: DeployLook | None = None
) -> dict[str, Any]:
    if look is None:
        with DeployLook(ctx) as own:
            return observe_deploy(ctx, f, images, own)
    cfg = ctx.cfg
    assert f.landing is not None
    dctx, tip = look.target()
    image, template, waves = str(cfg.deploy.image), cfg.deploy.path, cfg.deploy.waves
    all_dcs = [d for w in waves for d in w]
    pins, errors = look.pins(f.tag or PLACEHOLDER_TAG)
    has_fix = {dc: _runs(images, pins.get(dc, []), f.landing) for dc in all_dcs}
    argo = argocd_step.configured(cfg)
    prs: list[PullRequest] = []
    for i, wave in enumerate(waves):
        where: dict[str, Any] = {"wave": i, "dcs": ", ".join(wave), "current": pins}
        pr = _wave_pr(dctx, image, f.tag, i, len(waves), cfg.deploy.target) if f.tag else None
        if pr is not None:
            prs.append(pr)
        if not all(has_fix[dc] for dc in wave):
            wave_errors = [msg for dc, msg in errors if dc in wave]
            if wave_errors and f.tag:
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
            # Pinned without our PR (deployed by hand, or by a later fix): the last commit
            # touching the folders.
            since = merged or dctx.repo.out(
                "log", "-1", "--format=%H", tip, "--", *folders(template, wave)
            )
            running = sorted({t for dc in wave for t in pins.get(dc, [])})
            v = argocd_step.observe_apps(
                ctx,
                dctx.repo,
                wave,
                merge_commit=since,
                image=argocd_step.image_ref(image, running[-1] if running else f.tag or ""),
            )
            if v.failed:
                return {**where, "failed": v.failed}
            if not v.done:
                return {**where, "waiting": v.waiting}
    # Only the PRs that pinned this build: an open PR of a newer build deployed nothing yet.
    shown = ", ".join(f"#{p.number}" for p in prs if p.state == PrState.MERGED)
    tags = sorted({t for dc in all_dcs for t in pins.get(dc, [])})
    detail = f"{', '.join(all_dcs)} run {', '.join(tags)}, built with {f.landing[:7]} in it"
    detail += f" (PR {shown})" if shown else ""
    detail += "; Argo CD: synced and Healthy" if argo else ""
    return {"done": True, "detail": detail, "current": pins}


def _runs(images: ImageIndex, tags: list[str], landing: str) -> bool:
    """Every tag pinned in the DC contains the fix (a DC with none pinned does not run it)."""
    return bool(tags) and all(images.contains(t, landing) for t in tags)


def _wave_pr(
    dctx: Ctx, image: str, tag: str, wave: int, waves: int, target: str
) -> PullRequest | None:
    branch = deploy_branch(image, tag, wave + 1 if waves > 1 else None)
    return dctx.forge.find_pr(BranchName(branch), BranchName(target), open_only=False)
