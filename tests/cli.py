"""Run prodfix the way a user does: in-process (fast) or as a real process (for kill -9)."""

from __future__ import annotations

import contextlib
import functools
import io
import multiprocessing
import multiprocessing.context
import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prodfix.cli import main


@dataclass
class Run:
    code: int
    out: str
    err: str


# Authors cannot approve their own PRs: in tests, `pr approve` is typed by a reviewer.
REVIEWER = {
    "GIT_AUTHOR_NAME": "Rui Reviewer",
    "GIT_AUTHOR_EMAIL": "rui@example.com",
    "GIT_COMMITTER_NAME": "Rui Reviewer",
    "GIT_COMMITTER_EMAIL": "rui@example.com",
}


def _identity(args: tuple[str, ...]) -> dict[str, str]:
    return REVIEWER if args[:2] == ("pr", "approve") else {}


@contextlib.contextmanager
def environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def prodfix(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with (
        environ({**_identity(args), **(env or {})}),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            main(["-C", str(cwd), *args])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return Run(code, out.getvalue(), err.getvalue())


def sigint_default() -> None:
    """`preexec_fn` of a prodfix process a test interrupts with SIGINT: Ctrl-C as a terminal
    delivers it, whatever the test run inherited. A shell starts a background job (`cmd &`,
    nohup) with SIGINT ignored, an ignored signal stays ignored across exec, and Python then
    installs no handler: the process would never see the signal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def prodfix_proc(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    """prodfix in a process of its own, as `python -m prodfix` would run it, for what only a
    real process shows: a kill -9 (PRODFIX_DIE_AFTER), exit codes and output of a process,
    commands running at once. The process is forked from a server that has prodfix imported
    (multiprocessing's forkserver: a single-threaded process, so forking it is safe), instead
    of starting Python and importing prodfix again each time (a few hundred of these)."""
    e = dict(os.environ)
    e.update(_identity(args))
    e.update(env or {})
    with tempfile.TemporaryDirectory() as tmp:
        out, err = Path(tmp) / "out", Path(tmp) / "err"
        proc = _forkserver().Process(target=_child, args=(["-C", str(cwd), *args], e, out, err))
        proc.start()
        proc.join(120)
        if proc.exitcode is None:
            proc.kill()
            proc.join()
            raise AssertionError(f"prodfix {' '.join(args)} still running after 120 s")
        return Run(proc.exitcode, _read(out), _read(err))


# Imported once by the fork server, not by every process forked from it: the command line and
# what its commands load when they run (each command imports its modules on first use).
PRELOAD = (
    "prodfix.cli",
    "tests.cli",
    *(
        f"prodfix.commands.{c}"
        for c in ("backmerge", "deploy", "next", "pr", "propose", "resume", "start", "status")
    ),
    *(f"prodfix.commands.{c}" for c in ("sync", "test")),
    "prodfix.adapters.gitops.plan",
    "prodfix.adapters.http",
    "prodfix.workflow.observe",
    "prodfix.workflow.ops_deploy",
    "tests.forkserver_warm",  # httpx, httpcore and the default TLS context
)


@functools.cache
def _forkserver() -> multiprocessing.context.ForkServerContext:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(list(PRELOAD))
    return ctx


def _child(argv: list[str], env: dict[str, str], out: Path, err: Path) -> None:
    """In the forked process: `env` as the whole environment, stdin from /dev/null (nothing
    may wait for the user), stdout and stderr into files — descriptors 1 and 2 themselves, so
    the output of processes prodfix starts lands there too; then the command line's entry."""
    os.environ.clear()
    os.environ.update(env)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    for fd, path in ((1, out), (2, err)):
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
    try:
        main(argv)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "surrogateescape") if path.exists() else ""
