"""The one user-facing error type and the exit codes (docs/concepts.md, "Exit codes")."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    FAILED = 1  # a check found violations, a test failed, a step failed
    USAGE = 2  # usage or configuration error, dirty state that blocks the step
    REFUSED = 3  # would break a rule of the strategy (docs/workflow.md)
    SERVICE = 4  # an external service failed or was unreachable; safe to retry
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)


class ProdfixError(Exception):
    """An error the user can act on: one line of what went wrong, one line of what to do."""

    def __init__(self, message: str, *, hint: str = "", code: Exit = Exit.USAGE) -> None:
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
