"""`prodfix init`: write .prodfix.toml with values detected from this repository.

What cannot be detected is not guessed silently: the file carries the choice as a commented
question (`# ?`) and a warning on stderr says what to check.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prodfix.adapters.remote_url import RemoteRepo, is_github_com, parse_remote_url, remote_host
from prodfix.app import App
from prodfix.commands.common import open_repo
from prodfix.config import FILENAME, parse
from prodfix.errors import Exit, ProdfixError

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
PYTHON_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg")
PROBE_TIMEOUT = 10.0  # seconds; one unauthenticated GET, asked for explicitly

Probe = Callable[[str], "bool | None"]  # meta URL -> is GitHub / is not / could not tell


def detect_delivery_pattern(branches: list[str]) -> str:
    """`delivery` alone (Go services) or `delivery-*` trains (Python step code) → `delivery*`
    covers both; a team with an unusual naming gets the exact names' common glob."""
    names = [b for b in branches if b.startswith("delivery")]
    if not names or all(fnmatch.fnmatchcase(b, "delivery*") for b in names):
        return "delivery*"
    return "delivery*"  # pragma: no cover - every name starting with "delivery" matches


@dataclass(frozen=True)
class Detected:
    """A detected value, and the doubt about it when there is one (written as `# ?` lines)."""

    value: str
    question: tuple[str, ...] = ()
    warning: str = ""


def detect_kind(root: Path) -> Detected:
    go = (root / "go.mod").exists()
    python = [m for m in PYTHON_MARKERS if (root / m).exists()]
    if go and python:
        return Detected(
            "go",
            (f"found both go.mod and {python[0]}: chose go; set python if this is Python code",),
        )
    if go:
        return Detected("go")
    if python:
        return Detected("python")
    return Detected(
        "python",
        (
            "nothing detected: no pyproject.toml, setup.py or go.mod at the repository root;",
            'python is a guess — set kind = "go" for a Go module',
        ),
        "nothing told the kind of this repository (no pyproject.toml, setup.py or go.mod): "
        f'wrote kind = "python" as a guess — check it in {FILENAME}, or run '
        "`prodfix init --force --kind go`",
    )


@dataclass(frozen=True)
class Forge:
    type: str  # "github" | "git"
    repo: str | None = None
    api_url: str | None = None
    question: tuple[str, ...] = ()
    alternatives: tuple[str, ...] = ()  # commented-out lines offered with the question
    warning: str = ""


def _parse(url: str) -> RemoteRepo | None:
    try:
        return parse_remote_url(url)
    except ProdfixError:
        return None


def _gh_knows(host: str) -> bool:
    """A GitHub Enterprise host need not say "github": `gh` knows the hosts you logged in to."""
    hosts = Path(os.environ.get("GH_CONFIG_DIR", Path.home() / ".config" / "gh")) / "hosts.yml"
    return hosts.exists() and f"{host}:" in hosts.read_text(errors="replace")


def _github(parsed: RemoteRepo) -> Forge:
    api = None if parsed.is_github_com else parsed.api_url
    return Forge("github", parsed.full_name, api)


def meta_url(host: str, parsed: RemoteRepo | None) -> str:
    """Where GitHub Enterprise Server answers `GET /meta` (its REST base is /api/v3). https
    only, except loopback, like every service URL prodfix talks to."""
    web = parsed.web_url if parsed else f"https://{host}"
    if host not in LOOPBACK and web.startswith("http://"):
        web = "https://" + web.removeprefix("http://")
    return web + "/api/v3/meta"


