"""The one user-facing error type and the exit codes (docs/concepts.md, "Exit codes")."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final


class Exit:
    """The exit codes, as plain ints: an `IntEnum` would import `enum` at start-up (≈ 3 ms,
    more than `prodfix check` spends on its own work on a clean repository)."""

    OK: Final = 0
    FAILED: Final = 1  # a check found violations, a test failed, a step failed
    USAGE: Final = 2  # usage or configuration error, dirty state that blocks the step
    REFUSED: Final = 3  # would break a rule of the strategy (docs/workflow.md)
    SERVICE: Final = 4  # an external service failed or was unreachable; safe to retry
    INTERRUPTED: Final = 130  # Ctrl-C (128 + SIGINT, as shells report it)


class ProdfixError(Exception):
    """An error the user can act on: one line of what went wrong, one line of what to do."""

    def __init__(self, message: str, *, hint: str = "", code: int = Exit.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


class RuleRefusal(ProdfixError):
    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message, hint=hint, code=Exit.REFUSED)


class ConfigError(ProdfixError):
    """The configuration does not fit the repository (e.g. its mainline does not exist): exit
    2 wherever it is met — never taken for a network failure."""

    def __init__(self, message: str, *, hint: str) -> None:
        super().__init__(message, hint=hint, code=Exit.USAGE)


class ServiceError(ProdfixError):
    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message, hint=hint or "this is safe to retry", code=Exit.SERVICE)
