"""What every click command does: build or find the App, import its command module only now
(so `prodfix --help` stays fast), run it, exit with its code; and completion callbacks that
import their module only when TAB is pressed."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from prodfix.app import App


def run(command: str, /, **kwargs: Any) -> None:
    """Run `prodfix.commands.<command>.run` with the current App and exit with its code."""
    app: App = click.get_current_context().find_object(App) or App(Path.cwd())
    if kwargs.get("as_json"):
        app.quiet()
    module = importlib.import_module(f"prodfix.commands.{command}")
    try:
        code = module.run(app, **kwargs)
    finally:
        app.close()
    sys.exit(int(code))


def complete(kind: str) -> Callable[[click.Context, click.Parameter, str], list[str]]:
    """A shell-completion callback that imports its module only when TAB is pressed."""

    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
        from prodfix.completion import COMPLETERS

        return COMPLETERS[kind](ctx, incomplete)

    return complete
