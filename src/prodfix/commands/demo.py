"""`prodfix demo [--dir DIR] [--keep]`."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from prodfix.app import App
from prodfix.errors import Exit, ProdfixError


def run(app: App, *, directory: Path | None, keep: bool, entry: Callable[[list[str]], None]) -> int:
    """`entry` is the command line's (prodfix.cli.main): the demo types commands into it."""
    from prodfix.demo.script import run_demo

    started = time.monotonic()
    if directory is not None:
        root = directory.absolute()
        if root.exists() and any(root.iterdir()):
            raise ProdfixError(f"{root} is not empty", hint="give --dir a new or empty folder")
        root.mkdir(parents=True, exist_ok=True)
    else:
        root = Path(tempfile.mkdtemp(prefix="prodfix-demo-"))
    try:
        run_demo(root, entry, app.out)
    finally:
        if directory is None and not keep:
            shutil.rmtree(root, ignore_errors=True)
    app.out.say(f"\ndemo finished in {time.monotonic() - started:.1f}s")
    if directory is not None or keep:
        app.out.say(f"the sandbox is kept in {root} (remotes/, work/, state/)")
    return Exit.OK
