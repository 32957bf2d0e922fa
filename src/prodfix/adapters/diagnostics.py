"""Rows of `prodfix doctor`: one check, its result and what to do (shared by the checks each
adapter contributes, e.g. the forge's)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from prodfix.adapters.http import RetryPolicy

OK, WARNING, FAILED = "ok", "warning", "FAILED"
TIMEOUT = 10.0  # seconds per request: long enough for a slow VPN, short enough to diagnose


def policy() -> RetryPolicy:
    """One try, a short timeout: a diagnosis that retries for seconds hides the answer."""
    return RetryPolicy(attempts=1, timeout=TIMEOUT)


@dataclass(frozen=True)
class Check:
    where: str  # the repository's directory name, or "" for checks of the machine
    what: str  # "git", "remote", "forge", "GitHub token", "Jenkins", "Argo CD", ...
    result: str  # OK | WARNING | FAILED
    detail: str
    hint: str = ""


def redact(url: str) -> str:
    """The URL without a password or token in its userinfo (`https://x:SECRET@host/...`)."""
    return re.sub(r"(?<=//)[^@/]*@", "***@", url)
