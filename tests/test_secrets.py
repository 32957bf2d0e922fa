"""Secrets: tokens never leave the environment — not in any output (with --debug
too), not in run state, not in the database, not in any file under PRODFIX_HOME; those files
are private (0600, dirs 0700)."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from tests.cli import Run, prodfix_proc
from tests.gitfix import Sandbox
from tests.scenario import service_world

TOKENS = {
    "GH_TOKEN": "sentinel-gh-7f3a91",
    "GITHUB_TOKEN": "sentinel-github-52be07",
    "GH_ENTERPRISE_TOKEN": "sentinel-ghe-c4d210",
    "GITHUB_ENTERPRISE_TOKEN": "sentinel-ghet-9e8f66",
    "JENKINS_API_TOKEN": "sentinel-jenkins-1a2b3c",
    "ARGOCD_AUTH_TOKEN": "sentinel-argocd-0d9e8f",
}
SENTINELS = tuple(TOKENS.values())


def _closed_port() -> int:
    """A 127.0.0.1 port nobody listens on: every service call fails to connect."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _toml(port: int) -> str:
    url = f"http://127.0.0.1:{port}"
    return f"""kind = "python"

[test]
command = "true"

[forge]
type = "github"
api-url = "{url}/api/v3"
repo = "team/svc"

[build]
type = "jenkins"
url = "{url}"
fix-job = "svc-fix"
delivery-job = "svc-delivery"

[deploy]
repo = "../deploy"
path = "apps/{{dc}}"
dcs = ["us1", "eu1"]
image = "registry.example.com/team/svc"

[deploy.argocd]
url = "{url}"
"""


COMMANDS: tuple[tuple[str, ...], ...] = (
    ("start", "second"),
    ("test",),
    ("test", "--ci"),
    ("propose",),
    ("status",),
    ("status", "--json"),
    ("next",),
    ("next", "--merge"),
    ("backmerge", "--from", "delivery"),
    ("backmerge", "--dry-run", "--json"),
    ("deploy", "--tag", "2.0.0"),
    ("deploy", "--tag", "2.0.0", "--dry-run"),
    ("pr", "list"),
    ("pr", "show", "1"),
    ("pr", "approve", "1"),
    ("pr", "merge", "1"),
    ("check",),
    ("check", "--json"),
    ("continue",),
    ("abort",),
    ("undo",),
    ("undo", "--dry-run"),
    ("doctor",),
)


def _home_files() -> list[Path]:
    home = Path(os.environ["PRODFIX_HOME"])
    return [p for p in home.rglob("*") if p.is_file()]


def _assert_clean(runs: list[tuple[tuple[str, ...], Run]]) -> None:
    for args, r in runs:
        for s in SENTINELS:
            assert s not in r.out and s not in r.err, (args, r.out, r.err)
    files = _home_files()
    assert any(p.name.endswith(".db") for p in files), files  # the database was written
    for p in files:
        data = p.read_bytes()  # .db, -wal, -shm, run state, locks, notes, builds
        for s in SENTINELS:
            assert s.encode() not in data, p


@pytest.fixture
def leaky_world(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    for k, v in TOKENS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("JENKINS_USER", "ada")
    return sandbox


@pytest.mark.slow
@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_no_token_anywhere(leaky_world: Sandbox, debug: bool) -> None:
    port = _closed_port()
    w = service_world(leaky_world, toml=_toml(port), deploy=True)
    pre = ("--debug",) if debug else ()
    runs: list[tuple[tuple[str, ...], Run]] = []
    start = prodfix_proc(w.work, *pre, "start", "leak")
    assert start.code == 0, start.err
    runs.append((("start",), start))
    w.sb.commit(w.work, "fix", {"app.py": "def answer():\n    return 42\n"})
    # a run state on disk: clean too; then finished, so the commands below run for real
    killed = prodfix_proc(w.work, *pre, "start", "other", env={"PRODFIX_DIE_AFTER": "2"})
    assert killed.code == -9, killed.err
    assert list((Path(os.environ["PRODFIX_HOME"]) / "runs").glob("*.json"))
    _assert_clean([(("start", "killed"), killed)])
    assert prodfix_proc(w.work, "continue").code == 0
    w.sb.g(w.work, "switch", "-q", "fix/leak")
    # From here the remote is a GitHub-like URL on the dead port: git and every API fail.
    w.sb.g(w.work, "remote", "set-url", "origin", f"http://127.0.0.1:{port}/team/svc.git")
    for args in COMMANDS:
        r = prodfix_proc(w.work, *pre, *args)
        assert "Traceback" not in r.err or debug, (args, r.err)
        runs.append((args, r))
    # the service calls really were attempted with the tokens and failed
    codes = {a: r.code for a, r in runs}
    for args in (("pr", "list"), ("pr", "show", "1"), ("pr", "merge", "1"), ("pr", "approve", "1")):
        assert codes[args] == 4, (args, runs)
    _assert_clean(runs)


def test_private_files_and_dirs(sandbox: Sandbox) -> None:
    w = service_world(sandbox)
    assert prodfix_proc(w.work, "start", "x", env={"PRODFIX_DIE_AFTER": "1"}).code == -9
    home = Path(os.environ["PRODFIX_HOME"])
    runs = list((home / "runs").glob("*.json"))
    assert runs
    for p in home.rglob("*"):
        mode = stat.S_IMODE(p.stat().st_mode)
        if p.is_dir():
            assert mode == 0o700, (p, oct(mode))
        elif p.suffix in (".json", ".db", ".lock") or p.name.endswith(("-wal", "-shm")):
            assert mode == 0o600, (p, oct(mode))
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    dbs = [p for p in home.rglob("*") if p.name.endswith((".db", "-wal"))]
    assert dbs
