"""What every command receives: where it runs and how it talks (the command line builds it;
the team service and tests build their own)."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # no typing at run time: `check` starts through here (prodfix/tuples.py)
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from prodfix.output import Reporter


class App:
    """What every command receives: where it runs and how it talks. A plain class, not a
    dataclass: `prodfix check` starts through it and never needs `dataclasses` (see
    config/model.py for what that import costs)."""

    def __init__(self, cwd: Path | str, debug: bool = False, out: Reporter | None = None) -> None:
        if out is None:
            from prodfix.output import Reporter

            out = Reporter()
        self.directory = os.fspath(cwd)  # where the command runs (`check` needs no pathlib)
        self._cwd: Path | None = None
        self.debug = debug
        self.out = out
        self._closers: list[Callable[[], object]] = []

    @property
    def cwd(self) -> Path:
        if self._cwd is None:
            from pathlib import Path

            self._cwd = Path(self.directory)
        return self._cwd

    def quiet(self) -> None:
        """`--json`: stdout carries one JSON document and nothing else."""
        from prodfix.output import Reporter

        self.out = Reporter(quiet=True)

    def at(self, cwd: Path) -> App:
        """The same App run in another directory; what it opens is closed with this one."""
        other = App(cwd, self.debug, self.out)
        other._closers = self._closers
        return other

    def on_close(self, close: Callable[[], object]) -> None:
        """Release this when the command ends (its record store's connection)."""
        self._closers.append(close)

    def close(self) -> None:
        """What `on_close` was given, latest first: a command run in-process (a test, a
        program using prodfix as a library) leaves no open connection behind."""
        while self._closers:
            self._closers.pop()()
