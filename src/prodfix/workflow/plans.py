"""Programs for the steps prodfix performs: pure-ish functions from facts to ops."""

from __future__ import annotations

from prodfix.adapters.forge import MergeMethod
from prodfix.errors import ProdfixError
from prodfix.types import short
from prodfix.workflow.context import Ctx
from prodfix.workflow.ops import Op
from prodfix.workflow.ops_forge import MergePr, OpenPr, VerifyBackmerge
from prodfix.workflow.ops_git import CreateBranch, Push, Switch
from prodfix.workflow.ops_merge import MergeForResolution


def backmerge_head(delivery: str, tip: str) -> str:
    # Never `delivery` itself as the PR head: a forge's "update branch" button would merge
    # master into delivery (NOTES/git.md §1.3).
    return f"backmerge/{delivery}-{short(tip)}"


def backmerge_program(
    ctx: Ctx,
    *,
    delivery: str,
    prediction_clean: bool,
    delivery_tip: str,
    mainline_tip: str,
    fixes: list[str],
) -> list[Op]:
    warn_if_no_merge_commits(ctx)
    mainline = str(ctx.cfg.mainline)
    head = backmerge_head(delivery, delivery_tip)
    title = f"Back-merge {delivery} into {mainline}"
    body = "\n".join(
        [
            f"Brings the fixes on `{delivery}` back to `{mainline}` (rule 3).",
            "Merge with a merge commit — never squash or rebase.",
            "",
            "Fixes:",
            *(f"- {f}" for f in fixes),
        ]
    )
    if prediction_clean:
        return [Push(head, delivery_tip, ""), OpenPr(head, mainline, title, body, "backmerge_pr")]
    message = f"Merge {delivery} into {mainline}\n\nBack-merge prepared by prodfix."
    return [
        CreateBranch(head, mainline_tip),
        Switch(head),
        MergeForResolution(delivery, delivery_tip, message),
        Push(head, "", ""),
        OpenPr(head, mainline, title, body, "backmerge_pr"),
    ]


def warn_if_no_merge_commits(ctx: Ctx) -> None:
    for warning, hint in ctx.forge.backmerge_warnings():
        ctx.out.warn(warning)
        ctx.out.info(f"  next: {hint}")


def merge_program(number: int, head_sha: str, *, backmerge: bool) -> list[Op]:
    # Back-merges are true merges, always (NOTES/git.md §4.8); fix PRs too, so the fix keeps one
    # identity on delivery and master.
    ops: list[Op] = [MergePr(number, MergeMethod.MERGE.value, head_sha)]
    if backmerge:
        ops.append(VerifyBackmerge(number))
    return ops


def require_merge_method(method: str | None, *, backmerge: bool) -> str:
    if backmerge and method not in (None, "merge"):
        raise ProdfixError(
            f"refusing to {method} a back-merge: it must be a merge commit, or the merge-base "
            "never moves and the same conflicts come back (NOTES/git.md §4.8)",
            hint="merge it with --method merge (the default)",
        )
    return method or "merge"
