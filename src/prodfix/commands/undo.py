"""`prodfix undo`: reverse the last completed command of the current fix."""

from __future__ import annotations

from prodfix.cli import App
from prodfix.commands.common import context
from prodfix.workflow import interpreter


def run(app: App, *, dry_run: bool) -> int:
    ctx = context(app, dry_run=dry_run)
    branch = ctx.repo.current_branch()
    rec = ctx.store.fix_for_branch(ctx.path, branch) if branch else None
    ctx.fix = rec.fix if rec else None
    return interpreter.undo_last(ctx)
