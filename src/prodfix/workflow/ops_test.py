"""Running the repository's tests and recording the result against a SHA."""

from __future__ import annotations

import glob
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prodfix.adapters.git import clean_env
from prodfix.errors import ProdfixError
from prodfix.types import Sha
from prodfix.workflow.ops import Op, register

if TYPE_CHECKING:
    from prodfix.workflow.context import Ctx


@register
@dataclass(frozen=True)
class RunTests(Op):
    """Runs the test command, streaming its output; records passed/failed for `sha`.

    A failing test is a result, not an interruption: it is recorded and the command exits 1;
    nothing is suspended.
    """

    command: str
    sha: Sha
    record: bool = True  # False: the tests ran on uncommitted changes, so not "for sha"
    share: bool = False  # the branch is on the remote: share the result at once

    def describe(self) -> str:
        return f"run `{self.command}` for {self.sha[:7]}"

    def run(self, ctx: Ctx) -> Op | None:
        argv = _expand(shlex.split(self.command), ctx.repo.path)
        if not argv or shutil.which(argv[0]) is None:
            # Not a test result: the tests never ran, so nothing is recorded for the commit.
            tool = argv[0] if argv else "(empty)"
            raise ProdfixError(
                f"{tool} is not installed (not found on PATH): the tests did not run",
                hint=f"install {tool}, or set [test] command in .prodfix.toml; "
                "`prodfix test --skip REASON` records why they cannot run here",
            )
        result = self._run(ctx, argv)
        ctx.vars["test"] = result
        if self.record:
            record_result(ctx, self.sha, result, share=self.share, where="local")
        return None

    def _run(self, ctx: Ctx, argv: list[str]) -> dict[str, str]:
        proc = subprocess.Popen(
            argv,
            cwd=ctx.repo.path,
            env=clean_env(),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        tail: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:  # stream as it comes: long suites show progress
            sys.stdout.write(line)
            tail = ([*tail, line.rstrip()])[-15:]
        code = proc.wait()
        if code == 0:
            return {"result": "passed", "reason": ""}
        return {"result": "failed", "reason": f"exit {code}: " + (tail[-1] if tail else "")}


@register
@dataclass(frozen=True)
class SkipTests(Op):
    """The user states why the tests cannot run here (e.g. `go` not installed); shown in status."""

    sha: Sha
    reason: str
    share: bool = False

    def describe(self) -> str:
        return f"record tests of {self.sha[:7]} as skipped: {self.reason}"

    def run(self, ctx: Ctx) -> Op | None:
        result = {"result": "skipped", "reason": self.reason}
        record_result(ctx, self.sha, result, share=self.share, where="local")
        return None


def record_result(ctx: Ctx, sha: str, result: dict[str, str], *, share: bool, where: str) -> None:
    """Keep the result for `sha` in this clone, and share it now when the branch is already
    on the remote (otherwise `propose` shares it). A share that fails is only delayed."""
    from prodfix.errors import ProdfixError
    from prodfix.workflow.fixrecords import share_tests, write_test

    write_test(ctx.repo, sha, result, where=where)
    if share:
        try:
            share_tests(ctx.repo, ctx.remote, [sha])
        except ProdfixError as exc:
            ctx.out.warn(
                f"test result kept in this clone only ({exc.message}); `prodfix propose` shares it"
            )


def _expand(argv: list[str], cwd: Path) -> list[str]:
    """Wildcards expanded as a shell would (the command runs without one): the Go default
    `go test -v ./test/*.go` names files, not a pattern. A pattern that matches nothing stays
    as written, as in sh."""
    out = argv[:1]
    for arg in argv[1:]:
        if any(c in arg for c in "*?["):
            matches = sorted(glob.glob(arg, root_dir=cwd))
            out += matches or [arg]
        else:
            out.append(arg)
    return out
