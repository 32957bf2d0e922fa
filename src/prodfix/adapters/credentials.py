"""GitHub tokens found the way `gh` finds them, and a doctor report about the one found.

Order (`gh help environment`; cli/go-gh pkg/auth/auth.go): github.com and GHE.com read
GH_TOKEN then GITHUB_TOKEN; Enterprise Server hosts read GH_ENTERPRISE_TOKEN then
GITHUB_ENTERPRISE_TOKEN, and ignore GH_TOKEN; then `gh auth token --hostname HOST`, because gh
keeps tokens in the OS keyring more often than in hosts.yml. No token is not an error: the
caller falls back to printing compare URLs, and `missing_token` says what was read and what
to set. This module knows hosts, not forges: it imports nothing from `adapters.forge`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from prodfix.adapters.remote_url import RemoteRepo, is_github_com

GH_TIMEOUT = 10.0  # seconds; gh may have to unlock a keyring, but must never hang prodfix


@dataclass(frozen=True)
class Credential:
    """A token and where it came from. Only `source` is ever shown (secrets never appear in
    any output), so repr/str are overridden rather than trusting field(repr=False)."""

    source: str  # "environment variable GH_TOKEN", "`gh auth token --hostname HOST`"
    secret: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credential(source={self.source!r})"

    __str__ = __repr__


def token_variables(host: str) -> tuple[str, str]:
    if is_github_com(host):
        return ("GH_TOKEN", "GITHUB_TOKEN")
    return ("GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN")


def _other_variables(host: str) -> tuple[str, str]:
    """The variables gh reads for the other kind of host: set, they are ignored for `host`."""
    if is_github_com(host):
        return ("GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN")
    return ("GH_TOKEN", "GITHUB_TOKEN")


@dataclass(frozen=True)
class Missing:
    """Why no token was found for a host: what was read, what was ignored, what to set."""

    host: str
    searched: str  # "GH_TOKEN and GITHUB_TOKEN (neither set), then gh (not installed)"
    ignored: str  # "GH_TOKEN is set, but …" or ""
    hint: str

    @property
    def message(self) -> str:
        text = f"no GitHub token for {self.host}: read {self.searched}"
        return f"{text}; {self.ignored}" if self.ignored else text


def missing_token(
    host: str, *, env: Mapping[str, str] | None = None, gh: str | None = None
) -> Missing:
    """The explanation to give after `discover_token(host)` returned None. Does not run gh."""
    env = os.environ if env is None else env
    wanted = token_variables(host)
    exe = gh or shutil.which("gh", path=env.get("PATH"))
    tried = f"`gh auth token --hostname {host}` (no token)" if exe else "gh (not installed)"
    searched = f"{wanted[0]} and {wanted[1]} (neither set), then {tried}"
    ignored = [v for v in _other_variables(host) if env.get(v, "").strip()]
    note = ""
    if ignored:
        scope = (
            "GitHub Enterprise Server hosts"
            if is_github_com(host)
            else "github.com and *.ghe.com hosts"
        )
        verb, it = ("is", "it") if len(ignored) == 1 else ("are", "them")
        note = (
            f"{' and '.join(ignored)} {verb} set, but like gh, prodfix uses {it} only for {scope}"
        )
    hint = f"set {wanted[0]} or {wanted[1]}, or run `gh auth login --hostname {host}`"
    return Missing(host, searched, note, hint)


def discover_token(
    host: str,
    *,
    env: Mapping[str, str] | None = None,
    gh: str | None = None,
    timeout: float = GH_TIMEOUT,
) -> Credential | None:
    """The first token for `host`: environment variables, then `gh auth token`.
    `gh` overrides the executable (default: `gh` on PATH)."""
    env = os.environ if env is None else env
    for var in token_variables(host):
        value = env.get(var, "").strip()
        if value:
            return Credential(f"environment variable {var}", value)
    exe = gh or shutil.which("gh", path=env.get("PATH"))
    if not exe:
        return None
    argv = [exe, "auth", "token", "--hostname", host]
    try:
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**env, "GH_PROMPT_DISABLED": "1"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return None  # a broken or hanging gh is the same as no gh: fall back to compare URLs
    token = proc.stdout.strip()
    if proc.returncode != 0 or not token or "\n" in token:
        return None
    return Credential(f"`gh auth token --hostname {host}`", token)


@dataclass(frozen=True)
class DoctorReport:
    host: str
    source: str | None  # None: no token found
    authenticated: bool | None  # None: not tried (no token)
    login: str | None = None
    scopes: tuple[str, ...] | None = None  # None: GitHub did not say (fine-grained/App tokens)
    problem: str = ""

    def lines(self) -> list[str]:
        if self.source is None:
            missing = missing_token(self.host)
            return [missing.message, f"next: {missing.hint}"]
        out = [f"token for {self.host} from {self.source}"]
        if self.authenticated:
            out.append(f"authenticates as {self.login}")
            if self.scopes is not None:
                out.append("scopes: " + (", ".join(self.scopes) or "(none)"))
        else:
            out.append(f"does not authenticate: {self.problem}")
        return out


class Authenticating(Protocol):
    """What a doctor report needs of a forge client (the GitHub forge is one)."""

    @property
    def remote(self) -> RemoteRepo: ...

    @property
    def credential(self) -> Credential | None: ...

    def whoami(self) -> tuple[str, tuple[str, ...] | None]: ...


def doctor_report(forge: Authenticating) -> DoctorReport:
    """Which credential the forge uses and whether GitHub accepts it (`GET /user`)."""
    from prodfix.errors import ProdfixError

    host = forge.remote.host
    if forge.credential is None:
        return DoctorReport(host, None, None)
    try:
        login, scopes = forge.whoami()
    except ProdfixError as exc:
        return DoctorReport(host, forge.credential.source, False, problem=exc.message)
    return DoctorReport(host, forge.credential.source, True, login, scopes)
