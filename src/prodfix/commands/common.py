"""What every command does first: find the repository, check git, load the configuration."""

from __future__ import annotations

from pathlib import Path

from prodfix import config, output
from prodfix.adapters import git
from prodfix.adapters.git import Repo
from prodfix.adapters.store import Store, ensure_private_dir, home
from prodfix.cli import App
from prodfix.config import Config
from prodfix.errors import ProdfixError
from prodfix.workflow.context import Ctx
from prodfix.workflow.lock import run_key


def open_repo(cwd: Path) -> Repo:
    git.require_version()
    return Repo.discover(cwd)


def load_config(repo: Repo) -> Config:
    """The checkout's .prodfix.toml; else the mainline's copy (a delivery branch cut before the
    team adopted prodfix lacks the file — CLI.md), said once per repository; else defaults."""
    path = repo.path / config.FILENAME
    if path.exists():
        return config.load(repo.path)
    defaults = config.load(repo.path)
    ref = f"{defaults['remote']}/{defaults['mainline']}"
    r = repo.git("show", f"refs/remotes/{ref}:{config.FILENAME}", check=False)
    if r.returncode != 0:
        return defaults
    cfg = config.load(repo.path, mainline_text=r.stdout, mainline_ref=ref)
    marker = ensure_private_dir(home() / "notes") / f"mainline-config-{run_key(repo.path)}"
    if not marker.exists():
        output.info(f"prodfix: note: {cfg.note}")
        marker.touch()
    return cfg


def context(app: App, *, dry_run: bool = False, fix: str | None = None) -> Ctx:
    repo = open_repo(app.cwd)
    cfg = load_config(repo)
    return Ctx(repo=repo, cfg=cfg, store=Store(), fix=fix, dry_run=dry_run)


def current_fix(ctx: Ctx, name: str | None = None) -> str:
    """The fix the user means: NAME, else the one whose branch is checked out here."""
    if name:
        if name not in ctx.store.fixes():
            raise ProdfixError(f"no fix named {name!r}", hint="`prodfix status` lists the fixes")
        return name
    branch = ctx.repo.current_branch()
    rec = ctx.store.fix_for_branch(ctx.path, branch) if branch else None
    if rec is None:
        raise ProdfixError(
            f"the current branch ({branch or 'detached HEAD'}) is not a fix prodfix started",
            hint="switch to your fix branch, name the fix, or start one: `prodfix start NAME`",
        )
    return rec.fix


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
