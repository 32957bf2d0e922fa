"""What every command receives: where it runs and how it talks (the command line builds it;
the team service and tests build their own)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from prodfix.output import Reporter


class App:
    """What every command receives: where it runs and how it talks. A plain class, not a
    dataclass: `prodfix check` starts through it and never needs `dataclasses` (see
    config/model.py for what that import costs)."""

    def __init__(self, cwd: Path, debug: bool = False, out: Reporter | None = None) -> None:
        if out is None:
            from prodfix.output import Reporter

            out = Reporter()
        self.cwd = cwd
        self.debug = debug
        self.out = out

    def quiet(self) -> None:
        """`--json`: stdout carries one JSON document and nothing else."""
        from prodfix.output import Reporter

        self.out = Reporter(quiet=True)
