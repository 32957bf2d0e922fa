"""Benchmark: back-merge prediction vs the raw `git merge-tree` calls it stands for.

Builds (with `git fast-import`) a repository whose master has a long linear history and a
delivery branch cut `--behind` commits before master's tip, carrying 8 fix PRs (fix commit +
merge commit each), 3 of which conflict with master. Then times, in the same run:

* `predict()` — prodfix, in-process (median of --runs);
* the raw calls it replaces, as a shell loop: the full `merge-tree`, then one `merge-tree`
  per cumulative first-parent prefix (a conflict is attributed to the first prefix where it
  appears).

    /work/venv/bin/python bench/bench_backmerge.py [--commits 80000] [--runs 7] [--dir DIR]

Target: predict ≤ 1.5 × raw.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from prodfix.adapters.git import Repo, run
from prodfix.policy import backmerge
from prodfix.policy.backmerge import predict

FILES = 2000  # files in the tree, 40 per directory
LINES = 20  # lines per file: edits to different, non-adjacent lines merge cleanly
FIXES = 8
CONFLICTING = (1, 4, 6)  # fix indexes that edit a line master also edited after the cut
# With --fixes > 8, every fix k with k % 8 in CONFLICTING conflicts.


def path(i: int) -> str:
    return f"d{i // 40:02d}/f{i % 40:02d}.txt"


def stream(commits: int, behind: int, fixes: int) -> Iterator[bytes]:
    """fast-import commands. Master commit i edits line (i // FILES) % LINES of file i % FILES,
    so consecutive commits touch different files and every file is edited many times."""
    content = [[f"{f}:{n}" for n in range(LINES)] for f in range(FILES)]
    cut_mark, cut = commits - behind, content
    after_cut: list[tuple[int, int]] = []  # (file, line) master edited after the cut
    for i in range(1, commits + 1):
        yield commit("refs/heads/master", i, f"master {i}", i - 1 if i > 1 else None)
        if i == 1:
            for f in range(FILES):
                yield modify(f, content[f])
        else:
            f, n = i % FILES, (i // FILES) % LINES
            content[f][n] = f"master {i}"
            if i > cut_mark:
                after_cut.append((f, n))
            yield modify(f, content[f])
        yield b"\n"
        if i == cut_mark:
            cut = [list(c) for c in content]
    # delivery = the cut, then FIXES PRs landed with merge commits.
    touched = {f for f, _ in after_cut}
    clean_files = [f for f in range(FILES) if f not in touched]
    delivery: dict[int, list[str]] = {}
    mark, tip = commits, cut_mark
    for k in range(fixes):
        f, n = (
            after_cut[k * 37 % len(after_cut)] if k % 8 in CONFLICTING else (clean_files[k * 13], 3)
        )
        lines = delivery.setdefault(f, list(cut[f]))
        lines[n] = f"fix {k}"
        yield commit(f"refs/heads/fix/{k}", mark + 1, f"fix {k}", tip) + modify(f, lines) + b"\n"
        yield commit("refs/heads/delivery", mark + 2, f"Merge PR fix/{k}", tip, mark + 1)
        yield modify(f, lines) + b"\n"
        mark, tip = mark + 2, mark + 2


def commit(ref: str, mark: int, msg: str, parent: int | None, merge: int | None = None) -> bytes:
    out = b"commit %s\nmark :%d\ncommitter Bench <bench@example.com> %d +0000\n" % (
        ref.encode(),
        mark,
        1_600_000_000 + mark * 60,
    )
    out += b"data %d\n%s\n" % (len(msg), msg.encode())
    if parent is not None:
        out += b"from :%d\n" % parent
    if merge is not None:
        out += b"merge :%d\n" % merge
    return out


def modify(f: int, lines: list[str]) -> bytes:
    data = ("\n".join(lines) + "\n").encode()
    return b"M 100644 inline %s\ndata %d\n%s\n" % (path(f).encode(), len(data), data)


def build(dest: Path, commits: int, behind: int, fixes: int) -> float:
    start = time.perf_counter()
    run(dest.parent, "init", "-q", "--bare", str(dest))
    proc = subprocess.Popen(("git", "fast-import", "--quiet"), cwd=dest, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    for chunk in stream(commits, behind, fixes):
        proc.stdin.write(chunk)
    proc.stdin.close()
    if proc.wait() != 0:
        sys.exit("fast-import failed")
    # What `fetch.writeCommitGraph=true` gives prodfix's clones (git-config(1),
    # git-commit-graph(1)).
    run(dest, "commit-graph", "write", "--reachable", "--changed-paths")
    return time.perf_counter() - start


def median_ms(fn: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    fn()  # warm-up: page cache, commit-graph, objects written by merge-tree
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), times


# The same merges predict() needs: the full one, then every cumulative prefix but the last
# (delivery~1 is the tip's first parent; the tip itself is the full merge). `; :` because
# merge-tree exits 1 on conflict.
RAW = """
git rev-parse --verify --quiet 'master^{commit}' >/dev/null
git rev-parse --verify --quiet 'delivery^{commit}' >/dev/null
git merge-tree --write-tree --name-only --no-messages -z master delivery >/dev/null
for c in $(git rev-list --first-parent --reverse master..delivery~1); do
  git merge-tree --write-tree --name-only --no-messages -z master $c >/dev/null
done; :
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commits", type=int, default=80_000)
    ap.add_argument("--behind", type=int, default=300, help="master commits after the cut")
    ap.add_argument("--fixes", type=int, default=FIXES, help="fix PRs pending on delivery")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--dir", type=Path, help="build here and keep it (default: a temp dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-backmerge-") as tmp:
        root = args.dir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        dest = root / "repo.git"
        if dest.exists():
            print(f"reusing {dest}")
        else:
            secs = build(dest, args.commits, args.behind, args.fixes)
            print(f"built {args.commits} master commits + {args.fixes} fix PRs in {secs:.1f} s")
        repo = Repo(dest)
        p = predict(repo, mainline="master", delivery="delivery")
        landings = repo.count("--first-parent", "master..delivery")
        print(
            f"pending: {len(p.commits)} commits, {landings} landings; clean={p.clean}; "
            f"conflicts: {', '.join(f'{c.path}<-{c.introduced_by[:7]}' for c in p.conflicts)}"
        )
        ours, ours_all = median_ms(
            lambda: predict(repo, mainline="master", delivery="delivery"), args.runs
        )
        raw, raw_all = median_ms(
            lambda: subprocess.run(("bash", "-c", RAW), cwd=dest, check=True), args.runs
        )
        print(f"predict  median {ours:7.1f} ms  runs {[round(t) for t in ours_all]}")
        print(f"raw loop median {raw:7.1f} ms  runs {[round(t) for t in raw_all]}")
        print(f"ratio predict/raw = {ours / raw:.2f} (target <= 1.5)")
        # Attribution strategies head to head, same run (justifies `bisect_pays`).
        chosen = backmerge.bisect_pays
        for name, forced in (("linear walk", False), ("bisection", True)):
            backmerge.bisect_pays = lambda landings, paths, f=forced: f  # type: ignore[misc]
            ms, _ = median_ms(
                lambda: predict(repo, mainline="master", delivery="delivery"), args.runs
            )
            same = predict(repo, mainline="master", delivery="delivery") == p
            print(f"{name:11} median {ms:7.1f} ms (same answer: {same})")
        backmerge.bisect_pays = chosen


if __name__ == "__main__":
    main()
