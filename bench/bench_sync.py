"""`prodfix sync --dry-run --json` on a real repository, against the raw git it rests on.

    python bench/bench_sync.py [--runs 9] [--bundle PATH] [--behind 50,300,1000]

The repository is werkzeug (`../shared/real-repos/werkzeug.bundle` beside the repository
root; skipped with a message when absent), cloned with a bare origin and a commit-graph. For
each size, its delivery branch (`stable`) is put that many first-parent commits behind `main`,
and three commands run as real processes, alternately (machine noise hits them alike):

- `prodfix sync --into stable --dry-run --json --no-fetch` — the preview: every commit main
  would bring with its paths, grouped by landing, CODEOWNERS, and the conflict prediction;
- the baseline, `prodfix backmerge --from stable --dry-run --json --no-fetch` — the sibling
  prediction (the same start-up, layers and merge-tree, without the per-commit paths);
- the raw floor: `git log --name-only stable..main` and `git merge-tree --write-tree`, the
  two git calls no preview can do without.

Printed: the medians, the ratio of the preview to the baseline (target ≤ 2× up to 1000
first-parent commits behind: the preview also reads and prints every commit's paths — at
2,700 commits, indenting the JSON document alone takes ~0.1 s), the raw floor, and
`prodfix --version` (the start-up alone).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUNDLE = HERE.parent.parent / "shared" / "real-repos" / "werkzeug.bundle"


def git(cwd: Path, *args: str) -> str:
    p = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"git {' '.join(args)} failed:\n{p.stderr}")
    return p.stdout.strip()


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    t = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if p.returncode not in (0, 1):  # merge-tree exits 1 on conflicts
        sys.exit(f"{cmd} failed:\n{p.stderr[-2000:]}")
    return (time.perf_counter() - t) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--bundle", type=Path, default=BUNDLE)
    ap.add_argument("--behind", default="50,300,1000")
    a = ap.parse_args()
    if not a.bundle.exists():
        print(f"skipped: {a.bundle} not found")
        return
    with tempfile.TemporaryDirectory(prefix="prodfix-bench-sync-") as tmp:
        root = Path(tmp)
        env = {**os.environ, "PRODFIX_HOME": str(root / "state"), "NO_COLOR": "1"}
        origin, w = root / "origin.git", root / "werkzeug"
        git(root, "clone", "-q", "--bare", str(a.bundle), str(origin))
        git(root, "clone", "-q", str(origin), str(w))
        git(w, "commit-graph", "write", "--reachable")
        (w / ".prodfix.toml").write_text('mainline = "main"\ndelivery = "stable"\n')
        chain = git(w, "rev-list", "--first-parent", "origin/main").split()
        pf = [sys.executable, "-m", "prodfix", "-C", str(w)]
        version = statistics.median(timed([*pf, "--version"], w, env) for _ in range(a.runs))
        print(f"prodfix --version (start-up baseline)   median {version:7.1f} ms")
        for n in (int(x) for x in a.behind.split(",")):
            git(w, "update-ref", "refs/remotes/origin/stable", chain[n])
            sync = [*pf, "sync", "--into", "stable", "--dry-run", "--json", "--no-fetch"]
            doc = json.loads(subprocess.run(sync, capture_output=True, text=True, env=env).stdout)
            back = [*pf, "backmerge", "--from", "stable", "--dry-run", "--json", "--no-fetch"]
            ours, base, raw = [], [], []
            for _ in range(a.runs):
                ours.append(timed(sync, w, env))
                base.append(timed(back, w, env))
                t = time.perf_counter()
                git(w, "log", "-z", "--name-only", "origin/main", "^origin/stable")
                subprocess.run(
                    ["git", "merge-tree", "--write-tree", "origin/stable", "origin/main"],
                    cwd=w,
                    capture_output=True,
                )
                raw.append((time.perf_counter() - t) * 1000)
            m_ours, m_base, m_raw = (statistics.median(x) for x in (ours, base, raw))
            print(
                f"behind {n:5d} first-parent ({len(doc['commits']):5d} commits, "
                f"{len(doc['conflicts'])} conflicting paths): sync preview {m_ours:6.1f} ms, "
                f"backmerge prediction {m_base:6.1f} ms, ratio {m_ours / m_base:4.2f}x "
                f"(target ≤ 2x); raw git {m_raw:5.1f} ms"
            )


if __name__ == "__main__":
    main()
