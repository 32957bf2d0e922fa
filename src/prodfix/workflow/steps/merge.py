"""Merging a PR: always a true merge (back-merges must be: a squash or rebase never moves the
merge base, so the same conflicts come back; fix PRs too, so a fix keeps one identity on
delivery and master)."""

from __future__ import annotations

from prodfix.adapters.forge import MergeMethod
from prodfix.errors import ProdfixError
from prodfix.types import Sha
from prodfix.workflow.ops import Op
from prodfix.workflow.ops_forge import MergePr, VerifyBackmerge


def merge_program(
    number: int, head_sha: Sha, *, backmerge: bool, method: str = "merge"
) -> list[Op]:
    ops: list[Op] = [MergePr(number, MergeMethod(method).value, head_sha)]
    if backmerge:
        ops.append(VerifyBackmerge(number))
    return ops


def require_merge_method(method: str | None, *, backmerge: bool, sync: bool = False) -> str:
    if sync and method not in (None, "merge"):
        raise ProdfixError(
            f"refusing to {method} a sync: the marked merge (Prodfix-Sync) must reach the "
            "delivery branch's history, or master's changes arrive there unmarked",
            hint="merge it with --method merge (the default)",
        )
    if backmerge and method not in (None, "merge"):
        raise ProdfixError(
            f"refusing to {method} a back-merge: it must be a merge commit, or the merge base "
            "never moves and the same conflicts come back",
            hint="merge it with --method merge (the default)",
        )
    return method or "merge"
