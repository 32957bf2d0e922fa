"""Pure graph helpers over commit records already read from git (no processes here).

The rules need to know *which first-parent commit of a delivery branch brought* a commit in:
the merge to name for `master-merged-into-delivery`, and the landing date for
`missing-backmerge` (landing date, not author date). Asking git per commit would spawn a
process per commit; instead one `git log
--format=%H %P` of the range is read and walked here, linear in the size of the range.
"""

from __future__ import annotations

from prodfix.types import Sha

TYPE_CHECKING = False  # no typing at run time: `check` loads this module (prodfix/tuples.py)
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import NamedTuple
else:
    from prodfix.tuples import NamedTuple


class Commit(NamedTuple):
    """A commit record. The policy's records are NamedTuples, immutable like frozen dataclasses
    but several times cheaper to define at import — a cost `check` pays on every start."""

    sha: Sha
    parents: tuple[Sha, ...]
    time: int  # committer date, seconds since the epoch
    subject: str
    sync: bool = False  # the message carries a `Prodfix-Sync:` trailer


def first_parent_chain(commits: Mapping[Sha, Commit], tip: Sha) -> list[Sha]:
    """The first-parent chain from tip while it stays inside the range, newest first.

    A range `D ^B` is closed under descendants inside D, so the chain never re-enters it once
    it has left (everything below a commit reachable from B is reachable from B too).
    """
    chain: list[Sha] = []
    cur: Sha | None = tip
    while cur is not None and cur in commits:
        chain.append(cur)
        parents = commits[cur].parents
        cur = parents[0] if parents else None
    return chain


def landings(commits: Mapping[Sha, Commit], tip: Sha) -> dict[Sha, Sha]:
    """Map every commit of the range to the first-parent commit of `tip` that brought it in.

    Oldest landing first: after landing k is processed, every commit reachable from it is
    marked, so the commits newly reached from landing k+1's other parents are exactly
    `L^1..L` — what that merge introduced.
    """
    landed: dict[Sha, Sha] = {}
    for fp in reversed(first_parent_chain(commits, tip)):
        landed[fp] = fp
        stack = list(commits[fp].parents[1:])
        while stack:
            sha = stack.pop()
            if sha in landed or sha not in commits:
                continue
            landed[sha] = fp
            stack.extend(commits[sha].parents)
    return landed


def index(records: Iterable[Commit]) -> dict[Sha, Commit]:
    return {c.sha: c for c in records}


def sync_covered(commits: Mapping[Sha, Commit], members: Iterable[Sha]) -> set[Sha]:
    """The members reachable, without leaving `members`, from a marked sync merge among them:
    what those syncs brought. A forge merge of a sync branch brings the marked merge as its
    second parent (or an ancestor of it), so its master commits are covered by the mark."""
    inside = set(members)
    stack = [s for s in inside if commits[s].sync and len(commits[s].parents) > 1]
    seen: set[Sha] = set()
    while stack:
        sha = stack.pop()
        if sha in seen or sha not in inside:
            continue
        seen.add(sha)
        stack.extend(commits[sha].parents)
    return seen
