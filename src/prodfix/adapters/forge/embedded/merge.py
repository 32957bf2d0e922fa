"""Merges without a work tree, and recognising merges done elsewhere.

Everything here writes objects only (`merge-tree --write-tree`, `commit-tree`); no ref moves,
so a result that is never pushed is garbage that `git gc` collects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prodfix.adapters.forge import MergeBlocked, MergeMethod
from prodfix.adapters.git import Repo
from prodfix.adapters.gitlook import is_sha
from prodfix.errors import Exit, ProdfixError
from prodfix.types import Sha

if TYPE_CHECKING:
    from prodfix.adapters.forge.embedded.store import PrRecord

_AUTHOR_RE = re.compile(r"^author (.*) <(.*)> (\d+ [+-]\d{4})$", re.MULTILINE)


class BaseMoved(ProdfixError):
    """Someone pushed to the base branch between our read and our push: nothing overwritten."""

    def __init__(self, number: int, base: str) -> None:
        super().__init__(
            f"PR #{number}: {base} moved while prodfix was merging; nothing was pushed",
            hint="run the command again: prodfix re-reads the branch and merges onto its new tip",
            code=Exit.SERVICE,
        )


@dataclass(frozen=True)
class MergePlan:
    """Everything `merge` decided, before any push (so a concurrent push can be tested)."""

    number: int
    base: str
    base_old: Sha
    base_new: Sha
    head_sha: Sha
    meta_old: Sha
    meta_new: Sha
    head_ref_old: Sha | None


def find_landing(
    repo: Repo,
    base_ref: str,
    head_sha: str,
    *,
    patch_equivalent: bool = True,
    is_ancestor: bool | None = None,
    base_sha: str | None = None,
    base_in_head: bool | None = None,
) -> Sha | None:
    """The commit on `base_ref` that brought `head_sha`'s changes in, or None if none did.

    In layers: ancestry first (merge commit, fast-forward, rebase-free hand merge), then the
    patch-id (git-patch-id(1), `--stable`) of the branch's cumulative diff against each commit on
    the base since the fork point (a squash merge, by the forge or by hand). A cherry-pick with
    conflict edits changes the patch-id and is not found: that is for a person to judge.
    `patch_equivalent=False` asks for ancestry only: a back-merge counts only as a true merge,
    never as an equivalent patch: after a squash the merge base does not move (git-merge-base(1)),
    so the next back-merge counts the same commits and meets the same conflicts again.

    Between two commits (a SHA for the base) the answer never changes: it is kept in the
    repository's SHA cache, and a `status` after another runs none of the git commands below.
    """
    base = base_sha or base_ref
    key = None
    if is_sha(base) and is_sha(head_sha) and (base_sha is None or base_ref == base):
        key = f"land:{base}:{head_sha}:{int(patch_equivalent)}"
        known = repo.memo.get(key)
        if known is not None:
            return Sha(known) if known else None
    found = _find_landing(
        repo, base_ref, head_sha, patch_equivalent, is_ancestor, base_sha, base_in_head
    )
    if key:
        repo.memo.put(key, found or "")
    return found


def _find_landing(
    repo: Repo,
    base_ref: str,
    head_sha: str,
    patch_equivalent: bool,
    is_ancestor: bool | None,
    base_sha: str | None,
    base_in_head: bool | None,
) -> Sha | None:
    if is_ancestor is None:  # callers that batch ancestry (one for-each-ref --merged) pass it
        is_ancestor = repo.is_ancestor(head_sha, base_ref)
    if is_ancestor:
        return _first_parent_landing(repo, base_ref, head_sha)
    if not patch_equivalent or base_in_head:
        return None  # base_in_head: the base has not moved since the branch point
    fork = repo.merge_base(base_ref, head_sha)
    if fork is None or fork == (base_sha or repo.resolve(base_ref)):
        return None  # the base has not moved since the branch point: nothing can have landed
    wanted = _patch_ids(repo, repo.git("diff", "--no-ext-diff", fork, head_sha).stdout)
    if not wanted:
        return None  # an empty change is not evidence of anything
    log = repo.git("log", "-p", "--no-merges", "--no-ext-diff", f"{fork}..{base_ref}").stdout
    for pid, commit in _patch_id_pairs(repo, log):
        if pid in wanted:
            return commit
    return None


def _first_parent_landing(repo: Repo, base_ref: str, head_sha: str) -> Sha:
    """The oldest first-parent commit of the base that contains head: the merge that took it
    in, or head itself when the base was fast-forwarded onto it."""
    chain = repo.rev_list("--first-parent", "--ancestry-path", f"{head_sha}..{base_ref}")
    if not chain:
        return Sha(head_sha)  # head is the base tip
    oldest = chain[-1]
    first_parent = repo.resolve(f"{oldest}^1")
    return Sha(head_sha) if first_parent == head_sha else oldest


def _patch_id_pairs(repo: Repo, patch_text: str) -> list[tuple[str, Sha]]:
    if not patch_text.strip():
        return []
    out = repo.git("patch-id", "--stable", input=patch_text).stdout
    return [(pid, Sha(commit)) for pid, commit in (ln.split(" ", 1) for ln in out.splitlines())]


def _patch_ids(repo: Repo, patch_text: str) -> set[str]:
    return {pid for pid, _ in _patch_id_pairs(repo, patch_text)}


def build_merge(
    repo: Repo,
    *,
    number: int,
    method: MergeMethod,
    base_sha: Sha,
    head_sha: Sha,
    message: str,
    env: Mapping[str, str],
) -> Sha:
    """The new base tip for merging head into base with `method` (objects only)."""
    if method is MergeMethod.REBASE:
        return _replay(repo, number, base_sha, head_sha, env)
    merged = repo.merge_tree(base_sha, head_sha)
    if not merged.clean:
        raise MergeBlocked(number, [conflicts_text(merged.conflicts)], hint=CONFLICT_HINT)
    parents = ["-p", base_sha] + (["-p", head_sha] if method is MergeMethod.MERGE else [])
    return _commit_tree(repo, merged.tree, parents, message, env)


CONFLICT_HINT = "merge the base branch into the PR branch locally, resolve, push, then retry"


def conflicts_text(paths: tuple[str, ...]) -> str:
    # merge-tree can report a conflict without a per-file entry (git-merge-tree(1), "MISTAKES
    # TO AVOID": some conflicts have no conflicted file info; the exit status is the answer).
    return f"conflicts in: {', '.join(paths)}" if paths else "conflicts with the base branch"


def _commit_tree(
    repo: Repo, tree: str, parents: list[str], message: str, env: Mapping[str, str]
) -> Sha:
    msg = message if message.endswith("\n") else message + "\n"
    return Sha(repo.git("commit-tree", tree, *parents, input=msg, env=env).stdout.strip())


def _replay(repo: Repo, number: int, base_sha: Sha, head_sha: Sha, env: Mapping[str, str]) -> Sha:
    """Rebase merge: replay each commit of base..head onto base, keeping authors and messages.

    git 2.39 has no `merge-tree --merge-base` (it came with 2.40), so each cherry-pick is a
    merge of two commits whose only best common ancestor is the picked commit's parent P:
    a throwaway commit X = (tree of the new tip, parent P) and the picked commit C itself
    (parent P). merge-tree X C is then the three-way merge P → (tip, C), which is exactly
    what cherry-pick computes, on every git ≥ 2.38 and without a work tree.
    """
    commits = repo.rev_list("--reverse", "--topo-order", "--parents", f"{base_sha}..{head_sha}")
    onto = base_sha
    for line in commits:
        sha, *parents = line.split(" ")
        if len(parents) != 1:
            raise MergeBlocked(
                number,
                [f"rebase cannot replay merge commit {sha[:7]}"],
                hint="merge with the merge method, or rebase the branch locally and push it",
            )
        tip_tree = repo.out("rev-parse", f"{onto}^{{tree}}")
        probe = _commit_tree(repo, tip_tree, ["-p", parents[0]], "prodfix replay probe", env)
        merged = repo.merge_tree(probe, sha)
        if not merged.clean:
            raise MergeBlocked(
                number,
                [f"rebase stops at {sha[:7]}: {conflicts_text(merged.conflicts)}"],
                hint=CONFLICT_HINT,
            )
        if merged.tree == tip_tree:
            continue  # already on the base: dropped, as `git rebase` drops it
        raw = repo.git("cat-file", "commit", sha).stdout
        author = _AUTHOR_RE.search(raw.partition("\n\n")[0])
        keep = dict(env)
        if author:
            keep |= {
                "GIT_AUTHOR_NAME": author.group(1),
                "GIT_AUTHOR_EMAIL": author.group(2),
                "GIT_AUTHOR_DATE": author.group(3),
            }
        onto = _commit_tree(repo, merged.tree, ["-p", onto], raw.partition("\n\n")[2], keep)
    return onto


def default_message(repo: Repo, rec: PrRecord, method: MergeMethod, base_sha: Sha) -> str:
    """The merge commit's message when the caller gives none, as GitHub writes it."""
    if method is MergeMethod.SQUASH:  # GitHub's default: title (#N), then the squashed subjects
        subjects = repo.git("log", "--reverse", "--format=* %s", f"{base_sha}..{rec.head_sha}")
        return f"{rec.title} (#{rec.number})\n\n{subjects.stdout}"
    return f"Merge pull request #{rec.number} from {rec.head}\n\n{rec.title}"
