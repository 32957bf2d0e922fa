"""`prodfix audit` over 50 clones with local bare remotes: `--jobs 1` vs the default.

    python bench/bench_audit.py [--runs 3] [--repos 50] [--commits 3000] [--force]

Targets: speedup default/`--jobs 1` ≥ 1.8× on 2 cores; peak RSS ≤ 150 MB.
Each run is measured in a fresh child process that starts the installed `prodfix` and reports
its wall time and `getrusage(RUSAGE_CHILDREN).ru_maxrss` — the largest of prodfix and the git
processes it waited for, unpolluted by earlier runs. One more run reports the prodfix process
alone (RUSAGE_SELF at exit). Runs alternate between the two settings, so machine noise hits
both alike.

Repositories (built with `git fast-import`, cached under bench/.cache/audit-*): each has
COMMITS commits on master (every third change a PR merge), `delivery` cut 300 master commits
before the end, 12 fixes landed on delivery as PR merges over the last 30 days, back-merged
after the sixth; every second repository has its last six fixes not back-merged yet, every
fifth a merge of master into delivery (rule 2), every tenth a GitOps `apps/<app>/<dc>/`
tree whose DCs run different tags. Clones have a commit-graph, as `git maintenance` leaves.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import CACHE, Stream, git

AHEAD = 300
FIXES = 12
FILES = 200
DAY = 86_400
DEPLOYMENT = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc\nspec:\n  template:\n"
    "    spec:\n      containers:\n        - name: app\n"
    "          image: registry.example.com/team/svc{i}:{tag}\n"
)

# The fresh child: runs prodfix, then reports its own children's peak RSS and the wall time.
CHILD = (
    "import json, resource, subprocess, sys, time\n"
    "t0 = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "dt = time.perf_counter() - t0\n"
    "print(json.dumps({'s': dt, 'code': p.returncode, 'err': p.stderr[-2000:],\n"
    "  'rss_kb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))\n"
)
SELF_PROBE = (
    "import atexit, resource, sys\n"
    "atexit.register(lambda: sys.stderr.write("
    "f'PEAK_RSS_KB {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n'))\n"
    "from prodfix.cli import main\n"
    "main(sys.argv[1:])\n"
)


def history(i: int, commits: int, end: int) -> bytes:
    s = Stream()
    m_tip = ""
    made = 0
    n = 0

    def master_change(when: int) -> None:
        nonlocal m_tip, made, n
        path, content = f"src/d{n % FILES // 32}/f{n % FILES}.txt", f"repo {i} change {n}\n"
        n += 1
        if n % 3 == 2 and m_tip:
            topic = s.commit(
                "refs/heads/scratch", when - 30, f"topic {n}", {path: content}, parent=m_tip
            )
            m_tip = s.commit(
                "refs/heads/master",
                when,
                f"Merge PR {n}",
                {path: content},
                parent=m_tip,
                merge=topic,
            )
            made += 2
        else:
            m_tip = s.commit(
                "refs/heads/master", when, f"change {n}", {path: content}, parent=m_tip or None
            )
            made += 1

    start = end - 200 * DAY
    cut = end - 30 * DAY
    pre = commits - AHEAD
    while made < pre:
        master_change(start + made * (cut - start) // pre)
    d_tip = m_tip
    files: dict[str, str] = {}
    if i % 10 == 0:  # a GitOps tree; the DCs disagree on the tag
        for dc, tag in (("us1", "1.4.2"), ("eu1", "1.5.0"), ("ap1", "1.4.2")):
            files[f"apps/svc{i}/{dc}/deployment.yaml"] = DEPLOYMENT.format(i=i, tag=tag)
        m_tip = s.commit("refs/heads/master", cut - 60, "deployments", files, parent=m_tip)
    pending_from = FIXES // 2 if i % 2 == 0 else FIXES
    for j in range(FIXES):
        when = cut + (j + 1) * 30 * DAY // (FIXES + 2)
        while made < pre + (j + 1) * AHEAD // (FIXES + 1):
            master_change(when - 3600)
        path = f"fixes/fix{j}.txt"
        topic = s.commit(
            "refs/heads/scratch", when - 600, f"fix {j}", {path: f"fix {j}\n"}, parent=d_tip
        )
        d_tip = s.commit(
            "refs/heads/delivery",
            when,
            f"Merge PR #{j} fix/{j} into delivery",
            {path: f"fix {j}\n"},
            parent=d_tip,
            merge=topic,
        )
        if j == 3 and i % 5 == 0:  # rule 2 broken: master merged into delivery, unmarked
            d_tip = s.commit(
                "refs/heads/delivery",
                when + 60,
                "Merge master into delivery",
                {},
                parent=d_tip,
                merge=m_tip,
            )
        if j + 1 in (FIXES // 2, pending_from):
            m_tip = s.commit(
                "refs/heads/master",
                when + 1800,
                "Back-merge delivery into master",
                {f"fixes/fix{k}.txt": f"fix {k}\n" for k in range(j + 1)},
                parent=m_tip,
                merge=d_tip,
            )
    while made < commits:
        master_change(end - (commits - made) * 60)
    s.parts.append(b"")
    return s.bytes()


def ensure(repos: int, commits: int, force: bool) -> Path:
    root = CACHE / f"audit-{repos}-{commits}"
    if force and root.exists():
        shutil.rmtree(root)
    if (root / "complete").exists():
        return root
    if root.exists():
        shutil.rmtree(root)
    t0 = time.monotonic()
    end = int(time.time()) - 3600
    for i in range(repos):
        bare, work = root / "remotes" / f"r{i:02}.git", root / "work" / f"r{i:02}"
        bare.mkdir(parents=True)
        git(bare, "init", "-q", "--bare", "--initial-branch=master")
        git(bare, "fast-import", "--quiet", input=history(i, commits, end))
        git(bare, "update-ref", "-d", "refs/heads/scratch")
        work.parent.mkdir(parents=True, exist_ok=True)
        git(root, "clone", "-q", str(bare), str(work))
        git(work, "commit-graph", "write", "--reachable", "--changed-paths")
    (root / "complete").write_text("")
    print(f"built {repos} repositories in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    return root


def prodfix_exe() -> str:
    exe = shutil.which("prodfix", path=str(Path(sys.executable).parent)) or shutil.which("prodfix")
    if not exe:
        sys.exit("prodfix is not installed in this environment (pip install -e .)")
    return exe


def measured(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """(seconds, peak RSS KB) of one prodfix run, from a fresh child process."""
    p = subprocess.run(
        [sys.executable, "-c", CHILD, *argv], capture_output=True, text=True, env=env, check=True
    )
    r = json.loads(p.stdout)
    if r["code"] not in (0, 1):
        sys.exit(f"prodfix audit failed ({r['code']}):\n{r['err']}")
    return r["s"], r["rss_kb"]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--repos", type=int, default=50)
    ap.add_argument("--commits", type=int, default=3000)
    ap.add_argument("--force", action="store_true", help="rebuild the repositories")
    a = ap.parse_args()
    root = ensure(a.repos, a.commits, a.force)
    paths = sorted(str(p) for p in (root / "work").iterdir())
    env = dict(os.environ, PRODFIX_HOME=str(root / "home"))  # never the user's fix records
    exe = prodfix_exe()
    cases = {
        "--jobs 1": [exe, "audit", "--json", "--jobs", "1", *paths],
        "default": [exe, "audit", "--json", *paths],
    }
    for argv in cases.values():  # warm-up: page cache, .pyc files
        measured(argv, env)
    times: dict[str, list[float]] = {k: [] for k in cases}
    rss: dict[str, list[int]] = {k: [] for k in cases}
    for _ in range(a.runs):
        for name, argv in cases.items():
            s, kb = measured(argv, env)
            times[name].append(s)
            rss[name].append(kb)
    probe = subprocess.run(
        [sys.executable, "-c", SELF_PROBE, "audit", "--json", *paths],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    self_kb = next(
        int(x.split()[1]) for x in probe.stderr.splitlines() if x.startswith("PEAK_RSS_KB")
    )
    doc = json.loads(probe.stdout)
    not_ok = sum(1 for r in doc["repos"] if not r["ok"])
    jobs = min(16, 4 * (os.cpu_count() or 1))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{len(paths)} repositories × {a.commits} commits, {a.runs} runs each, "
        f"{os.cpu_count()} cores (default --jobs {jobs}); {not_ok} repositories not ok; "
        f"load average {load}"
    )
    for name, v in times.items():
        print(f"prodfix audit {name:9} median {statistics.median(v):6.2f} s  (min {min(v):.2f})")
    ratio = statistics.median(times["--jobs 1"]) / statistics.median(times["default"])
    print(f"speedup default vs --jobs 1  {ratio:.2f}x   (target >= 1.8x on 2 cores)")
    for name, v in rss.items():
        print(f"peak RSS {name:9} (RUSAGE_CHILDREN, fresh child)  max {max(v) / 1024:.1f} MB")
    print(
        f"peak RSS prodfix process alone (default jobs)  {self_kb / 1024:.1f} MB  (target <= 150 MB)"
    )


if __name__ == "__main__":
    main()
