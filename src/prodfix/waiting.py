"""How a `Reporter` shows a wait: a spinner on a terminal, changed texts in a log, a note in a
`Collector`. Apart from output.py, which every command imports, so that `contextlib` (and its
`functools` and `collections`) is loaded only by commands that wait."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prodfix.output import plain_terminal

if TYPE_CHECKING:
    from prodfix.output import Reporter


@contextlib.contextmanager
def spinner(out: Reporter, text: str) -> Iterator[Callable[[str], None]]:
    if not _tty():
        out.info(f"... {text}" if plain_terminal() else f"… {text}")
        last: list[Any] = [time.monotonic(), _stem(text)]

        def tick_plain(new: str) -> None:
            if _stem(new) != last[1] and time.monotonic() - last[0] >= 30:
                out.info(f"... {new}" if plain_terminal() else f"… {new}")
                last[0], last[1] = time.monotonic(), _stem(new)

        yield tick_plain
        return
    from rich.console import Console

    console = Console(stderr=True)
    with console.status(text) as status:

        def tick(new: str) -> None:
            status.update(new)

        yield tick


@contextlib.contextmanager
def noted(out: Reporter, text: str) -> Iterator[Callable[[str], None]]:
    out.info(text)
    yield lambda new: None


def _tty() -> bool:
    import os
    import sys

    return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"


def _stem(text: str) -> str:
    """A waiting text without its countdown ("next look in 12s"), to print on change only."""
    return text.split(" (next look", 1)[0]
