"""`prodfix check --no-fetch` vs the raw git pipeline (bench/check_raw.sh) on the synthetic repo.

    python bench/bench_check.py [--runs 7] [--commits 80000]

Targets: median ratio ≤ 1.5×, peak RSS of the prodfix process ≤ 80 MB.
Both commands run alternately in the same process, so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synth

HERE = Path(__file__).resolve().parent
# The prodfix process reports its own peak RSS at exit (RUSAGE_SELF), so the git children it
# waits for (counted by RUSAGE_CHILDREN) do not hide in the figure; both are reported.
PROBE = (
    "import atexit, resource, sys\n"
    "atexit.register(lambda: sys.stderr.write("
    "f'PEAK_RSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n'))\n"
    "from prodfix.cli import main\n"
    "main(sys.argv[1:])\n"
)


def prodfix_cmd() -> list[str]:
    exe = shutil.which("prodfix", path=str(Path(sys.executable).parent)) or shutil.which("prodfix")
    if not exe:
        sys.exit("prodfix is not installed in this environment (pip install -e .)")
    return [exe]


def timed(argv: list[str], cwd: Path) -> tuple[float, int, str]:
    t0 = time.perf_counter()
    p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - t0
    if p.returncode not in (0, 1):
        sys.exit(f"{argv[0]} failed ({p.returncode}):\n{p.stderr}")
    return elapsed, p.returncode, p.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--commits", type=int, default=80_000)
    a = ap.parse_args()
    repo = synth.ensure(a.commits)
    check = [*prodfix_cmd(), "check", "--no-fetch", "--json"]
    raw = ["bash", str(HERE / "check_raw.sh"), str(repo)]
    for argv in (check, raw):  # warm the page cache
        timed(argv, repo)
    t_check: list[float] = []
    t_raw: list[float] = []
    for _ in range(a.runs):
        t_check.append(timed(check, repo)[0])
        t_raw.append(timed(raw, repo)[0])
    _, code, err = timed([sys.executable, "-c", PROBE, "check", "--no-fetch", "--json"], repo)
    self_kb = next(int(ln.split()[1]) for ln in err.splitlines() if ln.startswith("PEAK_RSS_KB"))
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    commits = subprocess.run(
        ["git", "rev-list", "--count", "refs/heads/master"],
        cwd=repo,
        capture_output=True,
        text=True,
    ).stdout.strip()
    mc, mr = statistics.median(t_check), statistics.median(t_raw)
    print(f"repo: {repo} ({commits} commits on master), {a.runs} runs each, {os.cpu_count()} cores")
    print(f"prodfix check --no-fetch  median {mc * 1000:7.0f} ms  (min {min(t_check) * 1000:.0f})")
    print(f"check_raw.sh              median {mr * 1000:7.0f} ms  (min {min(t_raw) * 1000:.0f})")
    print(f"ratio prodfix/raw          {mc / mr:.2f}x   (target <= 1.5x)")
    print(f"peak RSS prodfix process   {self_kb / 1024:.1f} MB  (target <= 80 MB; exit {code})")
    print(f"peak RSS any child (git…)  {children_kb / 1024:.1f} MB")


if __name__ == "__main__":
    main()
