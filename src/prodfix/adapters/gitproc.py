"""How prodfix starts git: the environment every call gets, local commands run to completion
(`run_local`), network operations bounded in time (git.py's `run` is the one caller).

git never prompts here: prodfix captures git's output and may run several git processes at once
in threads, so a password prompt would hang invisibly. Every call gets a non-interactive
environment (`clean_env`); network operations also get ssh's BatchMode and a timeout after
which the whole process group (git, its ssh or remote helper, their children) is killed.
"""

from __future__ import annotations

import os
import sys

from prodfix.adapters.spawn import run_to_end
from prodfix.errors import ProdfixError, ServiceError

# `prodfix check` loads this module: no typing, re or pathlib at run time (prodfix/tuples.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

# Variables a user sets on purpose to reach their remotes; every other GIT_* (GIT_DIR,
# GIT_INDEX_FILE, GIT_WORK_TREE from a hook that called us…) would silently retarget git.
_KEEP_ENV = frozenset(
    {
        "GIT_EXEC_PATH",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_SSL_CAINFO",
        "GIT_SSL_NO_VERIFY",
        "GIT_ASKPASS",
        "GIT_TERMINAL_PROMPT",
        "GIT_HTTP_PROXY_AUTHMETHOD",
        "GIT_ALLOW_PROTOCOL",
        "GIT_CONFIG_NOSYSTEM",
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_AUTHOR_DATE",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "GIT_COMMITTER_DATE",
    }
)

TIMEOUT_ENV = "PRODFIX_GIT_TIMEOUT"
DEFAULT_NETWORK_TIMEOUT = 300.0
# Subcommands that talk to a remote; only these get a timeout (local ones finish on their own).
NETWORK = {"fetch": "from", "pull": "from", "ls-remote": "of", "push": "to", "clone": "of"}
_GLOBAL_WITH_VALUE = frozenset({"-c", "-C", "--git-dir", "--work-tree", "--namespace"})
_FAIL = "false"  # an askpass program that answers nothing and fails (ssh finds it on PATH)


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in _KEEP_ENV}
    env["LC_ALL"] = "C"  # parse English messages, never translated ones
    # Output fully buffered: to a pipe, `git log`, `rev-list` and the like flush after every
    # record unless GIT_FLUSH=0 (git(1), GIT_FLUSH) — 2,672 writes instead of 61 for a log of
    # 2,672 commits, each waking the reader. prodfix reads every git to its end (all input is
    # given at the start), so nothing waits on a record that stays in git's buffer.
    env["GIT_FLUSH"] = "0"
    # Never prompt. git asks GIT_ASKPASS, else core.askPass, else SSH_ASKPASS, else the
    # terminal unless GIT_TERMINAL_PROMPT=0 (git-credential(1), "Requesting credentials"); an
    # empty GIT_ASKPASS ends that search with no program run (git_prompt() in git's prompt.c),
    # so neither a configured nor a desktop's graphical askpass can pop up. ssh's own askpass
    # is a program that fails; Git Credential Manager is told with GCM_INTERACTIVE=never. A
    # user's own GIT_ASKPASS is kept: it is how CI hands git a token without a prompt.
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GCM_INTERACTIVE"] = "never"
    if not env.get("GIT_ASKPASS"):
        env["GIT_ASKPASS"] = ""
        env["SSH_ASKPASS"] = _FAIL
    if extra:
        env.update(extra)
    return env


def add_batch_mode(cwd: str, env: dict[str, str], ask: Callable[[], str | None]) -> None:
    """ssh's BatchMode=yes (ssh_config(5): never ask for a password, a passphrase or a host key
    confirmation; fail instead) for a network operation. ssh takes options from no environment
    variable, so this goes through GIT_SSH_COMMAND, which outranks core.sshCommand
    (git-config(1)): a configured ssh command is kept, with the option appended when it runs
    ssh itself (a wrapper script might not accept `-o`). A user's own GIT_SSH_COMMAND or GIT_SSH
    is left alone: they chose how git reaches ssh. Whatever runs, it has no terminal to prompt
    on (see communicate)."""
    if env.get("GIT_SSH_COMMAND") or env.get("GIT_SSH"):
        return
    configured = ask() if may_set_ssh_command(cwd, env) else None
    if configured is None:
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
    elif _runs_ssh(configured):
        env["GIT_SSH_COMMAND"] = f"{configured} -o BatchMode=yes"


def may_set_ssh_command(cwd: str, env: Mapping[str, str]) -> bool:
    """Whether a config file git reads in `cwd` mentions core.sshCommand or includes another
    file: only then is git asked (`ask`), or every fetch would cost one more process for a
    setting few people have."""
    return any(_mentions_ssh_command(f) for f in _config_files(cwd, env))


def _config_files(cwd: str, env: Mapping[str, str]) -> list[Path]:
    """The files git-config(1) ("FILES") reads for a command run in `cwd`. The system file is
    taken at /etc/gitconfig; a git built with another prefix reads its own, unseen here."""
    from pathlib import Path  # network operations only: `check --no-fetch` never gets here

    files: list[Path] = []
    if not env.get("GIT_CONFIG_NOSYSTEM"):
        files.append(Path(env.get("GIT_CONFIG_SYSTEM") or "/etc/gitconfig"))
    if env.get("GIT_CONFIG_GLOBAL"):
        files.append(Path(env["GIT_CONFIG_GLOBAL"]))
    else:
        home = Path(env.get("HOME") or Path.home())
        xdg = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
        files += [home / ".gitconfig", xdg / "git" / "config"]
    here = Path(cwd)
    for d in (here, *here.resolve().parents):
        if dirs := git_dirs(d):
            files += [Path(dirs[1], "config"), Path(dirs[0], "config.worktree")]
            break
    return files


