"""Jenkins credentials: user + API token from the environment, else a netrc entry for the host.

JENKINS_USER / JENKINS_API_TOKEN, or a netrc entry (docs/configuration.md). The source is kept
so errors can say where a rejected credential came from; the token never leaves this object
(repr hides it, messages name only the source).
"""

from __future__ import annotations

import netrc
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from prodfix.errors import ProdfixError


@dataclass(frozen=True)
class Credentials:
    user: str
    token: str = field(repr=False)
    source: str  # e.g. "JENKINS_USER/JENKINS_API_TOKEN" or "netrc /home/a/.netrc (jenkins.x)"


def netrc_path() -> Path:
    # Same lookup as curl and Python's netrc module: $NETRC, else ~/.netrc.
    return Path(os.environ.get("NETRC") or Path.home() / ".netrc")


def find(base_url: str) -> Credentials | None:
    user, token = os.environ.get("JENKINS_USER", ""), os.environ.get("JENKINS_API_TOKEN", "")
    if user and token:
        return Credentials(user, token, "JENKINS_USER/JENKINS_API_TOKEN")
    if user or token:
        missing = "JENKINS_API_TOKEN" if user else "JENKINS_USER"
        raise ProdfixError(
            f"Jenkins credentials are incomplete: {missing} is not set",
            hint="set both JENKINS_USER and JENKINS_API_TOKEN, or neither to use ~/.netrc",
        )
    path = netrc_path()
    host = urlsplit(base_url).hostname or ""
    if not path.is_file() or not host:
        return None
    try:
        entry = netrc.netrc(str(path)).authenticators(host)
    except (netrc.NetrcParseError, OSError) as exc:
        # NetrcParseError's text quotes the offending line, which may hold a password.
        raise ProdfixError(
            f"cannot read {path} (line {getattr(exc, 'lineno', '?')})",
            hint="fix the netrc file, or set JENKINS_USER and JENKINS_API_TOKEN",
        ) from None
    if entry is None or not entry[0] or not entry[2]:
        return None
    return Credentials(entry[0], entry[2], f"netrc {path} (machine {host})")
