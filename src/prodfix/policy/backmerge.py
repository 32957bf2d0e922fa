"""Predict the back-merge delivery → master without a work tree, and say which landing on
delivery first brings each conflict (git-merge-tree(1), --write-tree).

Cost model: one `merge-tree` for the whole merge; only when it conflicts, the cumulative
prefixes of delivery's first-parent chain (the landings: PR merge commits or direct commits)
are merged in *one* `git merge-tree --stdin` process (git-merge-tree(1), --stdin), so
attribution costs one process however many landings are pending. For a long backlog with few
conflicts a bisection over the prefixes replaces the linear walk (`bisect_pays`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prodfix.adapters.git import MergeTree, Repo
from prodfix.errors import Exit, ProdfixError
from prodfix.types import Sha

# Up to this many landings the linear prefix walk (n-1 merges, one process) always runs.
LINEAR_MAX = 32


_MERGE_TREE = ("merge-tree", "--write-tree", "--name-only", "--no-messages", "-z")


@dataclass(frozen=True)
class Conflict:
    path: str
    introduced_by: Sha  # the landing on delivery whose cumulative prefix first conflicts here


@dataclass(frozen=True)
class MergeResult:
    """One merge of a `merge-tree --stdin` batch."""

    clean: bool
    tree: Sha
    paths: frozenset[str]


@dataclass(frozen=True)
class Prediction:
    mainline: Sha
    delivery: Sha
    commits: tuple[Sha, ...]  # `rev-list --reverse mainline..delivery`, oldest first
    clean: bool  # merge-tree's exit status, never the emptiness of `conflicts` (git-merge-tree(1))
    conflicts: tuple[Conflict, ...]  # sorted by path

    @property
    def pending(self) -> bool:
        return bool(self.commits)

    def introduced_by(self, sha: str) -> tuple[str, ...]:
        """Paths whose conflict first appears with landing `sha` (e.g. a simulated fix)."""
        return tuple(c.path for c in self.conflicts if c.introduced_by == sha)

    def to_json(self, delivery_name: str) -> dict[str, object]:
        """The `backmerge --dry-run --json` document."""
        return {
            "delivery": delivery_name,
            "clean": self.clean,
            "commits": list(self.commits),
            "conflicts": [
                {"path": c.path, "introduced_by": c.introduced_by} for c in self.conflicts
            ],
        }


def resolve_commit(repo: Repo, ref: str, *, role: str) -> Sha:
    """A ref (local or remote-tracking) as a commit SHA. Must run before any merge-tree:
    merge-tree exits 1 for an unknown ref, exactly as for a conflict (verified, git 2.39)."""
    sha = repo.resolve(ref)
    if sha is None:
        raise ProdfixError(
            f"{role} {ref!r} is not a commit in {repo.path}",
            hint=f"check the name, or fetch it first (`git fetch origin {ref.removeprefix('origin/')}`)",
            code=Exit.USAGE,
        )
    return sha


def predict(repo: Repo, *, mainline: str, delivery: str) -> Prediction:
    """Predict merging `delivery` into `mainline`; attribute each conflict to a landing."""
    main = resolve_commit(repo, mainline, role="mainline")
    dlv = resolve_commit(repo, delivery, role="delivery")
    return _predict(repo, main, dlv)


def _predict(repo: Repo, main: Sha, dlv: Sha) -> Prediction:
    commits, landings = _pending(repo, main, dlv)
    if not commits:
        # Nothing to merge: `git merge` would say "Already up to date".
        return Prediction(main, dlv, (), clean=True, conflicts=())
    full = repo.merge_tree(main, dlv)
    if full.clean:
        return Prediction(main, dlv, commits, clean=True, conflicts=())
    final = frozenset(full.conflicts)
    if not final:  # a conflict without a per-file entry (some directory renames; git-merge-tree(1))
        return Prediction(main, dlv, commits, clean=False, conflicts=())
    if bisect_pays(len(landings), len(final)):
        first = _attribute_bisect(repo, main, landings, final)
    else:
        first = _attribute_linear(repo, main, landings, final)
    conflicts = tuple(Conflict(path, first[path]) for path in sorted(final))
    return Prediction(main, dlv, commits, clean=False, conflicts=conflicts)


def _pending(repo: Repo, main: Sha, dlv: Sha) -> tuple[tuple[Sha, ...], list[Sha]]:
    """All commits of main..dlv (oldest first) and its first-parent chain (the landings),
    from one `rev-list --parents`: the first-parent walk of `rev-list --first-parent` stays
    inside main..dlv, since an ancestor of a commit on master is on master too."""
    rows = [
        ln.split() for ln in repo.git("rev-list", "--reverse", "--parents", f"{main}..{dlv}").lines
    ]
    commits = tuple(Sha(r[0]) for r in rows)
    first_parent = {r[0]: (r[1] if len(r) > 1 else None) for r in rows}
    landings: list[Sha] = []
    cur: str | None = dlv
    while cur is not None and cur in first_parent:
        landings.append(Sha(cur))
        cur = first_parent[cur]
    landings.reverse()
    return commits, landings


def bisect_pays(landings: int, paths: int) -> bool:
    """Bisection costs about paths·log2(landings) merges in log2(landings) processes, the
    linear walk landings-1 merges in one. Measured (bench/bench_backmerge.py --fixes 64, 80k
    commits): 64 landings with 24 conflicting paths, bisection 246 ms vs linear 173 ms — so
    bisect only when the conflicts are few against a long backlog, with a 2× margin for the
    extra processes."""
    return landings > LINEAR_MAX and 2 * paths * landings.bit_length() < landings


def _attribute_linear(
    repo: Repo, main: Sha, landings: Sequence[Sha], final: frozenset[str]
) -> dict[str, Sha]:
    """First landing whose prefix conflicts in each path of the full merge (exact).
    The last landing is the delivery tip, already merged: it takes what is left."""
    results = merge_batch(repo, [(main, c) for c in landings[:-1]])
    first: dict[str, Sha] = {}
    for landing, res in zip(landings[:-1], results, strict=True):
        for path in res.paths & final:
            first.setdefault(path, landing)
    for path in final - first.keys():
        first[path] = landings[-1]
    return first


def _attribute_bisect(
    repo: Repo, main: Sha, landings: Sequence[Sha], final: frozenset[str]
) -> dict[str, Sha]:
    """Bisection over prefixes, one batched process per round (≈ log2 n rounds).

    Exact when a path, once conflicting, stays conflicting in later prefixes (the common case:
    later landings rarely undo a conflict). If a conflict disappears and comes back, this may
    name the later landing where the linear walk names the earlier one — the price of
    O(k·log n) merges instead of n for long backlogs.
    """
    # Interval (lo, hi) over prefix indexes 0..n (0 = nothing merged, conflict-free), with the
    # final-conflict paths known to appear somewhere in (lo, hi].
    first: dict[str, Sha] = {}
    todo: list[tuple[int, int, frozenset[str]]] = [(0, len(landings), final)]
    while todo:
        split = [(lo, hi, paths) for lo, hi, paths in todo if hi - lo > 1]
        for lo, hi, paths in todo:
            if hi - lo == 1:
                first.update(dict.fromkeys(paths, landings[hi - 1]))
        mids = [(lo + hi) // 2 for lo, hi, _ in split]
        results = merge_batch(repo, [(main, landings[m - 1]) for m in mids])
        todo = []
        for (lo, hi, paths), mid, res in zip(split, mids, results, strict=True):
            left, right = paths & res.paths, paths - res.paths
            todo += [iv for iv in ((lo, mid, left), (mid, hi, right)) if iv[2]]
    return first


def merge_batch(repo: Repo, pairs: Iterable[tuple[str, str]]) -> list[MergeResult]:
    """Many merges in one `git merge-tree --stdin` process (git ≥ 2.39).

    Verified on git 2.39.5 with `--name-only --no-messages -z`, per merge:
    `<1|0> NUL <tree> NUL <path> NUL … NUL NUL` — status **1 = clean** (inverted vs exit
    codes), then the conflicted paths, closed by an empty record; the process exits 0.
    Inputs must be verified commits: an unknown one aborts the whole batch with exit 1.
    """
    return [_one(mt) for mt in repo.merge_tree_batch(list(pairs))]


def _one(mt: MergeTree) -> MergeResult:
    return MergeResult(clean=mt.clean, tree=mt.tree, paths=frozenset(mt.conflicts))
