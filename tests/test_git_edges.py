"""git never hangs and never prompts: remotes that hang (a file:// remote whose upload-pack
sleeps, an ssh that sleeps) time out with exit 4 and leave nothing running; remotes that want a
password fail at once with git's own reason; ssh runs with BatchMode=yes unless the user chose
their own ssh command."""

from __future__ import annotations

import os
import shlex
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from prodfix.adapters import git
from prodfix.adapters.git import Repo
from prodfix.errors import Exit, ProdfixError, ServiceError
from tests.cli import prodfix_proc
from tests.gitfix import Sandbox
from tests.scenario import service_world


def script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def pids(path: Path) -> list[int]:
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def assert_all_gone(recorded: list[int]) -> None:
    assert recorded, "the hanging program never started"
    deadline = time.monotonic() + 3
    while any(alive(p) for p in recorded) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p for p in recorded if alive(p)] == []


@pytest.fixture
def hanging_remote(sandbox: Sandbox, tmp_path: Path) -> tuple[Path, Path]:
    """A clone whose origin's upload-pack records its pid and sleeps (git runs it for a
    file:// fetch the way sshd would run it for an ssh one)."""
    sandbox.init_origin()
    seed = sandbox.clone("seed")
    sandbox.commit(seed, "first")
    sandbox.push(seed, "master")
    work = sandbox.clone("work")
    record = tmp_path / "pids"
    hang = script(tmp_path / "hang.sh", f'echo $$ >> "{record}"\nexec sleep 30\n')
    sandbox.g(work, "config", "remote.origin.uploadpack", str(hang))
    return work, record


