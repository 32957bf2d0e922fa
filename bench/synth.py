"""Build (or reuse) a synthetic repository shaped like git.git for the policy benchmarks.

    python bench/synth.py [--commits 80000] [--fixes 200] [--force]   → prints the repo path

Shape: `master` with COMMITS commits (every third change a PR merge of a topic commit);
`delivery` cut AHEAD master commits before the end; FIXES fixes landed on delivery over the
last 60 days as PR merges (one in ten squash-landed and cherry-picked to master as the same
patch), back-merged into master every 20 fixes except the last 40; of those, one in four was
cherry-picked to master with `-x` and a different patch (a conflict resolution); one marked
`Prodfix-Sync:` merge of master into delivery half-way. Remote-tracking refs
`refs/remotes/origin/{master,delivery}` and a local `fix/bench` (one commit on delivery).
Built with two `git fast-import` streams (the `-x` picks need the SHAs of the first);
commit-graph written. Cached under bench/.cache/ keyed by the parameters.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"
WHO = "Bench Author <bench@example.com>"
FILES = 1000  # distinct source files master keeps changing


class Stream:
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.mark = 0

    def commit(
        self,
        ref: str,
        when: int,
        message: str,
        files: dict[str, str],
        *,
        parent: str | None = None,
        merge: str | None = None,
    ) -> str:
        self.mark += 1
        msg = message.encode()
        out = [
            f"commit {ref}\nmark :{self.mark}\n".encode(),
            f"author {WHO} {when} +0000\ncommitter {WHO} {when} +0000\n".encode(),
            f"data {len(msg)}\n".encode() + msg + b"\n",
        ]
        if parent:
            out.append(f"from {parent}\n".encode())
        if merge:
            out.append(f"merge {merge}\n".encode())
        for path, content in files.items():
            data = content.encode()
            out.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")
        self.parts.append(b"".join(out) + b"\n")
        return f":{self.mark}"

    def bytes(self) -> bytes:
        return b"".join(self.parts)


def git(repo: Path, *args: str, input: bytes | None = None) -> str:
    p = subprocess.run(("git", *args), cwd=repo, input=input, capture_output=True, check=True)
    return p.stdout.decode().strip()


def build(dest: Path, commits: int, fixes: int, ahead: int) -> None:
    end = int(time.time()) - 3600
    period = 60 * 86_400  # the delivery period: cut → now
    cut_time = end - period
    pre = commits - ahead
    s = Stream()
    master: dict[str, str] = {}
    delivery: dict[str, str] = {}
    m_tip = d_tip = ""
    made = 0

    def master_change(i: int, when: int) -> None:
        nonlocal m_tip, made
        n = i % FILES
        # 32-entry subdirectories: each commit rewrites two small trees, not one of 1000
        # entries (that made fast-import 10× slower).
        path, content = f"src/d{n // 32}/f{n}.txt", f"change {i}\n"
        master[path] = content
        if i % 3 == 2 and m_tip:  # a PR merge: topic commit + merge commit
            topic = s.commit(
                "refs/heads/scratch", when - 30, f"topic {i}", {path: content}, parent=m_tip
            )
            m_tip = s.commit(
                "refs/heads/master",
                when,
                f"Merge PR {i}",
                {path: content},
                parent=m_tip,
                merge=topic,
            )
            made += 2
        else:
            m_tip = s.commit(
                "refs/heads/master",
                when,
                f"master: change {i}",
                {path: content},
                parent=m_tip or None,
            )
            made += 1

    step = max(1, 400 * 86_400 // max(pre, 1))  # ~400 days of history before the cut
    i = 0
    while made < pre:
        master_change(i, cut_time - (pre - made) * step)
        i += 1
    d_tip = m_tip
    delivery.update(master)

    # Timeline of the delivery period: master keeps moving, fixes land, back-merges follow.
    events: list[tuple[int, int, int]] = []  # (time, order, kind/fix index)
    post = commits - made
    for k in range(post):
        events.append((cut_time + (k + 1) * period // (post + 1), 0, -1))
    unmerged_from = max(0, fixes - 40)
    for j in range(fixes):
        # merged fixes before the last two weeks; the 40 not yet back-merged within them
        span = period - 14 * 86_400 if j < unmerged_from else 14 * 86_400
        base = cut_time if j < unmerged_from else end - span
        n = j if j < unmerged_from else j - unmerged_from
        total = unmerged_from if j < unmerged_from else fixes - unmerged_from
        events.append((base + (n + 1) * span // (total + 1), 1, j))
    events.sort()
    fix_marks: dict[int, str] = {}
    for when, _, j in events:
        if j < 0:
            if made < commits:
                master_change(i, when)
                i += 1
            continue
        path, content = f"fixes/fix{j}.txt", f"fix {j}\n"
        delivery[path] = content
        if j % 10 == 3:  # squash-landed, the same patch cherry-picked to master
            d_tip = s.commit(
                "refs/heads/delivery", when, f"fix {j} (#{j})", {path: content}, parent=d_tip
            )
            fix_marks[j] = d_tip
            master[path] = content
            m_tip = s.commit(
                "refs/heads/master", when + 600, f"fix {j} (#{j})", {path: content}, parent=m_tip
            )
        else:
            topic = s.commit(
                "refs/heads/scratch", when - 600, f"fix {j}", {path: content}, parent=d_tip
            )
            fix_marks[j] = topic
            d_tip = s.commit(
                "refs/heads/delivery",
                when,
                f"Merge PR #{j} fix/{j} into delivery",
                {path: content},
                parent=d_tip,
                merge=topic,
            )
        if j == fixes // 2:  # a planned, marked sync of master into delivery
            changed = {p: c for p, c in master.items() if delivery.get(p) != c}
            delivery.update(changed)
            d_tip = s.commit(
                "refs/heads/delivery",
                when + 1200,
                "Sync master into delivery\n\nProdfix-Sync: release train",
                changed,
                parent=d_tip,
                merge=m_tip,
            )
        if j < unmerged_from and (j + 1) % 20 == 0:  # back-merge delivery → master
            changed = {
                p: c for p, c in delivery.items() if p.startswith("fixes/") and master.get(p) != c
            }
            master.update(changed)
            m_tip = s.commit(
                "refs/heads/master",
                when + 1800,
                "Back-merge delivery into master",
                changed,
                parent=m_tip,
                merge=d_tip,
            )
    s.parts.append(b"")
    dest.mkdir(parents=True)
    git(dest, "init", "-q", "--initial-branch=master")
    marks = dest / "marks"
    git(dest, "fast-import", "--quiet", f"--export-marks={marks}", input=s.bytes())
    sha = dict(line.split() for line in marks.read_text().splitlines())

    # Phase 2: `-x` picks whose patch changed in conflict resolution (the message needs the SHA).
    s2 = Stream()
    s2.mark = 10_000_000
    tip = "refs/heads/master^0"
    for j in range(unmerged_from, fixes):
        if j % 4 == 1 and j % 10 != 3:
            msg = f"fix {j}\n\n(cherry picked from commit {sha[fix_marks[j]]})"
            tip = s2.commit(
                "refs/heads/master",
                end + j,
                msg,
                {f"fixes/fix{j}.txt": f"fix {j} (resolved)\n"},
                parent=tip,
            )
    git(dest, "fast-import", "--quiet", input=s2.bytes())
    git(dest, "update-ref", "-d", "refs/heads/scratch")
    git(dest, "remote", "add", "origin", str(dest))
    for b in ("master", "delivery"):
        git(dest, "update-ref", f"refs/remotes/origin/{b}", f"refs/heads/{b}")
    git(dest, "branch", "fix/bench", "refs/heads/delivery")
    git(dest, "symbolic-ref", "HEAD", "refs/heads/fix/bench")
    git(dest, "read-tree", "-u", "--reset", "HEAD")
    (dest / "bench-fix.txt").write_text("the fix\n")
    git(dest, "add", "bench-fix.txt")
    git(
        dest,
        "-c",
        "user.name=Bench",
        "-c",
        "user.email=b@example.com",
        "commit",
        "-q",
        "-m",
        "fix: bench",
    )
    git(dest, "commit-graph", "write", "--reachable", "--changed-paths")
    marks.unlink()


def ensure(commits: int = 80_000, fixes: int = 200, ahead: int = 2000, force: bool = False) -> Path:
    dest = CACHE / f"synth-{commits}-{fixes}-{ahead}"
    if force and dest.exists():
        shutil.rmtree(dest)
    if (
        not (dest / ".git" / "objects" / "info" / "commit-graphs").exists()
        and not (dest / ".git" / "objects" / "info" / "commit-graph").exists()
    ):
        if dest.exists():
            shutil.rmtree(dest)
        t0 = time.monotonic()
        build(dest, commits, fixes, ahead)
        print(f"built {dest} in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    return dest


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--commits", type=int, default=80_000, help="commits on master (default 80000)")
    ap.add_argument("--fixes", type=int, default=200, help="fixes landed on delivery (default 200)")
    ap.add_argument("--ahead", type=int, default=2000, help="master commits after the cut")
    ap.add_argument("--force", action="store_true", help="rebuild even if cached")
    a = ap.parse_args()
    print(ensure(a.commits, a.fixes, a.ahead, a.force))


if __name__ == "__main__":
    main()
