"""What a `Repo` remembers so a command starts fewer git processes: the refs read within one
look at the repository, and the keys of answers that depend on object ids only.

Ref reads are remembered only inside a look (`Repo.looking()`), and dropped as soon as prodfix
runs a git command that may move a ref: outside a look, another process may have moved refs
since, and every read asks git again.
"""

from __future__ import annotations

TYPE_CHECKING = False  # no typing at run time: `check` loads this module (prodfix/tuples.py)
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

# Subcommands that never move a ref (they write objects or prodfix's own index files at
# most): a ref read in a look stays valid across them. Anything else (fetch, push, update-ref,
# commit, merge, worktree…) drops what was read.
KEEPS_REFS = frozenset(
    {
        "apply", "cat-file", "check-ref-format", "checkout-index", "commit-tree", "config",
        "diff", "for-each-ref", "hash-object", "log", "ls-files", "ls-remote", "merge-base",
        "merge-tree", "mktree", "patch-id", "read-tree", "rev-list", "rev-parse", "show",
        "status", "update-index", "var", "version", "write-tree",
    }
)  # fmt: skip
_GLOB = frozenset("*?[\\")
_HEX = frozenset("0123456789abcdef")


def is_sha(text: str) -> bool:
    """A full object id (SHA-1 or SHA-256), which names one object forever."""
    return len(text) in (40, 64) and not set(text) - _HEX


def parent_key(rev: str) -> str | None:
    """The memo key of `<full sha>^` / `<full sha>^1` (a commit's first parent), else None."""
    sha, caret, rest = rev.partition("^")
    return f"p1:{sha}" if caret and rest in ("", "1") and is_sha(sha) else None


class RefLook:
    """The ref reads of the open looks (nestable) of one repository."""

    def __init__(self) -> None:
        self.depth = 0
        self.reads: list[tuple[tuple[str, ...], dict[str, str]]] = []

    def __enter__(self) -> None:
        self.depth += 1

    def __exit__(self, *exc: object) -> None:
        self.depth -= 1
        if not self.depth:
            self.reads.clear()

    def running(self, sub: str | None) -> None:
        """A git subcommand is about to run: forget the refs if it may move one."""
        if self.reads and sub not in KEEPS_REFS:
            self.reads.clear()

    def served(self, patterns: tuple[str, ...]) -> dict[str, str] | None:
        if not self.depth:
            return None
        for read, found in self.reads:
            served = covered(patterns, read, found)
            if served is not None:
                return served
        return None

    def remember(self, patterns: tuple[str, ...], found: dict[str, str]) -> None:
        if self.depth and not any(set(p) & _GLOB for p in patterns):
            self.reads.append((patterns, dict(found)))


def covered(
    patterns: Sequence[str], read: Sequence[str], found: Mapping[str, str]
) -> dict[str, str] | None:
    """The refs matching `patterns`, taken from an earlier read of `read` when every pattern
    lies inside one of them (for-each-ref matches a pattern as a prefix up to a `/`,
    git-for-each-ref(1)); None when they do not."""
    if not patterns or any(set(p) & _GLOB for p in patterns):
        return None
    if read and not all(any(_within(p, r) for r in read) for p in patterns):
        return None
    return {n: s for n, s in found.items() if any(_matches(n, p) for p in patterns)}


def _within(pattern: str, read: str) -> bool:
    p, r = pattern.rstrip("/"), read.rstrip("/")
    return p == r or p.startswith(r + "/")


def _matches(name: str, pattern: str) -> bool:
    p = pattern.rstrip("/")
    return name == p or name.startswith(p + "/")
