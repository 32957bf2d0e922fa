"""Observe the deploy step: which DCs of the deploy target pin the fix's image tag, and the PR."""

from __future__ import annotations

from typing import Any

from prodfix.adapters.forge import PrState
from prodfix.types import PrNumber
from prodfix.workflow.context import Ctx
from prodfix.workflow.deploy_repo import deploy_ctx, read_tree_files
from prodfix.workflow.facts import RepoFacts


def dc_tags(dctx: Ctx, rev: str, template: str, dcs: list[str], image: str) -> dict[str, set[str]]:
    """For each DC, the set of tags (or digests) its files pin for `image` at `rev`."""
    from prodfix.adapters.gitops.images import normalise
    from prodfix.adapters.gitops.tageditor import find_image_refs

    want = normalise(image)
    out: dict[str, set[str]] = {}
    for dc in dcs:
        tags: set[str] = set()
        for name, data in read_tree_files(dctx.repo, rev, template.format(dc=dc)).items():
            tags |= {
                r.current for r in find_image_refs(data, name) if normalise(r.repository) == want
            }
        out[dc] = tags
    return out


def observe_deploy(ctx: Ctx, f: RepoFacts) -> dict[str, Any]:
    cfg = ctx.cfg
    dctx = deploy_ctx(ctx)
    dctx.repo.fetch(dctx.remote)
    target = f"refs/remotes/{dctx.remote}/{cfg['deploy.target']}"
    waves = cfg.waves
    all_dcs = [dc for w in waves for dc in w]
    tags = dc_tags(dctx, target, str(cfg["deploy.path"]), all_dcs, str(cfg["deploy.image"]))
    result: dict[str, Any] = {"dcs": ", ".join(all_dcs)}
    wave_done = [all(tags[dc] == {f.tag} for dc in w) for w in waves]
    idents = ctx.store.idents(ctx.fix or "", str(dctx.repo.path))
    number = idents.get("deploy_pr")
    pr = dctx.forge.get_pr(PrNumber(int(number))) if number is not None else None
    if all(wave_done):
        result["done"] = True
        result["detail"] = f"{', '.join(all_dcs)} pin {f.tag}" + (
            f" (PR #{pr.number})" if pr else ""
        )
        return result
    result["wave"] = wave_done.index(False)
    if pr is not None and pr.state == PrState.OPEN:
        result["pr"] = pr
    elif pr is not None and pr.state == PrState.CLOSED:
        result["failed"] = f"deploy PR #{pr.number} was closed without merging"
    return result
