"""What every command receives: where it runs and how it talks (the command line builds it;
the team service and tests build their own)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prodfix.output import Reporter


def _reporter() -> Reporter:
    from prodfix.output import Reporter

    return Reporter()


@dataclass
class App:
    """What every command receives: where it runs and how it talks."""

    cwd: Path
    debug: bool = False
    out: Reporter = field(default_factory=_reporter)

    def quiet(self) -> None:
        """`--json`: stdout carries one JSON document and nothing else."""
        from prodfix.output import Reporter

        self.out = Reporter(quiet=True)