def _mentions_ssh_command(path: Path) -> bool:
    try:
        text = path.read_bytes().lower()
    except OSError:
        return False
    return b"sshcommand" in text or b"include" in text


def _runs_ssh(command: str) -> bool:
    import shlex

    try:
        words = shlex.split(command)
    except ValueError:
        return False
    # Only a plain `ssh …` takes `-o` after its own options; a wrapper script might not.
    return bool(words) and os.path.basename(words[0]) in ("ssh", "ssh.exe")


def network_timeout() -> float:
    """Seconds a network operation may take: PRODFIX_GIT_TIMEOUT, else 300."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_NETWORK_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:  # also rejects nan
        raise ProdfixError(
            f"{TIMEOUT_ENV}={raw!r} is not a positive number of seconds",
            hint=f"set {TIMEOUT_ENV} to e.g. 300, or unset it",
        )
    return value


def subcommand(args: Sequence[str]) -> tuple[str, str]:
    """(git subcommand, its first operand) past git's own options (`-c k=v`, `-C dir`…)."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in _GLOBAL_WITH_VALUE else 1
    sub = args[i] if i < len(args) else ""
    operand = next((a for a in args[i + 1 :] if not a.startswith("-")), "")
    return sub, operand


def redact(url: str) -> str:
    """A remote URL without its userinfo (`https://x:TOKEN@host/…` remotes are common)."""
    import re

    return re.sub(r"(?<=//)[^@/]*@", "***@", url)


def run_local(
    argv: Sequence[str], cwd: Path | str, input: str | None, env: Mapping[str, str]
) -> tuple[int, str, str]:
    """A local git command run to completion. Alone, prodfix starts it with spawn.py (no
    subprocess import: `check`'s start-up); while other threads run git too (`status` and
    `audit` observe repositories in threads), with subprocess, whose start of the child lets
    the others go on: with spawn.py there, `audit` of 50 repositories took 1.66 s, not 1.33 s
    (bench/bench_audit.py)."""
    threading = sys.modules.get("threading")
    if threading is None or threading.active_count() == 1:
        return run_to_end(argv, str(cwd), input, env)
    import subprocess

    proc = subprocess.run(
        argv,
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
        env=env,
        check=False,
    )
    return proc.returncode, proc.stdout, proc.stderr


def communicate(
    argv: Sequence[str],
    cwd: Path | str,
    input: str | None,
    env: Mapping[str, str],
    timeout: float,
    sub: str,
    operand: str,
) -> tuple[int, str, str]:
    """Run a network operation for at most `timeout` seconds: (exit code, stdout, stderr)."""
    import subprocess  # here: local git commands never need it (spawn.py)

    # A session of its own: git's children (ssh, a remote helper, upload-pack and whatever they
    # start) share its process group, so one killpg ends them all; and with no controlling
    # terminal, nothing in it can open /dev/tty to prompt.
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
        env=dict(env),
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        what = f"git {sub} {NETWORK[sub]} {redact(operand)}" if operand else f"git {sub}"
        raise ServiceError(
            f"{what} timed out after {timeout:g}s",
            hint="check the network and your access to the remote (prodfix never lets git "
            f"prompt for a password); for a slow remote raise {TIMEOUT_ENV} (seconds); "
            "this is safe to retry",
        ) from None
    except BaseException:
        _kill_group(proc)  # Ctrl-C: leave nothing running
        raise
    return proc.returncode, out, err


def _kill_group(proc: subprocess.Popen[str]) -> None:
    import contextlib
    import signal
    import subprocess

    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.communicate(timeout=5)  # reap; the pipes close as the group dies
    except subprocess.TimeoutExpired:
        # A descendant that left the group still holds a pipe: stop reading, reap git only.
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        proc.wait()


def common_dir(path: Path | str) -> str:
    """The git directory that holds the refs of the clone at `path`, read from files: no git
    process for a lock name."""
    dirs = git_dirs(path)
    return dirs[1] if dirs else os.path.realpath(path)


def git_dirs(path: Path | str) -> tuple[str, str] | None:
    """(git dir, common git dir) of the repository at `path` (they differ for a linked
    worktree, gitrepository-layout(5)), or None when `path` is not one's top."""
    join, real = os.path.join, os.path.realpath
    dot = join(path, ".git")
    try:
        if os.path.isdir(dot):
            return real(dot), real(dot)
        if os.path.isfile(dot):
            text = _read(dot)
            if text.startswith("gitdir:"):
                gd = real(join(path, text.removeprefix("gitdir:").strip()))
                common = join(gd, "commondir")
                if os.path.isfile(common):
                    return gd, real(join(gd, _read(common)))
                return gd, gd
        if os.path.isfile(join(path, "HEAD")) and os.path.isdir(join(path, "objects")):
            return real(path), real(path)  # a bare repository
    except OSError:
        pass
    return None


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read().strip()
