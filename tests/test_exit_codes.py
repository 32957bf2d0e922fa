"""Exit codes as documented, for every command that talks to a remote: an unreachable remote
is 4 (safe to retry), a bad configuration 2, a missing tool 2 (the machine, not the fix),
Ctrl-C 130 — whatever the command. One table, each cell a real repository."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli import prodfix, sigint_default
from tests.gitfix import Sandbox
from tests.scenario import World, service_world

COMMANDS: dict[str, tuple[str, ...]] = {
    "start": ("start", "other"),
    "propose": ("propose",),
    "check": ("check",),
    "next": ("next", "npe"),
    "status": ("status",),
    "backmerge": ("backmerge", "--from", "delivery"),
    "sync": ("sync",),
    "test": ("test",),
}
REMOTE_FREE = {"test"}  # runs no remote operation


def _world(sb: Sandbox) -> World:
    """A fix started and committed (so every command has something to do)."""
    w = service_world(sb)
    w.ok("start", "npe")
    w.sb.commit(w.work, "fix: answer 42", {"app.py": "def answer():\n    return 42\n"})
    return w


@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in REMOTE_FREE])
def test_unreachable_remote_is_4(command: str, sandbox: Sandbox) -> None:
    w = _world(sandbox)
    w.sb.g(w.work, "remote", "set-url", "origin", str(sandbox.root / "gone.git"))
    r = prodfix(w.work, *COMMANDS[command])
    assert r.code == 4, (r.code, r.out, r.err)
    assert "Traceback" not in r.err and "next:" in r.err + r.out


@pytest.mark.parametrize("command", list(COMMANDS))
def test_bad_configuration_is_2(command: str, sandbox: Sandbox) -> None:
    w = _world(sandbox)
    (w.work / ".prodfix.toml").write_text("delivry = 'delivery*'\n")
    r = prodfix(w.work, *COMMANDS[command])
    assert r.code == 2, (r.code, r.out, r.err)
    assert "unknown key 'delivry' (did you mean 'delivery'?)" in r.err


@pytest.mark.parametrize("command", list(COMMANDS))
def test_git_not_installed_is_2(
    command: str, sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = _world(sandbox)
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    r = prodfix(w.work, *COMMANDS[command])
    assert r.code == 2, (r.code, r.out, r.err)
    assert "git is not installed or not on PATH" in r.err


@pytest.mark.parametrize("command", ["test", "next"])
def test_a_missing_test_tool_is_2_not_a_failed_test(
    command: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    w = _world(sandbox)
    (w.work / ".prodfix.toml").write_text(
        (w.work / ".prodfix.toml").read_text().replace('command = "true"', 'command = "go test"')
    )
    bindir = tmp_path / "git-only"  # git, and no go whatever this machine has
    bindir.mkdir()
    (bindir / "git").symlink_to(str(shutil.which("git")))
    env = {"PATH": str(bindir)}
    r = prodfix(w.work, *COMMANDS[command], env=env)
    assert r.code == 2, (r.code, r.out, r.err)
    assert "go is not installed (not found on PATH): the tests did not run" in r.err


SLOW_GIT = """#!/bin/sh
# git that hangs on network operations (the test sends Ctrl-C meanwhile)
case "$*" in
  *fetch*|*ls-remote*|*push*) touch "$MARKER"; exec sleep 60 ;;
esac
exec "$REAL_GIT" "$@"
"""


@pytest.mark.parametrize("command", list(COMMANDS))
def test_ctrl_c_is_130(command: str, sandbox: Sandbox, tmp_path: Path) -> None:
    w = _world(sandbox)
    if command == "test":
        (w.work / "slow-test.sh").write_text('touch "$MARKER"; exec sleep 60\n')
        toml = (w.work / ".prodfix.toml").read_text()
        (w.work / ".prodfix.toml").write_text(
            toml.replace('command = "true"', 'command = "sh slow-test.sh"')
        )
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "git").write_text(SLOW_GIT)
    (bindir / "git").chmod(0o755)
    marker = tmp_path / "waiting"
    env = dict(os.environ)
    env.update(
        PATH=f"{bindir}{os.pathsep}{env['PATH']}",
        REAL_GIT=str(shutil.which("git")),
        MARKER=str(marker),
    )
    p = subprocess.Popen(
        [sys.executable, "-m", "prodfix", "-C", str(w.work), *COMMANDS[command]],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_default,
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert p.poll() is None, p.communicate()
        assert time.monotonic() < deadline, "never reached a wait"
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, (p.returncode, out, err)
    assert "interrupted" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("check", "--json", "--bogus"), 2, "No such option '--bogus'"),
        (("check", "nosuchref", "--json", "--no-fetch"), 2, "'nosuchref' is not a branch"),
        (("status", "--json", "--nope"), 2, "No such option '--nope'"),
        (("sync", "--dry-run", "--json", "--into", "delivery-x"), 2, "no branch 'delivery-x'"),
    ],
)
def test_json_commands_answer_errors_in_json_too(
    args: tuple[str, ...], code: int, message: str, sandbox: Sandbox
) -> None:
    import json

    w = _world(sandbox)
    r = prodfix(w.work, *args)
    assert r.code == code
    doc = json.loads(r.out)
    assert doc["ok"] is False and doc["error"]["code"] == code
    assert message in doc["error"]["message"]


@pytest.mark.parametrize("command", ["start", "status", "next"])
def test_a_mainline_that_does_not_exist_is_a_configuration_error(
    command: str, sandbox: Sandbox
) -> None:
    w = _world(sandbox)
    toml = (
        (w.work / ".prodfix.toml").read_text().replace('mainline = "master"', 'mainline = "main"')
    )
    (w.work / ".prodfix.toml").write_text(toml)
    r = prodfix(w.work, *COMMANDS[command])
    assert r.code == 2, (r.code, r.out, r.err)
    assert "origin has no mainline branch 'main'" in r.err


def test_a_delivery_pattern_matching_the_mainline_is_refused(sandbox: Sandbox) -> None:
    """`delivery = "*"` would let a fix start from master: the configuration is refused."""
    w = _world(sandbox)
    toml = (
        (w.work / ".prodfix.toml").read_text().replace('delivery = "delivery*"', 'delivery = "*"')
    )
    (w.work / ".prodfix.toml").write_text(toml)
    r = prodfix(w.work, "start", "x", "--from", "master")
    assert r.code == 2
    assert "the delivery pattern '*' matches the mainline 'master'" in r.err
    assert w.sb.g(w.work, "branch", "--list", "fix/x") == ""
