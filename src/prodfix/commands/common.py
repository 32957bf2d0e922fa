"""What every command does first: find the repository, check git, load the configuration."""

from __future__ import annotations

from pathlib import Path

from prodfix import config
from prodfix.adapters import git
from prodfix.adapters.git import Repo
from prodfix.adapters.store import Store, ensure_private_dir, home, path_key
from prodfix.app import App
from prodfix.config import Config
from prodfix.errors import ProdfixError
from prodfix.output import Reporter
from prodfix.workflow.context import Ctx


def open_repo(cwd: Path) -> Repo:
    git.require_version()
    return Repo.discover(cwd)


def load_config(repo: Repo, out: Reporter) -> Config:
    """The repository's configuration; when it comes from the mainline's copy (a delivery
    branch cut before the team adopted prodfix), say so once per repository."""
    cfg = config.load_for_repo(repo)
    if cfg.note:
        marker = ensure_private_dir(home() / "notes") / f"mainline-config-{path_key(repo.path)}"
        if not marker.exists():
            out.info(f"prodfix: note: {cfg.note}")
            marker.touch()
    return cfg


def context(app: App, *, dry_run: bool = False, fix: str | None = None) -> Ctx:
    repo = open_repo(app.cwd)
    cfg = load_config(repo, app.out)
    store = Store()
    app.on_close(store.close)
    return Ctx(repo=repo, cfg=cfg, store=store, fix=fix, dry_run=dry_run, out=app.out)


def fix_here(ctx: Ctx) -> str | None:
    """The fix whose branch is checked out (by the fix-branch template), remembered on the
    context; None on any other branch."""
    branch = ctx.repo.current_branch()
    ctx.fix = ctx.cfg.fix_name(branch) if branch else None
    return ctx.fix


def require_clean_state(ctx: Ctx) -> None:
    busy = ctx.repo.in_progress()
    if busy:
        raise ProdfixError(
            f"{ctx.repo.path} is in the middle of {busy}",
            hint=f"finish or abort {busy} first (`git status` says how)",
        )


def require_remote(ctx: Ctx) -> None:
    """Before the first fetch: a missing remote is a setup error (exit 2), not a network one."""
    if ctx.repo.remote_url(ctx.remote) is None:
        raise ProdfixError(
            f"this repository has no remote {ctx.remote!r}",
            hint=f"add it (git remote add {ctx.remote} URL) or set `remote` in .prodfix.toml",
        )