def test_a_hanging_fetch_times_out_and_leaves_nothing_running(
    hanging_remote: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    work, record = hanging_remote
    monkeypatch.setenv("PRODFIX_GIT_TIMEOUT", "1")
    began = time.monotonic()
    with pytest.raises(ServiceError) as exc:
        Repo(work).fetch("origin")
    assert 1 <= time.monotonic() - began < 4
    assert exc.value.message == "git fetch from origin timed out after 1s"
    assert exc.value.code == Exit.SERVICE
    assert "PRODFIX_GIT_TIMEOUT" in exc.value.hint
    assert_all_gone(pids(record))


def test_a_hanging_remote_is_exit_4_from_the_cli(sandbox: Sandbox, tmp_path: Path) -> None:
    w = service_world(sandbox)
    record = tmp_path / "pids"
    hang = script(tmp_path / "hang.sh", f'echo $$ >> "{record}"\nexec sleep 30\n')
    sandbox.g(w.work, "config", "remote.origin.uploadpack", str(hang))
    began = time.monotonic()
    r = prodfix_proc(w.work, "start", "npe", env={"PRODFIX_GIT_TIMEOUT": "1.5"})
    assert time.monotonic() - began < 10
    assert r.code == 4, r.err
    assert r.err.startswith("prodfix: error: git fetch from origin timed out after 1.5s\n"), r.err
    assert "Traceback" not in r.err
    assert_all_gone(pids(record))
    assert sandbox.g(w.work, "branch", "--list", "fix/*") == ""  # nothing was started


def test_a_users_ssh_command_that_hangs_times_out(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.init_origin()
    work = sandbox.clone("work")
    sandbox.g(work, "remote", "set-url", "origin", "ssh://git@example.invalid/team/app.git")
    record = tmp_path / "pids"
    ssh = script(tmp_path / "slow-ssh", f'echo $$ >> "{record}"\nexec sleep 30\n')
    monkeypatch.setenv("GIT_SSH_COMMAND", str(ssh))
    monkeypatch.setenv("PRODFIX_GIT_TIMEOUT", "1")
    with pytest.raises(ServiceError) as exc:
        Repo(work).ls_remote("origin")
    assert exc.value.message == "git ls-remote of origin timed out after 1s"
    assert_all_gone(pids(record))


def test_the_timeout_names_a_url_without_its_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ssh = script(tmp_path / "slow-ssh", "exec sleep 30\n")
    monkeypatch.setenv("GIT_SSH_COMMAND", str(ssh))
    monkeypatch.setenv("PRODFIX_GIT_TIMEOUT", "0.5")
    with pytest.raises(ServiceError) as exc:
        git.run(tmp_path, "clone", "-q", "ssh://ada:s3cret@example.invalid/x.git", "dest")
    assert exc.value.message == "git clone of ssh://***@example.invalid/x.git timed out after 0.5s"


@pytest.mark.parametrize("value", ["0", "-3", "soon", "nan"])
def test_a_bad_timeout_setting_is_a_usage_error(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    sandbox.init_origin()
    work = sandbox.clone("work")
    monkeypatch.setenv("PRODFIX_GIT_TIMEOUT", value)
    with pytest.raises(ProdfixError) as exc:
        Repo(work).fetch("origin")
    assert exc.value.code == Exit.USAGE
    assert exc.value.message == f"PRODFIX_GIT_TIMEOUT={value!r} is not a positive number of seconds"


def test_local_commands_have_no_timeout(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.init_origin()
    work = sandbox.clone("work")
    monkeypatch.setenv("PRODFIX_GIT_TIMEOUT", "0.001")
    assert git.run(work, "hash-object", "--stdin", input="x" * 1_000_000).returncode == 0


def test_git_writes_its_output_fully_buffered(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every git prodfix runs gets GIT_FLUSH=0, whatever the user's environment says: to a pipe,
    `git log` and `rev-list` would flush (one write, one wake-up of the reader) per record."""
    sandbox.init_origin()
    work = sandbox.clone("work")
    monkeypatch.setenv("GIT_FLUSH", "1")
    shown = Repo(work).git("-c", "alias.flush=!printenv GIT_FLUSH", "flush").stdout
    assert shown == "0\n"


# -- remotes that want a password -----------------------------------------------------------


class _AuthWall(BaseHTTPRequestHandler):
    """Every request: 401 with a Basic challenge, as a git host does for a private repository."""

    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def auth_wall() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AuthWall)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    ).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_remote_that_wants_a_password_fails_at_once_without_a_prompt(
    sandbox: Sandbox, tmp_path: Path, auth_wall: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A desktop session's graphical askpass (here: one that would wait 20 s for a human) is
    never started; git says why it could not authenticate, and the command exits 4."""
    w = service_world(sandbox)
    sandbox.g(w.work, "remote", "set-url", "origin", f"{auth_wall}/team/svc.git")
    asked = tmp_path / "asked"
    dialog = script(tmp_path / "askpass", f'echo "$1" >> "{asked}"\nsleep 20\necho secret\n')
    monkeypatch.setenv("SSH_ASKPASS", str(dialog))
    monkeypatch.setenv("DISPLAY", ":0")
    sandbox.g(w.work, "config", "core.askPass", str(dialog))
    began = time.monotonic()
    r = prodfix_proc(w.work, "start", "npe")
    assert time.monotonic() - began < 10
    assert (r.code, r.out) == (4, "")
    host = auth_wall.removeprefix("http://")
    assert r.err.startswith(
        "prodfix: error: cannot fetch from origin: fatal: could not read Username for "
        f"'http://{host}': terminal prompts disabled\n"
    ), r.err
    assert not asked.exists()


def test_a_users_own_askpass_is_kept(
    sandbox: Sandbox, tmp_path: Path, auth_wall: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.init_origin()
    work = sandbox.clone("work")
    sandbox.g(work, "remote", "set-url", "origin", f"{auth_wall}/team/svc.git")
    asked = tmp_path / "asked"
    ci = script(tmp_path / "ci-askpass", f'echo "$1" >> "{asked}"\necho ci-token\n')
    monkeypatch.setenv("GIT_ASKPASS", str(ci))
    with pytest.raises(ProdfixError) as exc:
        Repo(work).fetch("origin")
    assert exc.value.code == Exit.SERVICE
    host = auth_wall.removeprefix("http://")
    assert asked.read_text().splitlines() == [
        f"Username for 'http://{host}': ",
        f"Password for 'http://ci-token@{host}': ",
    ]
    assert "Authentication failed" in exc.value.message


# -- ssh: BatchMode=yes ---------------------------------------------------------------------


@pytest.fixture
def fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An `ssh` first on PATH that records its arguments and fails like an unreachable host."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "ssh-args"
    script(bindir / "ssh", f'echo "$@" >> "{log}"\necho "ssh: connect: refused" >&2\nexit 255\n')
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("GIT_SSH_COMMAND", raising=False)
    monkeypatch.delenv("GIT_SSH", raising=False)
    return log


def ssh_args(sandbox: Sandbox, work: Path, log: Path) -> str:
    log.unlink(missing_ok=True)
    with pytest.raises(ProdfixError) as exc:
        Repo(work).fetch("origin")
    assert exc.value.message == (
        "cannot fetch from origin: fatal: Could not read from remote repository."
    )
    return log.read_text().strip()


@pytest.fixture
def ssh_clone(sandbox: Sandbox) -> Path:
    sandbox.init_origin()
    work = sandbox.clone("work")
    sandbox.g(work, "remote", "set-url", "origin", "ssh://git@example.invalid/team/app.git")
    return work


def test_ssh_runs_in_batch_mode(sandbox: Sandbox, ssh_clone: Path, fake_ssh: Path) -> None:
    args = ssh_args(sandbox, ssh_clone, fake_ssh)
    assert args.startswith("-o BatchMode=yes ")
    assert "git@example.invalid git-upload-pack '/team/app.git'" in args


def test_a_configured_ssh_command_is_kept_with_batch_mode_appended(
    sandbox: Sandbox, ssh_clone: Path, fake_ssh: Path, tmp_path: Path
) -> None:
    ssh = tmp_path / "bin" / "ssh"
    sandbox.g(ssh_clone, "config", "core.sshCommand", f"{ssh} -i /keys/deploy_key")
    assert ssh_args(sandbox, ssh_clone, fake_ssh).startswith(
        "-i /keys/deploy_key -o BatchMode=yes "
    )


def test_a_configured_ssh_command_found_through_an_include(
    sandbox: Sandbox, ssh_clone: Path, fake_ssh: Path, tmp_path: Path
) -> None:
    included = tmp_path / "work.gitconfig"
    included.write_text(f"[core]\n\tsshCommand = {tmp_path / 'bin' / 'ssh'} -i /keys/work\n")
    sandbox.g(ssh_clone, "config", "include.path", str(included))
    assert ssh_args(sandbox, ssh_clone, fake_ssh).startswith("-i /keys/work -o BatchMode=yes ")


def test_a_wrapper_or_the_users_own_ssh_command_is_left_alone(
    sandbox: Sandbox,
    ssh_clone: Path,
    fake_ssh: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrapper = script(tmp_path / "my-wrapper", f'exec {tmp_path / "bin" / "ssh"} --wrapped "$@"\n')
    sandbox.g(ssh_clone, "config", "core.sshCommand", shlex.quote(str(wrapper)))
    assert ssh_args(sandbox, ssh_clone, fake_ssh).startswith("--wrapped ")
    assert "BatchMode" not in fake_ssh.read_text()

    sandbox.g(ssh_clone, "config", "--unset", "core.sshCommand")
    monkeypatch.setenv("GIT_SSH_COMMAND", f"{tmp_path / 'bin' / 'ssh'} -v")
    args = ssh_args(sandbox, ssh_clone, fake_ssh)
    assert args.startswith("-v ") and "BatchMode" not in args
