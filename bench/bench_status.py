"""`prodfix status` for 20 fixes across 3 repositories each (local remotes).

Prints the median wall time of `prodfix status` (a real process) and of `status --json`, the
number of git processes one status spawns (counted in-process), and the baseline `prodfix
--version` start-up in the same run. Targets: ≤ 400 ms, ≤ repositories × 3 git
processes.

    python bench/bench_status.py [--fixes 20] [--repos 3] [--runs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "b@example.com",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "b@example.com",
}


def g(cwd: Path, *args: str) -> None:
    subprocess.run(
        ("git", *args), cwd=cwd, check=True, capture_output=True, env={**os.environ, **ENV}
    )


def pf(cwd: Path, *args: str) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "prodfix", "-C", str(cwd), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        check=False,
    )
    if p.returncode != 0:
        raise SystemExit(f"prodfix {' '.join(args)} failed: {p.stderr}")


def setup(root: Path, repos: int, fixes: int) -> list[Path]:
    clones = []
    for r in range(repos):
        bare = root / f"r{r}.git"
        g(root, "init", "-q", "--bare", "--initial-branch=master", str(bare))
        clone = root / f"r{r}"
        g(root, "clone", "-q", str(bare), str(clone))
        # A repository that adopted prodfix: the config on master before delivery was cut.
        (clone / ".prodfix.toml").write_text('kind = "python"\n')
        for i in range(50):
            (clone / f"f{i % 7}.txt").write_text(f"{i}\n")
            g(clone, "add", "-A")
            g(clone, "commit", "-q", "-m", f"c{i}")
        g(clone, "branch", "delivery")
        g(clone, "push", "-q", "origin", "master", "delivery")
        clones.append(clone)
    for f in range(fixes):
        for clone in clones:
            pf(clone, "start", f"fix{f}", "--from", "delivery")
            (clone / f"fix{f}.txt").write_text("fixed\n")
            g(clone, "add", "-A")
            g(clone, "commit", "-q", "-m", f"fix {f}")
            pf(clone, "test", "--skip", "bench")
            if f % 2 == 0:
                pf(clone, "propose")
            g(clone, "switch", "-q", "master")
    return clones


def timed(cmd: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if p.returncode:
            raise SystemExit(f"{cmd} failed: {p.stderr[-2000:]}")
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def count_git(cwd: Path, *, cold: bool) -> int:
    """Git processes of one in-process `status --json`; cold = with prodfix's cache of facts
    about immutable objects (PR metadata, SHA pairs, the git version) emptied first."""
    import shutil

    from prodfix.adapters import gitrun
    from prodfix.cli import main

    if cold:
        shutil.rmtree(Path(os.environ["PRODFIX_HOME"]) / "cache", ignore_errors=True)
        gitrun.forget_version()
    before = gitrun.spawned
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        main(["-C", str(cwd), "status", "--json"])
    return gitrun.spawned - before


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixes", type=int, default=20)
    ap.add_argument("--repos", type=int, default=3)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", type=Path, help="keep (and reuse) the repositories here")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="prodfix-bench-status-") as tmp:
        root = a.dir or Path(tmp)
        os.environ["PRODFIX_HOME"] = str(root / "state")
        done = root / f"ready-v2-{a.repos}x{a.fixes}"
        t = time.perf_counter()
        if done.exists():
            clones = [root / f"r{r}" for r in range(a.repos)]
        else:
            root.mkdir(parents=True, exist_ok=True)
            clones = setup(root, a.repos, a.fixes)
            done.touch()
        print(f"setup: {a.fixes} fixes × {a.repos} repositories in {time.perf_counter() - t:.1f}s")
        base = [sys.executable, "-m", "prodfix", "-C", str(clones[0])]
        version = timed([*base, "--version"], a.runs)
        status = timed([*base, "status"], a.runs)
        status_json = timed([*base, "status", "--json"], a.runs)
        cold = count_git(clones[0], cold=True)
        warm = count_git(clones[0], cold=False)
        print(f"prodfix --version (baseline)  median {version:7.1f} ms")
        print(f"prodfix status                median {status:7.1f} ms   (target ≤ 400 ms)")
        print(f"prodfix status --json         median {status_json:7.1f} ms")
        print(f"status / --version            {status / version:7.2f}x")
        print(f"git processes per status      {warm:7d} warm, {cold} cold (target ≤ {a.repos * 3})")


if __name__ == "__main__":
    main()
