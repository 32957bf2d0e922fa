"""Everything prodfix writes to the terminal goes through here; `--json` bypasses it.

rich is imported only when a table or a live spinner is drawn (NOTES/measurements.md §1:
+20–30 ms at start-up otherwise).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

_quiet = False


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def _tty() -> bool:
    return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"


def say(text: str = "") -> None:
    """Human output on stdout."""
    if not _quiet:
        print(text, flush=True)


def info(text: str) -> None:
    """Progress and notes on stderr (so stdout stays parseable)."""
    print(text, file=sys.stderr, flush=True)


def warn(text: str) -> None:
    print(f"prodfix: warning: {text}", file=sys.stderr, flush=True)


def error(message: str, hint: str = "") -> None:
    print(f"prodfix: error: {message}", file=sys.stderr, flush=True)
    if hint:
        print(f"  next: {hint}", file=sys.stderr, flush=True)


def action(text: str) -> None:
    """A mutation the executor performs, printed as it happens."""
    if not _quiet:
        print(f"  → {text}", flush=True)


def emit_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    if _quiet:
        return
    if not sys.stdout.isatty():
        # Plain aligned text: stable for pipes, logs and tests.
        widths = [
            max(len(c), *(len(r[i]) for r in rows)) if rows else len(c)
            for i, c in enumerate(columns)
        ]
        if title:
            print(title)
        print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
        for r in rows:
            print("  ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)).rstrip())
        sys.stdout.flush()
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title or None, title_justify="left", show_lines=False)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*r)
    Console().print(t)


@contextlib.contextmanager
def waiting(text: str) -> Iterator[Callable[[str], None]]:
    """A spinner on stderr while something waits; yields `tick(new_text)` to update it.

    Without a terminal it prints the first text once and then a line at most every 30 s, so CI
    logs show progress without flooding.
    """
    if not _tty():
        info(f"… {text}")
        last = [time.monotonic()]

        def tick_plain(new: str) -> None:
            if time.monotonic() - last[0] >= 30:
                info(f"… {new}")
                last[0] = time.monotonic()

        yield tick_plain
        return
    from rich.console import Console

    console = Console(stderr=True)
    with console.status(text) as status:

        def tick(new: str) -> None:
            status.update(new)

        yield tick
