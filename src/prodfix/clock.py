"""Time, and the two test seams that bend it, in one place.

`PRODFIX_NOW` (Unix seconds) replaces the wall clock that ages findings and waits (audit,
check, status); `PRODFIX_DIE_AFTER=N` makes the interpreter kill its own process with SIGKILL
right after the N-th operation of a command completed and was recorded — the harshest
interruption there is, used by the crash tests. Both are read here and nowhere else.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass

from prodfix.errors import ProdfixError

NOW_VAR = "PRODFIX_NOW"
DIE_AFTER_VAR = "PRODFIX_DIE_AFTER"


@dataclass
class Clock:
    """Wall time for ages, monotonic time and sleep for waits. Tests pass their own."""

    fixed: float | None = None

    def now(self) -> float:
        if self.fixed is not None:
            return self.fixed
        raw = os.environ.get(NOW_VAR)
        if raw:
            try:
                return float(raw)
            except ValueError:
                raise ProdfixError(
                    f"{NOW_VAR}={raw!r} is not a number of seconds",
                    hint=f"unset {NOW_VAR} (a test hook), or set it to Unix seconds",
                ) from None
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class Crash:
    """Counts completed operations of this process and dies after the configured one."""

    def __init__(self) -> None:
        self.completed = 0

    def op_done(self) -> None:
        self.completed += 1
        if os.environ.get(DIE_AFTER_VAR) == str(self.completed):
            os.kill(os.getpid(), signal.SIGKILL)


CRASH = Crash()
