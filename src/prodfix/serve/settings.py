"""`prodfix-serve.toml`: the service's settings, validated on load (unknown keys with a
did-you-mean, types, ranges), merged with the command-line flags.

Secrets are never *in* this file: it names the environment variable holding the webhook
secret and the path of the App's private key (which must be mode 0600).
"""

from __future__ import annotations

import difflib
import os
import stat
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from prodfix.config import tomlcache
from prodfix.errors import ProdfixError

FILENAME = "prodfix-serve.toml"
DEFAULT_SECRET_ENV = "PRODFIX_WEBHOOK_SECRET"

# table -> key -> (types, default)
_SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], Any]]] = {
    "server": {
        "host": ((str,), "127.0.0.1"),
        "port": ((int,), 8080),
        "database": ((str,), "sqlite"),
        "workers": ((int,), 2),
        "poll-seconds": ((int,), 30),
        "lease-seconds": ((int,), 300),
    },
    "github": {
        "app-id": ((int,), None),
        "private-key-file": ((str,), None),
        "webhook-secret-env": ((str,), DEFAULT_SECRET_ENV),
        "api-url": ((str,), "https://api.github.com"),
        "redeliver-failed": ((bool,), True),
    },
    "policy": {
        "auto-merge-backmerge": ((bool,), False),
        "advance-fixes": ((bool,), False),
    },
    "repos": {
        "url": ((str,), None),
        "github-repo": ((str,), None),  # owner/name when url is a mirror or a path
    },
}
_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false"}


@dataclass(frozen=True)
class GitHubApp:
    app_id: int
    private_key_file: Path
    webhook_secret_env: str
    api_url: str
    redeliver_failed: bool = True

    def private_key(self) -> str:
        return self.private_key_file.read_text(encoding="utf-8")

    def webhook_secret(self) -> bytes:
        return os.environ.get(self.webhook_secret_env, "").encode()


@dataclass(frozen=True)
class RepoSpec:
    url: str  # a path, a URL, or owner/name (with [github])
    github_repo: str | None = None  # owner/name on GitHub when url is a mirror or a path


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    database: str = "sqlite"
    workers: int = 2
    poll_seconds: int = 30
    lease_seconds: int = 300
    github: GitHubApp | None = None
    auto_merge_backmerge: bool = False
    advance_fixes: bool = False  # build merged fixes and open their deploy PRs, as `next` does
    repos: tuple[RepoSpec, ...] = ()
    source: Path | None = None


