"""The one user-facing error type and the exit codes of CLI.md."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    FAILED = 1  # a check found violations, a test failed, a step failed
    USAGE = 2  # usage or configuration error, dirty state that blocks the step
    REFUSED = 3  # would break a rule of WORKFLOW.md
    SERVICE = 4  # an external service failed or was unreachable; safe to retry


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
    """The configuration does not fit the repository (e.g. its mainline is not on the
    remote): exit 2, never mistaken for an unreachable service."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message, hint=hint, code=Exit.USAGE)


class ServiceError(ProdfixError):
    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message, hint=hint or "this is safe to retry", code=Exit.SERVICE)
