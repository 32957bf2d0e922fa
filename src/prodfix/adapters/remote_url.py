"""Where a git remote lives on GitHub: host, owner, repository, and the API bases that follow.

API bases as `gh` derives them (cli/go-gh, pkg/api/rest_client.go and graphql_client.go):
github.com → `https://api.github.com` (+ `/graphql`); GHE.com tenancy `SUB.ghe.com` →
`https://api.SUB.ghe.com`; anything else is Enterprise Server → `https://HOST/api/v3` and
`https://HOST/api/graphql`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from prodfix.errors import ProdfixError

# scp-like syntax git accepts: [user@]host:owner/repo(.git) (no scheme, no slash before ':').
_SCP = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")


@dataclass(frozen=True)
class RemoteRepo:
    host: str  # hostname only, lower case: what tokens and `gh --hostname` are keyed by
    owner: str
    name: str
    web_url: str  # "https://HOST[:PORT]": where pull requests and compare pages are seen
    api_url: str  # REST base, no trailing slash
    graphql_url: str

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def is_github_com(self) -> bool:
        return is_github_com(self.host)


_URL = re.compile(r"^(https?|ssh|git|file)://|^[\w.-]+@[\w.-]+:")


def is_url(spec: str) -> bool:
    """A git URL (`https://…`, `ssh://…`, `file://…`, `git@host:path`), not a local path."""
    return bool(_URL.match(spec))


def is_github_com(host: str) -> bool:
    """github.com and GHE.com tenancy read GH_TOKEN; Enterprise Server reads GH_ENTERPRISE_TOKEN
    (`gh help environment`; cli/go-gh, pkg/auth/auth.go)."""
    h = host.lower()
    return h == "github.com" or h.endswith(".github.com") or h.endswith(".ghe.com")


def api_urls(host: str, web_url: str) -> tuple[str, str]:
    """(REST base, GraphQL URL) for a host."""
    h = host.lower()
    if h == "github.com" or h.endswith(".github.com"):
        return "https://api.github.com", "https://api.github.com/graphql"
    if h.endswith(".ghe.com"):
        api = "https://api." + h.removeprefix("api.")
        return api, api + "/graphql"
    return web_url + "/api/v3", web_url + "/api/graphql"


def graphql_url_for(api_url: str) -> str:
    """The GraphQL endpoint next to an explicit REST base (`forge.api-url`), as PyGithub and
    githubkit derive it: `/api/v3` → `/api/graphql`, otherwise `/graphql` below the base."""
    base = api_url.rstrip("/")
    if base.endswith("/api/v3"):
        return base.removesuffix("/v3") + "/graphql"
    return base + "/graphql"


def remote_host(url: str) -> str | None:
    """The host of a network remote (scp-like or with a scheme), lower case; None for a local
    path or a file:// URL (git's URL forms: `git help clone`, section GIT URLS)."""
    url = url.strip()
    m = _SCP.match(url) if "://" not in url else None
    if m:
        return m.group("host").lower()
    parts = urlsplit(url)
    if parts.scheme.lower() in ("ssh", "git+ssh", "https", "http", "git") and parts.hostname:
        return parts.hostname.lower()
    return None


def parse_remote_url(url: str) -> RemoteRepo:
    """Parse `git@host:o/r.git`, `ssh://git@host[:port]/o/r.git`, `https://host/o/r(.git)`."""
    url = url.strip()
    m = _SCP.match(url) if "://" not in url else None
    if m:
        host, path, scheme, port = m.group("host"), m.group("path"), "ssh", None
    else:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("ssh", "git+ssh", "https", "http", "git") or not parts.hostname:
            raise _unparseable(url)
        # userinfo (possibly a token in https://x:TOKEN@host/...) is dropped here on purpose.
        host, path, port = parts.hostname, parts.path, parts.port
    segments = [s for s in path.strip("/").split("/") if s]
    if len(segments) != 2:
        raise _unparseable(url)
    owner, name = segments[0], segments[1].removesuffix(".git")
    if not owner or not name:
        raise _unparseable(url)
    host = host.lower()
    if host == "www.github.com":
        host = "github.com"
    # The ssh port says nothing about the web port; an http(s) port does.
    web_scheme = "http" if scheme == "http" else "https"
    web_url = f"{web_scheme}://{host}" + (
        f":{port}" if port and scheme in ("http", "https") else ""
    )
    api, graphql = api_urls(host, web_url)
    return RemoteRepo(host, owner, name, web_url, api, graphql)


def _unparseable(url: str) -> ProdfixError:
    shown = re.sub(r"//[^@/]*@", "//", url)  # never echo credentials embedded in a URL
    return ProdfixError(
        f"cannot tell the GitHub owner/repository from the remote URL {shown!r}",
        hint='set `repo = "owner/name"` (and `api-url`) in the [forge] table of .prodfix.toml',
    )
