"""`prodfix continue` / `prodfix abort`: finish or reverse a stopped command."""

from __future__ import annotations

from prodfix.app import App
from prodfix.commands.common import context, fix_here
from prodfix.workflow import interpreter


def run(app: App, *, mode: str) -> int:
    ctx = context(app)
    fix_here(ctx)
    if mode == "continue":
        return interpreter.resume(ctx)
    return interpreter.abort(ctx)
