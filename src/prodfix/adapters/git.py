"""The git CLI through one helper (`run`; gitproc.py has its environment and timeouts: git
never prompts, a network operation never hangs, and how a local command is started).

Why the CLI and not a library: it honours the user's ssh config, credential helpers and partial
clones, and with a commit-graph it is the fastest option measured.
"""

from __future__ import annotations

import os

from prodfix.adapters.gitbatch import Batches
from prodfix.adapters.gitbatch import MergeTree as MergeTree
from prodfix.adapters.gitlook import KEEPS_REFS, RefLook, is_sha, parent_key
from prodfix.adapters.gitproc import clean_env as clean_env  # the one environment for git
from prodfix.adapters.gitproc import subcommand
from prodfix.adapters.gitrun import MIN_GIT as MIN_GIT
from prodfix.adapters.gitrun import GitError as GitError
from prodfix.adapters.gitrun import Result as Result
from prodfix.adapters.gitrun import require_version as require_version
from prodfix.adapters.gitrun import run as run
from prodfix.adapters.gitrun import version as version
from prodfix.errors import Exit, ProdfixError
from prodfix.types import BranchName, Sha

# `prodfix check` loads this module: nothing here imports typing, re or pathlib at run time
# (prodfix/tuples.py says what they cost at start-up).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path
    from typing import Any

    from prodfix.adapters.shacache import ShaCache
else:
    pass


# Branches, local and remote-tracking: a look's read of them answers `resolve` (see `looking`).
_BRANCH_REFS = ("refs/heads/", "refs/remotes/")
# What no ref name holds (git-check-ref-format(1)) but revision syntax does: `x~1`, `x^{tree}`,
# `x@{1}`, `x:path`, `a..b`.
_REVISION_SYNTAX = ("~", "^", ":", "?", "*", "[", "\\", "@{", "..", " ")


def _plain_ref_name(rev: str) -> bool:
    return not any(c in rev for c in _REVISION_SYNTAX)


