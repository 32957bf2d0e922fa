"""`prodfix check --no-fetch --json` on a real repository vs the leanest raw-git pipeline.

    python bench/bench_check_real.py [--runs 15] [--bundle PATH] [--state NAME]

The repository is werkzeug (a git bundle of it, `--bundle`, by default beside the repository root;
skipped with a message when absent): cloned into a temp dir with a bare origin and a commit-graph,
then put into states built from its own history, with and without findings. For each state both
commands run as real processes, alternately (machine noise hits both alike); the findings of both
must be the same, then the medians and their ratio are printed, with the git processes each
command starts (prodfix/raw). Target: ratio ≤ 2× (moonshot 1.5×).

The package is byte-compiled first (`compileall`), as an installed package is: with
PYTHONDONTWRITEBYTECODE set, every run would otherwise compile prodfix's modules again. The
first run in each state (the one whose findings are compared) also fills the checkout's cache
of the parsed .prodfix.toml, as any first run does. The last line is the floor for
comparison: an interpreter that does nothing, and one that only imports the modules `check`
loads (prodfix's and the few standard ones they need) and runs no git.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUNDLE = ROOT.parent / "shared" / "real-repos" / "werkzeug.bundle"
RAW = HERE / "check_raw_real.sh"
DAY = 86_400
Findings = set[tuple[str, str, str, tuple[str, ...]]]


def git(cwd: Path, *args: str, env: dict[str, str] | None = None, stdin: str = "") -> str:
    full = {**os.environ, **(env or {})}
    p = subprocess.run(
        ["git", *args], cwd=cwd, input=stdin, capture_output=True, text=True, env=full
    )
    if p.returncode != 0:
        sys.exit(f"git {' '.join(args)} failed:\n{p.stderr}")
    return p.stdout.strip()


class Repo:
    """The werkzeug clone; each state sets origin/main, origin/stable and the checkout."""

    def __init__(self, root: Path, bundle: Path) -> None:
        self.origin, self.w = root / "origin.git", root / "werkzeug"
        git(root, "clone", "-q", "--bare", str(bundle), str(self.origin))
        git(root, "clone", "-q", str(self.origin), str(self.w))
        git(self.w, "commit-graph", "write", "--reachable")
        (self.w / ".prodfix.toml").write_text('mainline = "main"\ndelivery = "stable"\n')
        self.main0 = git(self.w, "rev-parse", "origin/main")
        self.stable0 = git(self.w, "rev-parse", "origin/stable")

    def commit(self, parents: list[str], message: str, *, age_days: int = 0, file: str = "") -> str:
        """A commit on top of parents[0]'s tree (plus one changed file), dated age_days ago."""
        date = f"@{int(time.time()) - age_days * DAY} +0000"
        env = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        tree = git(self.w, "rev-parse", f"{parents[0]}^{{tree}}")
        if file:
            index = str(self.w / ".git" / "bench-index")
            blob = git(self.w, "hash-object", "-w", "--stdin", stdin=message + "\n")
            env_i = {**env, "GIT_INDEX_FILE": index}
            git(self.w, "read-tree", tree, env=env_i)
            git(self.w, "update-index", "--add", "--cacheinfo", f"100644,{blob},{file}", env=env_i)
            tree = git(self.w, "write-tree", env=env_i)
        args = [x for p in parents for x in ("-p", p)]
        return git(self.w, "commit-tree", tree, *args, "-m", message, env=env)

    def state(
        self, main: str, stable: str, checkout: str = "main", head: str | None = None
    ) -> None:
        git(self.w, "update-ref", "refs/remotes/origin/main", main)
        git(self.w, "update-ref", "refs/remotes/origin/stable", stable)
        git(self.w, "update-ref", f"refs/heads/{checkout}", head or main)
        git(self.w, "symbolic-ref", "HEAD", f"refs/heads/{checkout}")


def states(r: Repo) -> dict[str, Callable[[], None]]:
    backmerges = git(
        r.w, "log", "--first-parent", "--merges", "--format=%H %s", r.main0, "--grep=stable"
    ).splitlines()
    # A past moment: just before a back-merge of stable with many commits pending.
    sizes = {
        b.split()[0]: int(git(r.w, "rev-list", "--count", f"{b.split()[0]}^1..{b.split()[0]}^2"))
        for b in backmerges[:40]
    }
    big = max(sizes, key=sizes.__getitem__)
    old_release = git(r.w, "log", "--format=%H", "-1", "--grep=release version 2.3.3", r.stable0)
    hotfix = r.commit([old_release], "hotfix on 2.3.x", age_days=30, file="HOTFIX.txt")
    leak = r.commit([r.stable0, f"{r.main0}~40"], "Merge branch 'main' into stable")
    sync = r.commit(
        [r.stable0, f"{r.main0}~10"], "Sync main into stable\n\nProdfix-Sync: bench planned"
    )
    merged_sync = r.commit([r.stable0, sync], "Merge pull request #1 from sync/stable")
    fix = r.commit([r.main0], "fix made on main by mistake", age_days=1, file="FIX.txt")
    return {
        "today (clean)": lambda: r.state(r.main0, r.stable0),
        "before a back-merge": lambda: r.state(f"{big}^1", f"{big}^2"),
        "old cut + hotfix": lambda: r.state(r.main0, hotfix),
        "unmarked merge": lambda: r.state(r.main0, leak),
        "merged sync": lambda: r.state(r.main0, merged_sync),
        "fix from main": lambda: r.state(r.main0, r.stable0, "fix/bench", fix),
    }


# What `check` loads before its first git process (tests/test_launch.py pins what it must not).
FLOOR = "import prodfix.launch, prodfix.commands.check"