def detect_forge(url: str | None, probe: Probe | None) -> Forge:
    host = remote_host(url) if url else None
    if url is None or host is None:
        return Forge("git")  # a path or file:// remote: the embedded forge is the only choice
    parsed = _parse(url)
    named = is_github_com(host) or "github" in host or _gh_knows(host)
    if named and parsed is not None:
        return _github(parsed)
    if "gitlab" in host or "bitbucket" in host:
        name = "GitLab" if "gitlab" in host else "Bitbucket"
        return Forge(
            "git",
            question=(
                f"{host} looks like {name}, where prodfix cannot open pull requests yet.",
                'With type = "git" prodfix keeps its own pull requests as refs/prodfix/* in',
                f"that repository, beside {name}'s. Keep it only if the team agrees.",
            ),
            warning=f"{host} looks like {name}, which prodfix does not support as a forge: "
            f'wrote [forge] type = "git", which keeps pull requests as refs in that '
            f"repository — agree on it with the team before `prodfix propose`",
        )
    meta = meta_url(host, parsed)
    github_lines = ['type = "github"  # GitHub Enterprise Server']
    if parsed is not None:
        github_lines += [f'api-url = "{parsed.api_url}"', f'repo = "{parsed.full_name}"']
    answer = probe(meta) if probe is not None else None
    if answer and parsed is not None:
        return _github(parsed)
    if answer is None and probe is None:
        why = f"not asked (`prodfix init --probe` asks {meta} whether it is GitHub)"
    elif answer is None:
        why = f"{meta} did not answer"
    elif answer:
        why = f"{meta} says GitHub, but the remote URL names no owner/repository"
    else:
        why = f"{meta} answered, and not as GitHub Enterprise does"
    return Forge(
        "git",
        question=(
            f"which forge is {host}? prodfix could not tell: {why}.",
            "Keep the type below, or switch to the commented GitHub lines:",
        ),
        alternatives=tuple(github_lines),
        warning=f"could not tell which forge {host} is ({why}): wrote [forge] "
        f'type = "git", which keeps pull requests as refs in that repository — check the '
        f"question in {FILENAME}" + ("" if probe else ", or run `prodfix init --probe --force`"),
    )


def probe_github(meta: str) -> bool | None:
    """Ask `GET /meta` without credentials. GitHub Enterprise Server answers with
    `installed_version` (docs.github.com, REST API "Meta"); GitHub's API answers, errors
    included, carry an `X-GitHub-Request-Id` header (docs.github.com, "Troubleshooting the
    REST API"), which tells a GitHub that refuses anonymous requests from other servers.
    True: GitHub; False: something else answered; None: no answer."""
    from urllib.parse import urlsplit

    from prodfix.adapters.http import Http, RetryPolicy
    from prodfix.errors import ServiceError

    parts = urlsplit(meta)
    base = f"{parts.scheme}://{parts.netloc}"
    http = Http("the forge probe", base, policy=RetryPolicy(attempts=1, timeout=PROBE_TIMEOUT))
    try:
        resp = http.request("GET", parts.path, ok=(200,), expect=tuple(range(300, 600)))
    except ServiceError:
        return None
    finally:
        http.close()
    if "x-github-request-id" in resp.headers or "x-github-enterprise-version" in resp.headers:
        return True
    try:
        doc = resp.json() if resp.status_code == 200 else None
    except ValueError:
        return False
    return isinstance(doc, dict) and "installed_version" in doc


def _question(lines: tuple[str, ...]) -> list[str]:
    return [f"# ? {lines[0]}", *(f"#   {q}" for q in lines[1:])] if lines else []


def render(kind: Detected, delivery: str, forge: Forge, remote: str) -> str:
    lines = [
        "# prodfix configuration — every key with examples: docs/configuration.md of prodfix.",
        *_question(kind.question),
        f'kind = "{kind.value}"',
        'mainline = "master"',
        f'delivery = "{delivery}"',
        'fix-branch = "fix/{name}"',
        f'remote = "{remote}"',
        "max-backmerge-days = 7",
        "",
        "[forge]",
        *_question(forge.question),
        *(f"# {a}" for a in forge.alternatives),
        f'type = "{forge.type}"',
    ]
    if forge.type == "git":
        lines.append("approvals = 1")
    if forge.api_url:
        lines.append(f'api-url = "{forge.api_url}"')
    if forge.repo:
        lines.append(f'repo = "{forge.repo}"')
    lines += ["", "[build]", 'type = "none"   # jenkins | command | none', ""]
    return "\n".join(lines)


def run(app: App, *, kind: str | None, force: bool, dry_run: bool, probe: bool = False) -> int:
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
    detected = Detected(kind) if kind else detect_kind(repo.path)
    forge = detect_forge(url, probe_github if probe else None)
    text = render(detected, detect_delivery_pattern(branches), forge, remote)
    parse(text, FILENAME)  # what we write must load
    for w in (detected.warning, forge.warning):
        if w:
            app.out.warn(w)
    if dry_run:
        app.out.say(text)
        return Exit.OK
    from prodfix.adapters.files import write_atomic

    write_atomic(target, text)
    matched = [b for b in branches if fnmatch.fnmatchcase(b, "delivery*")]
    app.out.say(f"wrote {target}")
    app.out.say(
        f"  kind: {detected.value}{' (a guess)' if detected.question else ''}; "
        f"forge: {forge.type}"
        + (f" ({forge.repo})" if forge.repo else "")
        + (" (a question for you in the file)" if forge.question else "")
    )
    app.out.say(f"  delivery branches on {remote}: {', '.join(matched) or 'none yet'}")
    return Exit.OK
