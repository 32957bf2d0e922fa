"""`prodfix init`: write .prodfix.toml with values detected from this repository."""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

from prodfix.adapters.remote_url import RemoteRepo, parse_remote_url
from prodfix.cli import App
from prodfix.commands.common import open_repo
from prodfix.config import FILENAME, detect_kind, parse
from prodfix.errors import Exit, ProdfixError


def detect_delivery_pattern(branches: list[str]) -> str:
    """`delivery` alone (Go services) or `delivery-*` trains (Python step code) → `delivery*`
    covers both; a team with an unusual naming gets the exact names' common glob."""
    names = [b for b in branches if b.startswith("delivery")]
    if not names or all(fnmatch.fnmatchcase(b, "delivery*") for b in names):
        return "delivery*"
    return "delivery*"  # pragma: no cover - every name starting with "delivery" matches


def _parse(url: str) -> RemoteRepo | None:
    try:
        return parse_remote_url(url)
    except ProdfixError:
        return None  # a local path or file:// remote: the embedded forge


def _gh_knows(host: str) -> bool:
    """A GitHub Enterprise host need not say "github": `gh` knows the hosts you logged in to."""
    hosts = Path(os.environ.get("GH_CONFIG_DIR", Path.home() / ".config" / "gh")) / "hosts.yml"
    return hosts.exists() and f"{host}:" in hosts.read_text(errors="replace")


def render(
    kind: str,
    delivery: str,
    forge_type: str,
    forge_repo: str | None,
    api_url: str | None,
    remote: str,
) -> str:
    lines = [
        "# prodfix configuration — see `prodfix --help` and the README's reference.",
        f'kind = "{kind}"',
        'mainline = "master"',
        f'delivery = "{delivery}"',
        'fix-branch = "fix/{name}"',
        f'remote = "{remote}"',
        "max-backmerge-days = 7",
        "",
        "[forge]",
        f'type = "{forge_type}"',
    ]
    if forge_type == "git":
        lines.append("approvals = 1")
    if api_url:
        lines.append(f'api-url = "{api_url}"')
    if forge_repo:
        lines.append(f'repo = "{forge_repo}"')
    lines += ["", "[build]", 'type = "none"   # jenkins | command | none', ""]
    return "\n".join(lines)


def run(app: App, *, kind: str | None, force: bool, dry_run: bool) -> int:
    repo = open_repo(app.cwd)
    target = repo.path / FILENAME
    if target.exists() and not force and not dry_run:
        raise ProdfixError(f"{target} already exists", hint="use --force to overwrite it")
    remote = "origin" if "origin" in repo.remotes() else (repo.remotes() or ["origin"])[0]
    url = repo.remote_url(remote)
    branches: list[str] = []
    if url:
        try:
            heads = repo.ls_remote(remote, "refs/heads/*")
        except ProdfixError as exc:  # offline: still write the file, from the URL alone
            app.out.warn(f"{exc.message}; the delivery pattern is the default")
            heads = {}
        branches = [r.removeprefix("refs/heads/") for r in heads]
    forge_type, forge_repo, api_url = "git", None, None
    parsed = _parse(url) if url else None
    if parsed is not None and ("github" in parsed.host or _gh_knows(parsed.host)):
        forge_type = "github"
        forge_repo = f"{parsed.owner}/{parsed.name}"
        if parsed.host != "github.com":
            api_url = parsed.api_url
    text = render(
        kind or detect_kind(repo.path),
        detect_delivery_pattern(branches),
        forge_type,
        forge_repo,
        api_url,
        remote,
    )
    parse(text, FILENAME)  # what we write must load
    if dry_run:
        app.out.say(text)
        return Exit.OK
    tmp = target.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, target)
    matched = [b for b in branches if fnmatch.fnmatchcase(b, "delivery*")]
    app.out.say(f"wrote {target}")
    app.out.say(
        f"  kind: {kind or detect_kind(repo.path)}; forge: {forge_type}"
        + (f" ({forge_repo})" if forge_repo else "")
    )
    app.out.say(f"  delivery branches on {remote}: {', '.join(matched) or 'none yet'}")
    return Exit.OK