def _check_table(name: str, table: Any, where: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ProdfixError(f"{where}: [{name}] must be a table", hint=f"write it as [{name}]")
    schema = _SCHEMA[name]
    for key, value in table.items():
        if key not in schema:
            close = difflib.get_close_matches(key, list(schema), n=1, cutoff=0.6)
            did = f" (did you mean {close[0]!r}?)" if close else ""
            raise ProdfixError(
                f"{where}: unknown key {key!r} in [{name}]{did}",
                hint=f"keys of [{name}]: {', '.join(schema)}",
            )
        types, _ = schema[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise ProdfixError(
                f"{where}: [{name}] {key} must be {_TYPE_NAMES[types[0]]}",
                hint=f"e.g. {key} = {_example(types[0])}",
            )
    return {k: table.get(k, default) for k, (_, default) in schema.items()}


def _example(t: type) -> str:
    return {str: '"…"', int: "1", bool: "true"}[t]


def parse(text: str, where: str) -> Settings:
    doc = tomlcache.loads(text, where)  # the CLI's own reading (no cache here)
    for name in doc:
        if name not in _SCHEMA:
            close = difflib.get_close_matches(name, list(_SCHEMA), n=1, cutoff=0.6)
            did = f" (did you mean {close[0]!r}?)" if close else ""
            raise ProdfixError(
                f"{where}: unknown table {name!r}{did}",
                hint="tables: [server], [github], [policy], [[repos]]",
            )
    server = _check_table("server", doc.get("server", {}), where)
    policy = _check_table("policy", doc.get("policy", {}), where)
    raw_repos = doc.get("repos", [])
    if not isinstance(raw_repos, list):
        raise ProdfixError(f"{where}: repos must be [[repos]] tables", hint='[[repos]]\nurl = "…"')
    repos: list[RepoSpec] = []
    for r in raw_repos:
        entry = _check_table("repos", r, where)
        if not entry["url"]:
            raise ProdfixError(f"{where}: a [[repos]] entry has no url", hint='url = "owner/name"')
        repos.append(RepoSpec(str(entry["url"]), entry["github-repo"]))
    for key in ("port", "workers", "poll-seconds", "lease-seconds"):
        low = 0 if key in ("port", "workers") else 1  # workers = 0: an instance that only ingests
        if server[key] < low or (key == "port" and server[key] > 65535):
            raise ProdfixError(f"{where}: [server] {key} is out of range", hint=f"{key} ≥ {low}")
    github = None
    if "github" in doc:
        g = _check_table("github", doc["github"], where)
        for key in ("app-id", "private-key-file"):
            if g[key] is None:
                raise ProdfixError(f"{where}: [github] needs {key}", hint="see docs/serve.md")
        if not str(g["api-url"]).startswith("https://") and not _loopback(str(g["api-url"])):
            raise ProdfixError(
                f"{where}: [github] api-url must use https://",
                hint="http:// is accepted only for 127.0.0.1, ::1 and localhost",
            )
        github = GitHubApp(
            app_id=int(g["app-id"]),
            private_key_file=Path(str(g["private-key-file"])).expanduser(),
            webhook_secret_env=str(g["webhook-secret-env"]),
            api_url=str(g["api-url"]).rstrip("/"),
            redeliver_failed=bool(g["redeliver-failed"]),
        )
    return Settings(
        host=str(server["host"]),
        port=int(server["port"]),
        database=str(server["database"]),
        workers=int(server["workers"]),
        poll_seconds=int(server["poll-seconds"]),
        lease_seconds=int(server["lease-seconds"]),
        github=github,
        auto_merge_backmerge=bool(policy["auto-merge-backmerge"]),
        advance_fixes=bool(policy["advance-fixes"]),
        repos=tuple(repos),
    )


def _loopback(url: str) -> bool:
    return any(url.startswith(f"http://{h}") for h in ("127.0.0.1", "localhost", "[::1]"))


def load(
    path: Path | None,
    *,
    host: str | None = None,
    port: int | None = None,
    database: str | None = None,
    repos: tuple[str, ...] = (),
) -> Settings:
    """The file (if any), then the flags on top; then the checks that need the environment."""
    if path is not None:
        if not path.is_file():
            raise ProdfixError(f"{path}: no such file", hint="check the path given to --config")
        s = replace(parse(path.read_text(encoding="utf-8"), str(path)), source=path)
    else:
        s = Settings()
    s = replace(
        s,
        host=host or s.host,
        port=s.port if port is None else port,
        database=database or s.database,
        repos=(*s.repos, *(RepoSpec(r) for r in repos)),
    )
    if s.github is not None:
        check_private_key(s.github.private_key_file)
        if not s.github.webhook_secret():
            raise ProdfixError(
                f"the webhook secret variable {s.github.webhook_secret_env} is not set",
                hint=f"export {s.github.webhook_secret_env} with the secret of the GitHub App's webhook",
            )
    if not s.repos and s.github is None:
        raise ProdfixError(
            "nothing to serve: no repositories and no [github] App",
            hint="name repositories (prodfix serve PATH...) or write [[repos]] in " + FILENAME,
        )
    return s


def check_private_key(path: Path) -> None:
    """The App's private key signs every token: refuse a key others can read."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        raise ProdfixError(
            f"the GitHub App private key {path} does not exist",
            hint="download it from the App's settings page and set private-key-file",
        ) from None
    if mode & 0o077:
        raise ProdfixError(
            f"the GitHub App private key {path} is readable by others (mode {mode:04o})",
            hint=f"chmod 600 {path}",
        )
