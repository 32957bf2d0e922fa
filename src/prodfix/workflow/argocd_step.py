"""Argo CD in the deploy step: is the merged image-tag change really running in every DC?

The reconciler looks once per observation (one GET per app, `assess` once): `status` never
blocks, and `next --wait` polls by observing again. Health Degraded counts only after it has
lasted GRACE seconds at the new revision (a rollout passes through short Degraded blips); the
first sighting is kept in the store, because each observation is a new process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from prodfix.adapters.argocd import ArgoCd, assess
from prodfix.adapters.git import GitError, Repo
from prodfix.config import Config
from prodfix.errors import ProdfixError
from prodfix.output import Reporter
from prodfix.types import short
from prodfix.workflow.context import Ctx

GRACE = 60.0  # seconds; tests lower it


@dataclass(frozen=True)
class AppsVerdict:
    done: bool
    waiting: str = ""  # the first unmet condition, naming the app
    failed: str = ""  # Argo CD's own message


def configured(cfg: Config) -> bool:
    return bool(cfg.deploy.argocd.url)


def client(cfg: Config) -> ArgoCd:
    return ArgoCd.from_env(
        str(cfg.deploy.argocd.url),
        verify=not cfg.deploy.argocd.insecure_skip_tls_verify,
    )


def app_name(cfg: Config, dc: str) -> str:
    return str(cfg.deploy.argocd.app).format(dc=dc)


def image_ref(image: str, tag: str) -> str:
    return f"{image}@{tag}" if tag.startswith("sha256:") else f"{image}:{tag}"


def descends(repo: Repo) -> Callable[[str, str], bool]:
    """`is_descendant(rev, base)` for `assess`: git decides, on the fetched deploy repository.
    A SHA git does not know yet (Argo CD saw a push our fetch has not) is "not yet"."""

    def check(rev: str, base: str) -> bool:
        try:
            return repo.is_ancestor(base, rev)
        except GitError:
            return False

    return check


def observe_apps(
    ctx: Ctx, deploy_repo: Repo, dcs: list[str], *, merge_commit: str, image: str
) -> AppsVerdict:
    """One look at every DC's app: failed (first failure), else waiting (first unmet), else
    done. `ctx` is the service's (its config names the apps; its fix keeps the grace clock)."""
    cfg = ctx.cfg
    argo = client(cfg)
    is_desc = descends(deploy_repo)
    waiting = ""
    try:
        for dc in dcs:
            app = app_name(cfg, dc)
            st = argo.get(app)
            v = assess(st, merge_commit=merge_commit, image=image, is_descendant=is_desc)
            if v.failure:
                return AppsVerdict(False, failed=f"Argo CD app {app}: {v.failure}")
            degraded_for = _degraded_for(ctx, app, merge_commit, degraded=v.degraded)
            if degraded_for is not None and degraded_for >= GRACE:
                return AppsVerdict(
                    False,
                    failed=f"Argo CD app {app}: health Degraded for {degraded_for:.0f}s "
                    f"at {short(st.sync_revision or merge_commit)}: "
                    f"{st.health_message or '(no message)'}",
                )
            if not v.done and not waiting:
                waiting = f"Argo CD app {app}: waiting for {v.waiting_for}"
    finally:
        argo.close()
    return AppsVerdict(not waiting, waiting=waiting)


def _degraded_for(ctx: Ctx, app: str, merge_commit: str, *, degraded: bool) -> float | None:
    if not ctx.fix:
        return 0.0 if degraded else None
    key = f"argocd_degraded:{app}"
    seen = ctx.store.idents(ctx.fix, ctx.path).get(key)
    if not degraded:
        if seen is not None:
            ctx.store.del_ident(ctx.fix, ctx.path, key)
        return None
    if seen != merge_commit:  # first sighting (for this merge): the grace starts now
        ctx.store.set_ident(ctx.fix, ctx.path, key, merge_commit)
        return 0.0
    since = ctx.store.ident_times(ctx.fix, ctx.path).get(key, time.time())
    return time.time() - since


def refresh_apps(cfg: Config, dcs: list[str], out: Reporter) -> None:
    """Ask Argo CD to look at git now (without a webhook it polls every ~3 minutes). Best
    effort: a refresh that fails only delays the deploy; the observation reports the rest."""
    try:
        argo = client(cfg)
    except ProdfixError as exc:
        out.warn(f"Argo CD not refreshed: {exc.message}")
        return
    try:
        for dc in dcs:
            app = app_name(cfg, dc)
            try:
                argo.refresh(app)
                out.say(f"asked Argo CD to refresh {app}")
            except ProdfixError as exc:
                out.warn(f"Argo CD app {app} not refreshed: {exc.message}")
    finally:
        argo.close()
