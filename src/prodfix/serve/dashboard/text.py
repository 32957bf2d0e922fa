"""Small pure helpers of the dashboard: ages, display names and links that are safe to emit.

Everything shown comes from repositories and forges, so it is untrusted: a URL is only ever
emitted as a link when it is an absolute http(s) address (never `javascript:` or `data:`), and a
remote URL is never shown as given (it may carry credentials in its userinfo).
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

from prodfix.adapters.remote_url import parse_remote_url
from prodfix.errors import ProdfixError

_OWNER_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_HEX_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
# RFC 3986 shape, narrowed: scheme http(s), then a host (name or [IPv6]), optional port, and a
# path/query/fragment without spaces or backslashes. A regex, not urlsplit: one call per link
# on a page with thousands of them.
_WEB_URL = re.compile(
    r"^https?://(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
    r"(?:[/?#][^\s\\]*)?$",
    re.IGNORECASE,
)


def format_age(seconds: float) -> str:
    """`45s`, `12m`, `5h`, `3d`: the buckets `prodfix status` uses for waiting times."""
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def parse_time(stamp: str | None) -> datetime | None:
    """An ISO 8601 instant with a zone (`2026-11-29T10:00:00Z`), or None when absent/unusable."""
    if not stamp:
        return None
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def age_since(stamp: str | None, now: datetime) -> str:
    when = parse_time(stamp)
    return "" if when is None else format_age((now - when).total_seconds())


def safe_href(url: str | None) -> str | None:
    """The URL when a browser may follow it as a plain web link, else None: an absolute http(s)
    address with a host name or bracketed IP, no user info (a credential in a link would be
    shown to every reader), no whitespace or backslash (browsers rewrite those)."""
    return url if url and _WEB_URL.match(url) else None


@lru_cache(maxsize=1024)
def repo_name(remote: str, path: str) -> str:
    """`owner/name` for a forge remote, else the last path segment without `.git`."""
    try:
        return parse_remote_url(remote).full_name if remote else _basename(path)
    except ProdfixError:
        return _basename(remote) or _basename(path)


def display_repo(given: str) -> str:
    """A served repository as the service names it (`owner/name`, a path or a URL), shown the
    way fix rows show theirs (see `repo_name`)."""
    return given if _OWNER_NAME.match(given) else repo_name(given, given)


def _basename(location: str) -> str:
    tail = location.rstrip("/").rsplit("/", 1)[-1]
    return tail.removesuffix(".git")


def commit_href(web: str | None, sha: str | None) -> str | None:
    """The web page of a commit under a repository's web address (see `web_address`)."""
    if web is None or not sha or not _HEX_SHA.match(sha):
        return None
    return f"{web}/commit/{sha}"


@lru_cache(maxsize=1024)
def web_address(remote: str) -> str | None:
    """`https://HOST/OWNER/NAME` for a remote on a forge host, under which GitHub serves
    `/commit/SHA`; None for local paths and unparseable remotes. Cached: every fix of a
    repository has the same remote."""
    if not remote:
        return None
    try:
        r = parse_remote_url(remote)
    except ProdfixError:
        return None
    return safe_href(f"{r.web_url}/{r.owner}/{r.name}")
