"""`prodfix undo`: reverse the last completed command of the current fix."""

from __future__ import annotations

from prodfix.app import App
from prodfix.commands.common import context, fix_here
from prodfix.workflow import interpreter


def run(app: App, *, dry_run: bool) -> int:
    ctx = context(app, dry_run=dry_run)
    fix_here(ctx)
    return interpreter.undo_last(ctx)
