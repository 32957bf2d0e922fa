"""Run prodfix the way a user does: in-process (fast) or as a real process (for kill -9)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from prodfix import output
from prodfix.cli import main


@dataclass
class Run:
    code: int
    out: str
    err: str


def prodfix(cwd: Path, *args: str) -> Run:
    """In-process; whatever the command sets process-wide for its output (`--quiet`, `--json`)
    is put back afterwards, however it ends, so no later test inherits it."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    quiet = output._quiet
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(["-C", str(cwd), *args])
            except SystemExit as exc:
                code = int(exc.code or 0)
    finally:
        output.set_quiet(quiet)
    return Run(code, out.getvalue(), err.getvalue())


def prodfix_proc(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    e = dict(os.environ)
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
