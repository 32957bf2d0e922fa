"""Verify a back-merge after it landed on master (NOTES/git.md §4.5c, §4.7.5, §4.8).

Ancestry alone says "merged" even when the merge threw the fixes away (`-s ours`, or a
conflict resolved by taking master's side), so the checks look at trees and patches too.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from prodfix.adapters.git import GitError, Repo
from prodfix.policy.backmerge import resolve_commit
from prodfix.types import Sha

MARKER = ": leftover conflict marker"


@dataclass(frozen=True)
class Problem:
    code: str  # not-a-merge | delivery-not-merged | empty-backmerge | conflict-markers | lost-fix
    message: str
    evidence: tuple[str, ...]  # SHAs or "path:line"


def verify_backmerge(
    repo: Repo, *, merge_commit: str, delivery_tip: str, mainline: str
) -> list[Problem]:
    """Problems of the back-merge `merge_commit`, which should bring `delivery_tip` (delivery
    at PR time) into `mainline`. An empty list means it is a sound back-merge."""
    m = resolve_commit(repo, merge_commit, role="back-merge commit")
    tip = resolve_commit(repo, delivery_tip, role="delivery tip")
    main = resolve_commit(repo, mainline, role="mainline")
    parents = [Sha(p) for p in repo.out("rev-list", "--parents", "-n1", m).split()[1:]]
    problems: list[Problem] = []
    if len(parents) < 2:
        problems.append(
            Problem(
                "not-a-merge",
                f"back-merge {m[:7]} is not a merge commit (squashed or rebased): delivery's "
                "history did not reach master, so the same fixes count as unmerged and their "
                "conflicts come back at the next back-merge",
                (m,),
            )
        )
    if not repo.is_ancestor(tip, main):
        # §4.8: only a true merge moves the merge base; this is the check that proves it.
        problems.append(
            Problem(
                "delivery-not-merged",
                f"delivery tip {tip[:7]} is not an ancestor of {mainline}",
                (tip,),
            )
        )
    if len(parents) < 2:
        return problems
    ours, theirs = parents[0], parents[1]
    problems += _markers(repo, m, ours, theirs)
    lost = _lost_fixes(repo, m, ours, theirs)
    empty = _empty(repo, m, ours, theirs)
    if empty:
        problems.append(empty)
    if lost:
        problems.append(
            Problem(
                "lost-fix",
                f"{len(lost)} delivery fix(es) merged by {m[:7]} are not in its tree "
                "(conflict resolved by taking master's side?)",
                tuple(lost),
            )
        )
    return problems


def _markers(repo: Repo, m: Sha, ours: Sha, theirs: Sha) -> list[Problem]:
    """Conflict markers the merge itself added: lines new relative to *both* parents (a marker
    line that delivery already had is delivery's business, not this merge's). `diff --check`
    exits 2 for whitespace errors too, so the message is what counts (§4.7.5)."""
    added = _marker_lines(repo, ours, m) & _marker_lines(repo, theirs, m)
    if not added:
        return []
    found = tuple(sorted(added))
    return [Problem("conflict-markers", f"back-merge {m[:7]} commits conflict markers", found)]


def _marker_lines(repo: Repo, base: Sha, m: Sha) -> set[str]:
    args = ("-c", "core.quotePath=false", "diff", "--check", "--no-ext-diff", base, m)
    r = repo.git(*args, check=False)
    if r.returncode not in (0, 2):
        raise GitError(("git", *args), r.returncode, r.stdout, r.stderr)
    return {ln.removesuffix(MARKER) for ln in r.lines if ln.endswith(MARKER)}


def _empty(repo: Repo, m: Sha, ours: Sha, theirs: Sha) -> Problem | None:
    """`-s ours`: M's tree is master's although delivery brought commits (§4.5c). Not a problem
    when git's own merge would bring nothing either (every fix already on master, e.g. picked)."""
    tree_m, tree_ours = repo.out("rev-parse", f"{m}^{{tree}}", f"{ours}^{{tree}}").split()
    if tree_m != tree_ours or repo.count(f"{ours}..{theirs}") == 0:
        return None
    auto = repo.merge_tree(ours, theirs)
    if auto.clean and auto.tree == tree_ours:
        return None
    return Problem(
        "empty-backmerge",
        f"back-merge {m[:7]} changes nothing although it merges delivery commits "
        "(made with `-s ours`?)",
        (m,),
    )


def _lost_fixes(repo: Repo, m: Sha, ours: Sha, theirs: Sha) -> list[Sha]:
    """Delivery fixes brought by M whose change is absent from M's tree, by reverse-applying
    each fix's patch to a temporary index (§4.5c). Fixes already absent from the merged
    delivery tip (reverted or superseded there) are not expected in M either."""
    patches = _patches(repo, ours, theirs)
    if not patches:
        return []
    lost: list[Sha] = []
    with _index(repo, theirs) as delivery_env, _index(repo, m) as merge_env:
        for sha, patch in patches:
            if _present(repo, sha, patch, delivery_env) and not _present(
                repo, sha, patch, merge_env
            ):
                lost.append(sha)
    return lost


def _present(repo: Repo, sha: Sha, patch: str, env: dict[str, str]) -> bool:
    """Is the change of `sha` in the tree of the index `env` points at?

    First `apply -R -C1` with the usual context, as §4.5c verified (default context gives a
    false "absent" when master changed nearby). -C1 still needs the line *next to* each change
    to match, so the most common good resolution — keep the fix's line and master's change on
    the adjacent line — would read as lost. Then a zero-context patch (`-U0`, applied with
    `--unidiff-zero`) decides: it needs the fix's added lines, in order, near their place.
    It cannot judge a pure deletion (re-inserting lines needs no match), so deletions only get
    the -C1 check.
    """
    if _applies(repo, patch, env, "-C1"):
        return True
    if not any(ln.startswith("+") and not ln.startswith("+++") for ln in patch.splitlines()):
        return False
    zero = repo.git(
        "show", "-U0", "--format=", "--binary", "--no-color", "--no-ext-diff", "--no-textconv",
        sha,
    ).stdout  # fmt: skip
    return _applies(repo, zero, env, "--unidiff-zero")


def _applies(repo: Repo, patch: str, env: dict[str, str], mode: str) -> bool:
    r = repo.git("apply", "--cached", "--check", "-R", mode, input=patch, env=env, check=False)
    return r.returncode == 0


def _patches(repo: Repo, ours: Sha, theirs: Sha) -> list[tuple[Sha, str]]:
    """Each non-merge commit of ours..theirs with its patch, oldest first, from one `git log`.
    NUL starts each commit: a text patch never contains NUL, and `--binary` encodes binaries."""
    out = repo.git(
        "log", "--reverse", "--no-merges", "-p", "--binary", "--no-color", "--no-ext-diff",
        "--no-textconv", "--format=%x00%H", f"{ours}..{theirs}",
    ).stdout  # fmt: skip
    result: list[tuple[Sha, str]] = []
    for chunk in out.split("\0")[1:]:
        sha, _, patch = chunk.partition("\n")
        if patch.strip():  # an empty commit changes nothing that could be lost
            result.append((Sha(sha), patch.lstrip("\n")))
    return result


@contextmanager
def _index(repo: Repo, commit: Sha) -> Iterator[dict[str, str]]:
    """A throwaway index holding `commit`'s tree: the user's index and work tree stay
    untouched (GIT_INDEX_FILE passed explicitly survives git.py's `clean_env`)."""
    with tempfile.TemporaryDirectory(prefix="prodfix-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        repo.git("read-tree", commit, env=env)
        yield env
