"""Everything prodfix tells a person goes through a `Reporter`, injected where it is needed
(the CLI builds one per command; `serve` and tests collect lines instead). `--json` uses a
quiet reporter: stdout then carries the one JSON document and nothing else.

rich is imported only when a table or a live spinner is drawn (+20–30 ms at start-up
otherwise).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from contextlib import AbstractContextManager
    from typing import Any


def plain_terminal() -> bool:
    """NO_COLOR (https://no-color.org) or TERM=dumb: plain ASCII, no colour, no box drawing."""
    return "NO_COLOR" in os.environ or os.environ.get("TERM") == "dumb"


def print_error(message: str, hint: str = "") -> None:
    """The one error format: `prodfix: error: …` and what to do next (the top-level handler)."""
    print(f"prodfix: error: {message}", file=sys.stderr, flush=True)
    if hint:
        print(f"  next: {hint}", file=sys.stderr, flush=True)


class Reporter:
    """Human output: `say` and `action` on stdout, notes and problems on stderr.

    Streams are looked up on every call (not captured at construction), so redirections made
    after the reporter was built — by tests, or by the CLI — are honoured.
    """

    def __init__(self, *, quiet: bool = False) -> None:
        self.quiet = quiet

    # -- stdout ----------------------------------------------------------------------------
    def say(self, text: str = "") -> None:
        if not self.quiet:
            self._out(text)

    def action(self, text: str) -> None:
        """A mutation the executor performs, printed as it happens."""
        if not self.quiet:
            self._out(f"  {'->' if plain_terminal() else '→'} {text}")

    def emit_json(self, doc: Any) -> None:
        """The one JSON document of a `--json` command (never suppressed)."""
        from prodfix.jsontext import dumps  # json.dumps(indent=2, ensure_ascii=False), leaner

        sys.stdout.write(dumps(doc) + "\n")
        sys.stdout.flush()

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        if self.quiet:
            return
        if not sys.stdout.isatty() or plain_terminal() or not self._fits(columns, rows):
            # Pipes, logs, NO_COLOR/TERM=dumb, and terminals too narrow for a boxed table (at
            # 80 columns rich would cut "steps-python" to "steps-p…"): aligned plain text.
            self._plain_table(title, columns, rows)
            return
        from rich.console import Console
        from rich.table import Table

        t = Table(title=title or None, title_justify="left", show_lines=False)
        for c in columns:
            t.add_column(c, no_wrap=True)
        for r in rows:
            t.add_row(*r)
        Console().print(t)

    @staticmethod
    def _fits(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> bool:
        """Whether a boxed table (one space of padding and a rule per column) fits the
        terminal without cutting or wrapping any cell."""
        import shutil

        widths = [
            max([cell_width(c), *(cell_width(r[i]) for r in rows)]) for i, c in enumerate(columns)
        ]
        return sum(w + 3 for w in widths) + 1 <= shutil.get_terminal_size((80, 24)).columns

    # -- stderr ----------------------------------------------------------------------------
    def info(self, text: str) -> None:
        """Progress and notes on stderr (so stdout stays parseable)."""
        print(text, file=sys.stderr, flush=True)

    def warn(self, text: str) -> None:
        print(f"prodfix: warning: {text}", file=sys.stderr, flush=True)

    def error(self, message: str, hint: str = "") -> None:
        print_error(message, hint)

    def waiting(self, text: str) -> AbstractContextManager[Callable[[str], None]]:
        """A spinner on stderr while something waits; gives `tick(new_text)` to update it.

        Without a terminal it prints the first text once and then a line only when the text
        changes (at most every 30 s), so CI logs show progress without flooding.
        """
        from prodfix.waiting import spinner

        return spinner(self, text)

    # -- internals -------------------------------------------------------------------------
    def _out(self, text: str) -> None:
        print(text, flush=True)

    def _plain_table(
        self, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]
    ) -> None:
        """Aligned text: stable for pipes, logs and tests; widths count terminal cells, so
        CJK names align."""
        widths = [
            max(cell_width(c), *(cell_width(r[i]) for r in rows)) if rows else cell_width(c)
            for i, c in enumerate(columns)
        ]
        if title:
            self._out(title)
        for r in [list(columns), *rows]:
            cells = (x + " " * (w - cell_width(x)) for x, w in zip(r, widths, strict=True))
            self._out("  ".join(cells).rstrip())


class Collector(Reporter):
    """A reporter that keeps the lines (the team service, tests): `lines` in order, each
    `(stream, text)` with stream "out" or "err"."""

    def __init__(self, *, quiet: bool = False) -> None:
        super().__init__(quiet=quiet)
        self.lines: list[tuple[str, str]] = []

    def _out(self, text: str) -> None:
        self.lines.append(("out", text))

    def info(self, text: str) -> None:
        self.lines.append(("err", text))

    def warn(self, text: str) -> None:
        self.lines.append(("err", f"warning: {text}"))

    def error(self, message: str, hint: str = "") -> None:
        self.lines.append(("err", f"error: {message}" + (f" (next: {hint})" if hint else "")))

    def emit_json(self, doc: Any) -> None:
        import json

        self.lines.append(("out", json.dumps(doc)))

    def waiting(self, text: str) -> AbstractContextManager[Callable[[str], None]]:
        from prodfix.waiting import noted

        return noted(self, text)

    def text(self) -> str:
        return "\n".join(t for _, t in self.lines)


def cell_width(text: str) -> int:
    """Terminal cells: East Asian wide and fullwidth characters take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
