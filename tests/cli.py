"""Run prodfix the way a user does: in-process (fast) or as a real process (for kill -9)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
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


def prodfix_proc(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    e = dict(os.environ)
    e.update(_identity(args))
    e.update(env or {})
    p = subprocess.run(
        [sys.executable, "-m", "prodfix", "-C", str(cwd), *args],
        capture_output=True,
        text=True,
        env=e,
        check=False,
        timeout=120,
        stdin=subprocess.DEVNULL,  # nothing may wait for the user
    )
    return Run(p.returncode, p.stdout, p.stderr)
