"""Is a commit's change present in a tree? Reverse-apply its patch to a throwaway index.

`git apply --cached --check -R` against an index holding the tree answers without touching
the user's index or work tree (git-apply(1): --cached, --check, -R).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from prodfix.adapters.git import Repo
from prodfix.types import Sha

Patch = tuple[Sha, str]  # a commit and its patch text
_DIFF = ("--no-color", "--no-ext-diff", "--no-textconv", "--binary")


def patches(repo: Repo, base: Sha, tip: Sha) -> list[Patch]:
    """Each non-merge commit of `tip ^base` with its patch, oldest first, from one `git log`.
    NUL starts each commit: a text patch never contains NUL, and `--binary` encodes binaries."""
    out = repo.git(
        "-c", "core.quotePath=false", "log", "--reverse", "--no-merges", "-p", *_DIFF,
        "--format=%x00%H", tip, f"^{base}",
    ).stdout  # fmt: skip
    result: list[Patch] = []
    for chunk in out.split("\0")[1:]:
        sha, _, patch = chunk.partition("\n")
        if patch.strip():  # an empty commit changes nothing that could be lost
            result.append((Sha(sha), patch.lstrip("\n")))
    return result


def absent_from(repo: Repo, commit: Sha, candidates: Sequence[Patch]) -> list[Patch]:
    """The candidates whose change is not in `commit`'s tree."""
    if not candidates:
        return []
    with _index(repo, commit) as env:
        return [(s, p) for s, p in candidates if not _present(repo, s, p, env)]


def missing_paths(repo: Repo, commit: Sha, sha: Sha, patch: str) -> list[str]:
    """The files of `sha`'s patch whose part of the change is not in `commit`'s tree; all of
    the patch's files when only the whole patch fails (the parts depend on each other)."""
    files = split_files(patch)
    zero = dict(split_files(_zero_context(repo, sha))) if len(files) > 1 else {}
    with _index(repo, commit) as env:
        missing = [
            path
            for path, part in files
            if not _applies(repo, part, env, "-C1")
            and not (_adds(part) and path in zero and _applies(repo, zero[path], env, "-0"))
        ]
    return missing or [path for path, _ in files]


def split_files(patch: str) -> list[tuple[str, str]]:
    """A multi-file patch as (path, patch of that file), in order."""
    parts: list[list[str]] = []
    for line in patch.splitlines(keepends=True):
        if line.startswith("diff --git ") or not parts:
            parts.append([])
        parts[-1].append(line)
    return [(_path(p), "".join(p)) for p in parts if p and p[0].startswith("diff --git ")]


def _path(lines: list[str]) -> str:
    for prefix in ("+++ b/", "--- a/", "rename to ", "copy to "):
        for ln in lines:
            if ln.startswith(prefix):
                return ln[len(prefix) :].rstrip("\n")
    header = lines[0].rstrip("\n").removeprefix("diff --git ")
    return header.rpartition(" b/")[2] or header


def _present(repo: Repo, sha: Sha, patch: str, env: dict[str, str]) -> bool:
    """Is the change of `sha` in the tree of the index `env` points at?

    First `apply -R -C1`: the default context gives a false "absent" when master changed
    nearby. -C1 still needs the line *next to* each change to match, so the most common good
    resolution — keep the fix's line and master's change on the adjacent line — would read as
    lost. Then a zero-context patch (`-U0`, applied with `--unidiff-zero`) decides: it needs
    the fix's added lines, in order, near their place. It cannot judge a pure deletion
    (re-inserting lines needs no match), so deletions only get the -C1 check.
    """
    if _applies(repo, patch, env, "-C1"):
        return True
    if not _adds(patch):
        return False
    return _applies(repo, _zero_context(repo, sha), env, "-0")


def _adds(patch: str) -> bool:
    return any(ln.startswith("+") and not ln.startswith("+++") for ln in patch.splitlines())


def _zero_context(repo: Repo, sha: Sha) -> str:
    return repo.git(
        "-c", "core.quotePath=false", "show", "-U0", "--format=", *_DIFF, sha
    ).stdout  # fmt: skip


def _applies(repo: Repo, patch: str, env: dict[str, str], mode: str) -> bool:
    flags = ("--unidiff-zero",) if mode == "-0" else (mode,)
    r = repo.git("apply", "--cached", "--check", "-R", *flags, input=patch, env=env, check=False)
    return r.returncode == 0


@contextmanager
def _index(repo: Repo, commit: Sha) -> Iterator[dict[str, str]]:
    """A throwaway index holding `commit`'s tree: the user's index and work tree stay
    untouched (GIT_INDEX_FILE passed explicitly survives git.py's `clean_env`)."""
    with tempfile.TemporaryDirectory(prefix="prodfix-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        repo.git("read-tree", commit, env=env)
        yield env
