"""The `Repo` methods that answer many questions in one git process: merge predictions
(`merge-tree`, one or many), and the contents of many objects (`cat-file --batch`)."""

from __future__ import annotations

from prodfix.adapters.gitlook import is_sha
from prodfix.adapters.gitrun import GitError, Result, version
from prodfix.errors import ProdfixError
from prodfix.types import Sha

TYPE_CHECKING = False  # no typing at run time: `check` loads this module (prodfix/tuples.py)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import NamedTuple
else:
    from prodfix.tuples import NamedTuple


class MergeTree(NamedTuple):
    tree: Sha
    clean: bool
    conflicts: tuple[str, ...]


class Batches:
    """Mixed into `Repo`, which provides `git`."""

    def git(self, *args: str, **kw: object) -> Result:
        raise NotImplementedError  # Repo.git

    def merge_tree(self, ours: str, theirs: str, *, merge_base: str | None = None) -> MergeTree:
        """Predict a merge without a work tree. Inputs must be verified commits first:
        merge-tree exits 1 for an unknown ref, the same as for a conflict (git's help.c:
        help_unknown_ref() ends in exit(1))."""
        args = ["merge-tree", "--write-tree", "--name-only", "--no-messages", "-z"]
        if merge_base:
            # --merge-base came with git 2.40 (git-merge-tree(1)); 2.39 prints its usage and
            # exits 129.
            if version() < (2, 40):
                raise ProdfixError(
                    "this prediction needs `git merge-tree --merge-base` (git 2.40 or newer)",
                    hint="upgrade git",
                )
            args.append(f"--merge-base={merge_base}")
        r = self.git(*args, ours, theirs, check=False)
        recs = r.stdout.split("\0")
        if r.returncode not in (0, 1) or not is_sha(recs[0] if recs else ""):
            raise GitError(("git", *args, ours, theirs), r.returncode, r.stdout, r.stderr)
        paths = sorted({p for p in recs[1:] if p})
        return MergeTree(tree=Sha(recs[0]), clean=r.returncode == 0, conflicts=tuple(paths))

    def merge_tree_batch(self, pairs: Sequence[tuple[str, str]]) -> list[MergeTree]:
        """Many merges in one `git merge-tree --stdin` process (git ≥ 2.39).

        Verified on git 2.39.5 with `--name-only --no-messages -z`, per merge:
        `<1|0> NUL <tree> NUL <path> NUL … NUL NUL` — status **1 = clean** (inverted vs exit
        codes), then the conflicted paths, closed by an empty record; the process exits 0.
        Inputs must be verified commits: an unknown one aborts the whole batch with exit 1.
        """
        if not pairs:
            return []
        if version() < (2, 39):  # no --stdin yet: one process per merge
            return [self.merge_tree(a, b) for a, b in pairs]
        args = ("merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", "--stdin")
        r = self.git(*args, input="".join(f"{a} {b}\n" for a, b in pairs), check=False)
        recs = r.stdout.split("\0")
        out: list[MergeTree] = []
        i = 0
        try:
            if r.returncode != 0:
                raise ValueError
            for _ in pairs:
                status, tree = recs[i], recs[i + 1]
                if status not in ("0", "1") or not is_sha(tree):
                    raise ValueError
                i += 2
                paths: set[str] = set()
                while recs[i]:
                    paths.add(recs[i])
                    i += 1
                i += 1
                out.append(MergeTree(Sha(tree), status == "1", tuple(sorted(paths))))
        except (ValueError, IndexError):
            raise GitError(("git", *args), r.returncode, r.stdout, r.stderr) from None
        return out

    def read_blobs(self, specs: Sequence[str]) -> list[bytes | None]:
        """Contents of many objects (`<rev>:<path>` or blob ids) in one `cat-file --batch`;
        None for one that does not exist."""
        if not specs:
            return []
        out = self.git("cat-file", "--batch", input="".join(s + "\n" for s in specs)).stdout
        # Sizes in the headers are bytes: undo run()'s lossless decoding before slicing, so
        # non-ASCII content cannot shift the offsets.
        data = out.encode("utf-8", "surrogateescape")
        blobs: list[bytes | None] = []
        pos = 0
        for _ in specs:
            eol = data.index(b"\n", pos)
            header = data[pos:eol].split(b" ")
            if len(header) != 3:  # "<spec> missing"
                blobs.append(None)
                pos = eol + 1
                continue
            size = int(header[2])
            blobs.append(data[eol + 1 : eol + 1 + size])
            pos = eol + 1 + size + 1  # content is followed by one LF
        return blobs
