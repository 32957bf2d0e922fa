"""Starting git: `run`, the one place prodfix starts a git process (gitproc.py has its
environment, timeouts and how a local command starts), its result and error types, and the
git version prodfix needs."""

from __future__ import annotations

import os

from prodfix.adapters.gitproc import (
    NETWORK,
    add_batch_mode,
    clean_env,
    communicate,
    network_timeout,
    run_local,
    subcommand,
)
from prodfix.errors import Exit, ProdfixError

# `prodfix check` loads this module: nothing here imports typing, re or pathlib at run time
# (prodfix/tuples.py says what they cost at start-up).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from pathlib import Path
    from typing import NamedTuple

    from prodfix.adapters.shacache import ShaCache
else:
    from prodfix.tuples import NamedTuple

MIN_GIT = (2, 38)  # `merge-tree --write-tree` came with git 2.38 (its release notes)

# Counts spawned processes; bench/bench_status.py reports it (`status` keeps to a few git
# processes per repository).
spawned = 0


class GitError(ProdfixError):
    """A git command failed; carries argv, exit code and stderr for --debug and for callers."""

    def __init__(self, argv: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        first = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit {returncode}"
        super().__init__(
            f"git {' '.join(argv[1:4])}… failed: {first}",
            hint="run it with --debug to see the full git output",
            code=Exit.USAGE,
        )
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


class Result(NamedTuple):
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    @property
    def records(self) -> list[str]:
        """NUL-separated records of a `-z` command."""
        return [r for r in self.stdout.split("\0") if r]


def run(
    cwd: Path | str,
    *args: str,
    check: bool = True,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    ok_codes: Iterable[int] = (0,),
    timeout: float | None = None,
) -> Result:
    """Run `git ARGS` in cwd. The only place prodfix starts git.

    Network operations (fetch, pull, push, ls-remote, clone) time out after `timeout` seconds,
    by default PRODFIX_GIT_TIMEOUT (300); on timeout the whole process group is killed and a
    ServiceError (exit 4) names the operation. Local operations run to completion."""
    global spawned
    argv = ("git", *args)
    sub, operand = subcommand(args)
    full_env = clean_env(env)
    if sub in NETWORK:
        add_batch_mode(os.fspath(cwd), full_env, lambda: _ssh_command(cwd))
        if timeout is None:
            timeout = network_timeout()
    spawned += 1
    try:
        if timeout is None:
            code, out, err = run_local(argv, cwd, input, full_env)
        else:
            code, out, err = communicate(argv, cwd, input, full_env, timeout, sub, operand)
    except FileNotFoundError as exc:
        if not os.path.isdir(cwd):
            raise ProdfixError(
                f"{cwd} does not exist", hint="check the path you gave with -C"
            ) from exc
        raise ProdfixError(
            "git is not installed or not on PATH",
            hint=f"install git {MIN_GIT[0]}.{MIN_GIT[1]} or newer",
        ) from exc
    if check and code not in tuple(ok_codes):
        raise GitError(argv, code, out, err)
    return Result(code, out, err)


def _ssh_command(cwd: Path | str) -> str | None:
    """core.sshCommand as git resolves it in `cwd`."""
    r = run(cwd, "config", "--get", "core.sshCommand", check=False, ok_codes=(0, 1))
    return r.stdout.strip() or None


_version: dict[str | None, tuple[int, int]] = {}  # PATH → the version of the git found on it


def version() -> tuple[int, int]:
    """The git version, remembered per git binary (path, size, mtime): asking git costs a
    process on every command otherwise. Asked again in this process when PATH changes (the
    git it finds may be another, or none: "git is not installed" comes from here first)."""
    path = os.environ.get("PATH")
    if path not in _version:
        _version[path] = _ask_version()
    return _version[path]


def forget_version() -> None:
    """Ask again on the next `version()` (a cold start, as benchmarks measure it)."""
    _version.clear()


def _ask_version() -> tuple[int, int]:
    import re  # here, not at the top: most commands never ask (start-up time)
    import shutil

    exe = shutil.which("git", path=clean_env().get("PATH"))
    stamp = ""
    if exe:
        st = os.stat(exe)
        stamp = f"{os.path.realpath(exe)}:{st.st_size}:{st.st_mtime_ns}"
        remembered = _version_cache().get(stamp)
        if remembered:
            return int(remembered[0]), int(remembered[1])
    out = run(".", "version").stdout  # "git version 2.39.5"
    m = re.search(r"(\d+)\.(\d+)", out)
    if not m:
        raise ProdfixError(f"cannot read the git version from {out.strip()!r}")
    found = int(m.group(1)), int(m.group(2))
    if stamp:
        cache = _version_cache()
        cache.put(stamp, list(found))
        cache.save()
    return found


def _version_cache() -> ShaCache:
    from prodfix.adapters.shacache import ShaCache

    return ShaCache("/", "git-version")


def require_version() -> None:
    have = version()
    if have < MIN_GIT:
        raise ProdfixError(
            f"git {have[0]}.{have[1]} is too old: prodfix needs git "
            f"{MIN_GIT[0]}.{MIN_GIT[1]} or newer (for `git merge-tree --write-tree`)",
            hint="upgrade git (your package manager, or https://git-scm.com/downloads)",
        )
