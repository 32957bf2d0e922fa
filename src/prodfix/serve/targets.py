"""The served repositories and the service's own clones of them.

Each served repository gets a bare clone under `PRODFIX_HOME/serve/clones/<hash>` — never a
user's checkout. For GitHub the installation token reaches git through the environment
(`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`, git-config(1) "ENVIRONMENT"), as an
`http.extraHeader`, so it is never written to the clone's config, to disk or to a log.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from prodfix.adapters.git import Repo, Result, run
from prodfix.adapters.paths import ensure_private_dir, home
from prodfix.adapters.remote_url import RemoteRepo, graphql_url_for, parse_remote_url
from prodfix.errors import Exit, ProdfixError

_OWNER_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class Target:
    key: str  # how the service names it: owner/name on GitHub, else the path/URL given
    url: str  # what git fetches
    github: RemoteRepo | None = None  # set when the forge is the GitHub App's

    @property
    def display(self) -> str:
        return self.key


def resolve(spec: str, *, api_url: str | None, github_repo: str | None = None) -> Target:
    """A `[[repos]]` url or a REPO argument: a path, a URL, or owner/name (needs [github]).
    `github_repo` names the GitHub repository when `spec` is a mirror or a path of it."""
    path = Path(spec).expanduser()
    if github_repo is not None:
        if api_url is None or not _OWNER_NAME.match(github_repo):
            raise ProdfixError(
                f"github-repo {github_repo!r} needs the [github] App and the form owner/name",
                hint="configure [github], or drop github-repo",
            )
        url = str(path.resolve()) if path.exists() else spec
        return github_target(github_repo, api_url=api_url, git_url=url)
    if _OWNER_NAME.match(spec) and not path.exists():
        if api_url is None:
            raise ProdfixError(
                f"{spec!r} looks like owner/name, which needs the [github] App",
                hint="configure [github], or give a path or URL",
            )
        return github_target(spec, api_url=api_url)
    if path.exists():
        return Target(str(path.resolve()), str(path.resolve()))
    if "://" in spec or re.match(r"^[^/@]+@[^:]+:", spec):
        if api_url is not None:
            try:
                remote = parse_remote_url(spec)
            except ProdfixError:
                remote = None
            if remote is not None and _same_host(remote.api_url, api_url):
                return github_target(remote.full_name, api_url=api_url, git_url=spec)
        return Target(spec, spec)
    raise ProdfixError(f"{spec!r}: no such repository path", hint="check the path or URL")


def _same_host(a: str, b: str) -> bool:
    return urlsplit(a).netloc == urlsplit(b).netloc


def web_url_for(api_url: str) -> str:
    parts = urlsplit(api_url)
    host = parts.netloc
    if host == "api.github.com":
        return "https://github.com"
    if host.startswith("api.") and host.endswith(".ghe.com"):
        return f"https://{host.removeprefix('api.')}"
    return f"{parts.scheme}://{host}"  # Enterprise Server: https://HOST/api/v3 → https://HOST


def github_target(full_name: str, *, api_url: str, git_url: str | None = None) -> Target:
    owner, name = full_name.split("/", 1)
    web = web_url_for(api_url)
    host = urlsplit(web).hostname or ""
    remote = RemoteRepo(host, owner, name, web, api_url.rstrip("/"), graphql_url_for(api_url))
    return Target(full_name, git_url or f"{web}/{full_name}.git", remote)


def auth_env(token: str) -> dict[str, str]:
    """git's HTTP auth for an installation token, through the environment only."""
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "http.extraHeader",
        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}",
        "GIT_TERMINAL_PROMPT": "0",
    }


class AuthRepo(Repo):
    """A clone whose every git call carries the current token in its environment."""

    def __init__(self, path: Path | str, env: Callable[[], dict[str, str]]) -> None:
        super().__init__(path)
        self._env = env

    def git(self, *args: str, **kw: object) -> Result:
        extra = dict(kw.pop("env", None) or {})  # type: ignore[call-overload]
        return run(self.path, *args, env={**self._env(), **extra}, **kw)  # type: ignore[arg-type]

    def out(self, *args: str) -> str:
        return self.git(*args).stdout.strip()


def clone_dir(target: Target) -> Path:
    digest = hashlib.sha256(target.url.encode()).hexdigest()[:16]
    return ensure_private_dir(home() / "serve" / "clones") / digest


def open_clone(target: Target, env: Callable[[], dict[str, str]] | None = None) -> Repo:
    """The service's bare clone of `target`, created on first use (fetching is the caller's)."""
    path = clone_dir(target)
    if not (path / "HEAD").exists():
        tmp = path.with_name(path.name + ".new")
        run(path.parent, "init", "--quiet", "--bare", str(tmp))
        run(tmp, "remote", "add", "origin", target.url)
        tmp.rename(path)
    repo: Repo = AuthRepo(path, env) if env is not None else Repo(path)
    return repo


def fetch(repo: Repo, *, pull: int | None = None) -> None:
    """Branches (pruned) and, for a GitHub PR, its head ref (a fork's head lives only there)."""
    r = repo.git(
        "-c", "fetch.writeCommitGraph=true", "fetch", "--quiet", "--no-tags", "--prune", "origin",
        "+refs/heads/*:refs/remotes/origin/*",
        check=False,
    )  # fmt: skip
    if r.returncode != 0:
        raise ProdfixError(
            f"cannot fetch {repo.remote_url('origin') or 'origin'}: "
            f"{(r.stderr.strip().splitlines() or ['git failed'])[-1]}",
            hint="check the repository URL and the service's access; the job is retried",
            code=Exit.SERVICE,
        )
    if pull is not None:
        repo.git(
            "fetch", "--quiet", "--no-tags", "origin",
            f"+refs/pull/{pull}/head:refs/remotes/origin/pull/{pull}",
            check=False,
        )  # fmt: skip