class Repo(Batches):
    """A working clone. Thin: each method is one git invocation (or one batch; gitbatch.py
    has the methods that answer many questions in one process)."""

    def __init__(self, path: Path | str) -> None:
        self.root = os.fspath(path)  # the top of the work tree (str: `check` needs no pathlib)
        self._path: Path | None = None
        self._urls: dict[str, str | None] = {}  # remote → URL: read once per command
        self._memo: ShaCache | None = None
        self._present: set[str] = set()  # full SHAs just seen to name a commit here
        self._look = RefLook()  # the refs read in the open `looking()` scopes
        # `git var GIT_COMMITTER_IDENT` per identity variables: asked once per command
        self.idents: dict[tuple[str | None, ...], tuple[int, str]] = {}
        self.fetched: set[str] = set()  # remotes whose branches and records were fetched
        # the repositories this one's config names (the deploy repository) with their config,
        # located and read once per look (workflow/deploy_repo.py; a look clears it)
        self.related: dict[str, tuple[Repo, Any]] = {}

    @property
    def memo(self) -> ShaCache:
        """Answers that depend only on object ids (whether one commit contains another, a
        commit's parent, a merge base…): they never change, so they are kept per repository
        across commands (the SHA cache). Per repository, never shared: replace refs and
        grafts make ancestry a property of a repository, not of the objects alone."""
        if self._memo is None:
            from prodfix.adapters.shacache import shared

            self._memo = shared(self.root, "objects")
        return self._memo

    @property
    def path(self) -> Path:
        if self._path is None:
            from pathlib import Path

            self._path = Path(self.root)
        return self._path

    def __repr__(self) -> str:
        return f"Repo({self.root!r})"

    def git(self, *args: str, **kw: object) -> Result:
        sub = subcommand(args)[0]
        if sub not in KEEPS_REFS:
            self._present.clear()  # a fetch may end in `gc --auto`, which prunes objects
        self._look.running(sub)
        return run(self.root, *args, **kw)  # type: ignore[arg-type]

    def out(self, *args: str) -> str:
        return self.git(*args).stdout.strip()

    def looking(self) -> RefLook:
        """One look at the repository: inside, `refs` answers a read that an earlier one
        covers from memory (twenty fixes ask for the builds' refs once, not twenty times),
        until prodfix itself runs a git command that may move a ref. Only within the scope:
        outside it every read asks git, as another process may have moved refs meanwhile."""
        return self._look

    # -- discovery ---------------------------------------------------------------------
    @classmethod
    def discover(cls, start: Path | str) -> Repo:
        root = _plain_clone_root(os.fspath(start))
        if root is not None:  # the common case, read from the files git itself reads
            if os.path.exists(os.path.join(root, ".git", "shallow")):
                raise ProdfixError(
                    f"{root} is a shallow clone: prodfix needs full history to check the rules",
                    hint="run `git fetch --unshallow` first",
                )
            return cls(root)
        r = run(start, "rev-parse", "--show-toplevel", "--is-shallow-repository", check=False)
        if r.returncode != 0:
            if "not a git repository" in r.stderr:
                raise ProdfixError(
                    f"{os.path.realpath(start)} is not inside a git repository",
                    hint="run prodfix inside a clone, or point at one with -C PATH",
                )
            raise GitError(
                ("git", "rev-parse", "--show-toplevel"), r.returncode, r.stdout, r.stderr
            )
        top, shallow = r.lines[0], r.lines[1] if len(r.lines) > 1 else "false"
        repo = cls(top)
        if shallow == "true":
            raise ProdfixError(
                f"{top} is a shallow clone: prodfix needs full history to check the rules",
                hint="run `git fetch --unshallow` first",
            )
        return repo

    def git_dir(self) -> Path:
        from pathlib import Path

        plain = self._plain_git_dir()
        return (
            Path(plain) if plain is not None else Path(self.out("rev-parse", "--absolute-git-dir"))
        )

    def _plain_git_dir(self) -> str | None:
        """The `.git` folder when this is the top of a plain clone (the files git reads),
        else None: ask git."""
        if _plain_clone_root(self.root) == os.path.realpath(self.root):
            return os.path.realpath(os.path.join(self.root, ".git"))
        return None

    def current_branch(self) -> BranchName | None:
        head = os.path.join(self.root, ".git", "HEAD")
        if os.path.isfile(head):  # a plain clone: HEAD is "ref: refs/heads/<branch>" or a SHA
            with open(head, encoding="utf-8", errors="replace") as f:
                text = f.read().strip()
            if text.startswith("ref: refs/heads/"):
                return BranchName(text.removeprefix("ref: refs/heads/"))
            if is_sha(text):
                return None
        r = self.git("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return BranchName(r.stdout.strip()) if r.returncode == 0 else None

    def head(self) -> Sha:
        return Sha(self.out("rev-parse", "--verify", "HEAD"))

    def in_progress(self) -> str | None:
        """Name of an operation that owns the work tree (rebase, merge…), or None."""
        gd = self.git_dir()
        for marker, name in (
            ("rebase-merge", "a rebase"),
            ("rebase-apply", "a rebase or am"),
            ("MERGE_HEAD", "a merge"),
            ("CHERRY_PICK_HEAD", "a cherry-pick"),
            ("REVERT_HEAD", "a revert"),
            ("BISECT_LOG", "a bisect"),
        ):
            if (gd / marker).exists():
                return name
        return None

    def is_dirty(self) -> bool:
        return bool(self.out("status", "--porcelain", "--untracked-files=no"))

    # -- refs -----------------------------------------------------------------------
    def resolve(self, rev: str) -> Sha | None:
        if rev in self._present:  # no git command that could remove it ran since
            return Sha(rev)
        if (
            rev.startswith(_BRANCH_REFS)
            and _plain_ref_name(rev)
            and (served := self._look.served((rev,))) is not None
        ):
            found = served.get(rev)  # a branch names a commit (receive-pack refuses others)
            if found is None:
                return None
            self._present.add(found)
            return Sha(found)
        derived = parent_key(rev)  # `<sha>^`, `<sha>^1`: a fact about the commit's content
        if derived and (known := self.memo.get(derived)):
            return Sha(str(known))
        r = self.git(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", check=False
        )
        if r.returncode != 0:
            return None  # not cached: a fetch may bring it
        sha = Sha(r.stdout.strip())
        self._present.add(sha)
        if derived:
            self.memo.put(derived, sha)
        return sha

    def refs(self, *patterns: str) -> dict[str, Sha]:
        """Every ref matching the patterns with the commit it points to, in one process."""
        served = self._look.served(patterns)
        if served is not None:
            return {n: Sha(s) for n, s in served.items()}
        out = self.git("for-each-ref", "--format=%(refname)%00%(objectname)", *patterns).stdout
        result: dict[str, Sha] = {}
        for line in out.splitlines():
            name, _, sha = line.partition("\0")
            result[name] = Sha(sha)
        self._look.remember(patterns, dict(result))
        return result

    def remote_url(self, remote: str) -> str | None:
        """The remote's URL as configured — not rewritten by `url.<base>.insteadOf`, which
        maps it to a mirror or protocol but does not change which forge it is."""
        if remote not in self._urls:
            known, url = False, None
            plain = self._plain_git_dir()
            if plain is not None:
                from prodfix.adapters.gitconfig import remote_url  # the file git reads

                known, url = remote_url(plain, remote)
            if not known:
                r = self.git("config", "--get", f"remote.{remote}.url", check=False)
                url = r.stdout.strip() if r.returncode == 0 else None
            self._urls[remote] = url.strip() if url and url.strip() else None
        return self._urls[remote]

    def remotes(self) -> list[str]:
        return self.git("remote").lines

    def fetch(self, remote: str, *refspecs: str, prune: bool = True) -> None:
        """One fetch at a time per repository, across threads and processes: two at once race
        on the same remote-tracking refs ("cannot lock ref 'refs/remotes/origin/…'")."""
        args = ["-c", "fetch.writeCommitGraph=true", "fetch", "--quiet", "--no-tags"]
        if prune:
            args.append("--prune")
        from prodfix.adapters.locks import fetch_lock  # here: `check --no-fetch` never locks

        with fetch_lock(self.path):
            r = self.git(*args, remote, *refspecs, check=False)
        if r.returncode != 0:
            raise ProdfixError(
                f"cannot fetch from {remote}: {_last_line(r.stderr)}",
                hint=f"check the network and `git remote get-url {remote}`; this is safe to retry",
                code=Exit.SERVICE,
            )

    def ls_remote(self, remote: str, *patterns: str) -> dict[str, Sha]:
        r = self.git("ls-remote", remote, *patterns, check=False)
        if r.returncode != 0:
            raise ProdfixError(
                f"cannot read {remote}: {_last_line(r.stderr)}",
                hint="check the network and the remote URL; this is safe to retry",
                code=Exit.SERVICE,
            )
        result: dict[str, Sha] = {}
        for line in r.lines:
            sha, _, name = line.partition("\t")
            result[name] = Sha(sha)
        return result

    def push(self, remote: str, *refspecs: str, leases: Mapping[str, str | None] = {}) -> Result:
        """Push with explicit leases: ref → expected old sha ('' or None = must not exist).

        Never --force: a lease that fails means someone else pushed, and we re-plan.
        """
        args = ["push", "--porcelain", "--quiet"]
        for ref, old in leases.items():
            args.append(f"--force-with-lease={ref}:{old or ''}")
        args += [remote, *refspecs]
        return self.git(*args, check=False)

    # -- history ------------------------------------------------------------------------
    def rev_list(self, *args: str) -> list[Sha]:
        return [Sha(s) for s in self.git("rev-list", *args).lines]

    def parents(self, commit: str) -> list[Sha]:
        """The parents of a commit, in order (kept by SHA: they are part of the commit)."""
        key = f"parents:{commit}" if is_sha(commit) else None
        if key and (known := self.memo.get(key)) is not None:
            return [Sha(p) for p in known]
        found = [Sha(p) for p in self.out("rev-list", "--parents", "-n1", commit).split()[1:]]
        if key:
            self.memo.put(key, found)
        return found

    def count(self, *args: str) -> int:
        return int(self.out("rev-list", "--count", *args))

    def is_ancestor(self, a: str, b: str) -> bool:
        key = f"anc:{a}:{b}" if is_sha(a) and is_sha(b) else None
        if key and (known := self.memo.get(key)) is not None:
            return bool(known)
        r = self.git("merge-base", "--is-ancestor", a, b, check=False)
        if r.returncode not in (0, 1):
            raise GitError(
                ("git", "merge-base", "--is-ancestor", a, b), r.returncode, r.stdout, r.stderr
            )
        if key:
            self.memo.put(key, r.returncode == 0)
        return r.returncode == 0

    def merge_base(self, a: str, b: str) -> Sha | None:
        key = f"mb:{a}:{b}" if is_sha(a) and is_sha(b) else None
        if key and (known := self.memo.get(key)) is not None:
            return Sha(str(known)) if known else None
        r = self.git("merge-base", a, b, check=False)
        if key and r.returncode in (0, 1):  # 1: no common ancestor (other codes: an error)
            self.memo.put(key, r.stdout.strip() if r.returncode == 0 else "")
        return Sha(r.stdout.strip()) if r.returncode == 0 else None

    def merged_into(self, base: str, *patterns: str) -> set[Sha]:
        """Tips of the refs matching `patterns` that are ancestors of `base`: one process for
        what would otherwise be a `merge-base --is-ancestor` per ref."""
        out = self.git("for-each-ref", f"--merged={base}", "--format=%(objectname)", *patterns)
        return {Sha(s) for s in out.lines}

    def containing(self, commit: str, *patterns: str) -> set[Sha]:
        """Tips of the refs matching `patterns` that contain `commit` (one process)."""
        out = self.git("for-each-ref", f"--contains={commit}", "--format=%(objectname)", *patterns)
        return {Sha(s) for s in out.lines}

    def log_records(self, fmt: str, *args: str) -> Iterator[list[str]]:
        """`git log` with fields separated by %x1f and records by NUL."""
        out = self.git("log", "-z", f"--format={fmt}", *args).stdout
        for rec in out.split("\0"):
            if rec:
                yield rec.split("\x1f")

    def check_ref_format(self, branch: str) -> bool:
        return self.git("check-ref-format", "--branch", branch, check=False).returncode == 0


def _last_line(text: str) -> str:
    """git's own summary: the `fatal:` line when there is one (the last line is often the tail
    of a paragraph, e.g. "and the repository exists.")."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    fatal = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
    return (fatal[0] if fatal else lines[-1]) if lines else "no output"


def _plain_clone_root(start: str) -> str | None:
    """The top of the clone holding `start` when it is a plain clone (a `.git` folder with a
    HEAD) and nothing in the environment redirects git; None: ask git (worktrees, submodules,
    GIT_DIR)."""
    if any(k in os.environ for k in ("GIT_DIR", "GIT_WORK_TREE", "GIT_CEILING_DIRECTORIES")):
        return None
    try:
        d = os.path.realpath(start)
    except OSError:
        return None
    while True:
        dot = os.path.join(d, ".git")
        if os.path.isdir(dot) and os.path.isfile(os.path.join(dot, "HEAD")):
            return d
        if os.path.exists(dot):
            return None  # a `.git` file (worktree, submodule): git knows where it points
        up = os.path.dirname(d)
        if up == d:
            return None
        d = up