def compile_package() -> None:
    import compileall

    import prodfix

    compileall.compile_dir(Path(prodfix.__file__).parent, quiet=1)


def prodfix_cmd() -> list[str]:
    exe = shutil.which("prodfix", path=str(Path(sys.executable).parent)) or shutil.which("prodfix")
    if not exe:
        sys.exit("prodfix is not installed in this environment (pip install -e .)")
    return [exe, "check", "--no-fetch", "--json"]


def run(argv: list[str], cwd: Path) -> tuple[float, str, float]:
    """Wall time, stdout, and CPU time (user + system, the git children included: every
    process waited for counts in RUSAGE_CHILDREN) — the CPU figure shifts less when other
    jobs share the machine."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode not in (0, 1):
        sys.exit(f"{argv[0]} failed ({p.returncode}):\n{p.stderr}")
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return elapsed, p.stdout, cpu


def git_count(argv: list[str], cwd: Path, shim: Path) -> int:
    """Git processes `argv` starts: one untimed run with a `git` first on PATH that logs a line
    and runs the real one (both commands find git on PATH)."""
    log = shim / "log"
    log.write_text("")
    env = {
        **os.environ,
        "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}",
        "BENCH_GIT_LOG": str(log),
    }
    subprocess.run(argv, cwd=cwd, capture_output=True, env=env)
    return len(log.read_text().splitlines())


def make_shim(root: Path) -> Path:
    real = shutil.which("git")
    shim = root / "shim"
    shim.mkdir()
    (shim / "git").write_text(f'#!/bin/sh\necho x >> "$BENCH_GIT_LOG"\nexec {real} "$@"\n')
    (shim / "git").chmod(0o755)
    return shim


def from_prodfix(out: str) -> Findings:
    doc = json.loads(out)
    return {(f["rule"], f["severity"], f["branch"], tuple(f["commits"])) for f in doc["findings"]}


def from_raw(out: str) -> Findings:
    return {(r, s, b, tuple(c)) for r, s, b, *c in (ln.split() for ln in out.splitlines())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--bundle", type=Path, default=BUNDLE)
    ap.add_argument("--state", help="only the states whose name contains this")
    ap.add_argument("--prodfix", help="the prodfix command to time (default: the installed one)")
    a = ap.parse_args()
    if not a.bundle.exists():
        print(f"skipped: {a.bundle} not found (the werkzeug bundle of ../shared/real-repos/)")
        return
    with tempfile.TemporaryDirectory(prefix="prodfix-bench-real-") as tmp:
        r = Repo(Path(tmp), a.bundle)
        compile_package()
        check = [*a.prodfix.split(), *prodfix_cmd()[1:]] if a.prodfix else prodfix_cmd()
        commits = git(r.w, "rev-list", "--count", "origin/main")
        print(f"werkzeug: {commits} commits on main, {a.runs} runs each, {os.cpu_count()} cores")
        print(
            f"{'state':22} {'findings':>8} {'prodfix':>9} {'raw':>9} {'ratio':>6}"
            f" {'cpu ratio':>10} {'git':>5}  findings"
        )
        shim = make_shim(Path(tmp))
        ratios: list[float] = []
        cpu_ratios: list[float] = []
        differ: list[str] = []
        for name, apply in states(r).items():
            if a.state and a.state not in name:
                continue
            apply()
            raw = ["bash", str(RAW), str(r.w), "main", "stable", str(int(time.time()))]
            ours, theirs = from_prodfix(run(check, r.w)[1]), from_raw(run(raw, r.w)[1])
            if ours != theirs:
                differ.append(name)
                print(f"{name}: findings differ\n  prodfix {sorted(ours)}\n  raw {sorted(theirs)}")
            procs = f"{git_count(check, r.w, shim)}/{git_count(raw, r.w, shim)}"
            t_check: list[float] = []
            t_raw: list[float] = []
            c_check: list[float] = []
            c_raw: list[float] = []
            for _ in range(a.runs):
                wall, _, cpu = run(check, r.w)
                t_check.append(wall)
                c_check.append(cpu)
                wall, _, cpu = run(raw, r.w)
                t_raw.append(wall)
                c_raw.append(cpu)
            mc, mr = statistics.median(t_check), statistics.median(t_raw)
            ratios.append(mc / mr)
            cpu_ratios.append(statistics.median(c_check) / statistics.median(c_raw))
            kinds = ",".join(sorted({f"{f[0].split('-')[0]}:{f[1][0]}" for f in ours})) or "-"
            print(
                f"{name:22} {len(ours):>8} {mc * 1000:7.1f}ms {mr * 1000:7.1f}ms "
                f"{mc / mr:5.2f}x {cpu_ratios[-1]:9.2f}x {procs:>5}  {kinds}"
            )
        if ratios:
            print(
                f"worst ratio {max(ratios):.2f}x, median {statistics.median(ratios):.2f}x "
                f"(cpu: worst {max(cpu_ratios):.2f}x, median {statistics.median(cpu_ratios):.2f}x;"
                " target <= 2x, moonshot 1.5x)"
            )
        bare = statistics.median(run([sys.executable, "-c", "pass"], r.w)[0] for _ in range(a.runs))
        floor = statistics.median(run([sys.executable, "-c", FLOOR], r.w)[0] for _ in range(a.runs))
        print(
            f"for scale: python -c pass {bare * 1000:.1f}ms; importing check's modules"
            f" {floor * 1000:.1f}ms"
        )
    if differ:
        sys.exit(f"the findings differ in: {', '.join(differ)}")


if __name__ == "__main__":
    main()
