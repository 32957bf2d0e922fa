"""The back-merge delivery → master: a PR from a throwaway `backmerge/*` head (never delivery
itself: a forge's "update branch" button on it would merge master into delivery), merged as a
true merge. One open back-merge PR per delivery branch: a new delivery commit updates it
instead of opening another."""

from __future__ import annotations

from dataclasses import dataclass

from prodfix.adapters.forge import PullRequest
from prodfix.errors import ProdfixError
from prodfix.policy.backmerge import Prediction, predict
from prodfix.types import BranchName, Sha, short
from prodfix.workflow.context import Ctx
from prodfix.workflow.facts import BACKMERGE_PREFIX
from prodfix.workflow.ops import Op
from prodfix.workflow.ops_forge import ClosePr, OpenPr
from prodfix.workflow.ops_git import CreateBranch, Push, Switch
from prodfix.workflow.ops_merge import MergeForResolution


def warn_settings(ctx: Ctx) -> None:
    """Say so when the forge's settings would keep the back-merge from being a true merge."""
    for warning, hint in ctx.forge.backmerge_warnings():
        ctx.out.warn(warning)
        ctx.out.info(f"  next: {hint}")


def head_for(delivery: str, tip: str) -> BranchName:
    return BranchName(f"{BACKMERGE_PREFIX}{delivery}-{short(tip)}")


@dataclass(frozen=True)
class BackmergeFacts:
    delivery: BranchName
    mainline: BranchName
    prediction: Prediction
    landings: tuple[tuple[str, str], ...]  # (short sha, subject) of delivery's first parents
    subjects: dict[str, str]  # full sha → subject, for conflict attribution
    existing: PullRequest | None  # the open back-merge PR of this delivery branch
    existing_plain: bool  # its head is a plain delivery commit (no resolution merge on it)
    current_branch: BranchName | None


def gather(ctx: Ctx, delivery: str, *, open_prs: list[PullRequest] | None = None) -> BackmergeFacts:
    """After a fetch: the prediction, and the back-merge PR already open for `delivery`."""
    mainline = ctx.cfg.mainline
    p = predict(ctx.repo, mainline=ctx.tracking(mainline), delivery=ctx.tracking(delivery))
    records = list(ctx.repo.log_records("%H\x1f%s", "--first-parent", p.delivery, f"^{p.mainline}"))
    subjects = dict(
        (c[0], c[1]) for c in ctx.repo.log_records("%H\x1f%s", p.delivery, f"^{p.mainline}")
    )
    prs = open_prs if open_prs is not None else ctx.forge.list_prs(state="open")
    mine = [
        pr
        for pr in prs
        if pr.head.startswith(f"{BACKMERGE_PREFIX}{delivery}-") and pr.base == mainline
    ]
    existing = max(mine, key=lambda pr: int(pr.number)) if mine else None
    plain = (
        existing is not None
        and ctx.repo.resolve(existing.head_sha) is not None
        and (ctx.repo.is_ancestor(existing.head_sha, p.delivery))
    )
    facts = BackmergeFacts(
        delivery=BranchName(delivery),
        mainline=mainline,
        prediction=p,
        landings=tuple((r[0][:7], r[1]) for r in records),
        subjects=subjects,
        existing=existing,
        existing_plain=plain,
        current_branch=ctx.repo.current_branch(),
    )
    if needs_work_tree(facts):
        if busy := ctx.repo.in_progress():
            raise ProdfixError(
                f"{ctx.repo.path} is in the middle of {busy}",
                hint=f"finish or abort {busy} first (`git status` says how)",
            )
        if ctx.repo.is_dirty():
            raise ProdfixError(
                "the back-merge has conflicts to resolve in your work tree, "
                "which has uncommitted changes",
                hint="commit or stash them, then run the command again",
            )
    return facts


def needs_work_tree(f: BackmergeFacts) -> bool:
    return bool(plan(f)) and not f.prediction.clean and not _covered(f)


def _covered(f: BackmergeFacts) -> bool:
    """The open PR already brings every delivery commit."""
    return f.existing is not None and f.existing.head_sha == f.prediction.delivery


def body(f: BackmergeFacts) -> str:
    p = f.prediction
    lines = [
        f"Brings the fixes on `{f.delivery}` back to `{f.mainline}`.",
        "Merge with a merge commit — never squash or rebase.",
        "",
        "Fixes:",
        *(f"- {sha} {subject}" for sha, subject in f.landings),
    ]
    if p.conflicts:
        lines += ["", "Conflicts predicted (resolve on this branch: `prodfix backmerge`):"]
        for c in p.conflicts:
            by = f.subjects.get(c.introduced_by, "")
            lines.append(f"- `{c.path}` — first from {c.introduced_by[:7]} {by}".rstrip())
    return "\n".join(lines)


def plan(f: BackmergeFacts) -> list[Op]:
    """Pure: facts → program."""
    p = f.prediction
    if not p.pending or _covered(f):
        return []
    title = f"Back-merge {f.delivery} into {f.mainline}"
    if f.existing is not None and f.existing_plain and p.clean:
        # The open PR's head is an older delivery commit: move it forward (the PR updates).
        return [Push(f.existing.head, p.delivery, f.existing.head_sha)]
    program: list[Op] = []
    if f.existing is not None:
        program.append(ClosePr(int(f.existing.number)))  # replaced by the one below
    head = head_for(f.delivery, p.delivery)
    if p.clean:
        return [
            *program,
            Push(head, p.delivery, ""),
            OpenPr(head, f.mainline, title, body(f), "backmerge_pr"),
        ]
    message = f"Merge {f.delivery} into {f.mainline}\n\nBack-merge prepared by prodfix."
    program += [
        CreateBranch(head, p.mainline),
        Switch(head),
        MergeForResolution(f.delivery, p.delivery, message),
        Push(head, Sha(""), ""),  # "": the resolution branch's tip when the op runs
        OpenPr(head, f.mainline, title, body(f), "backmerge_pr"),
    ]
    if f.current_branch and f.current_branch != head:
        program.append(Switch(f.current_branch))  # back where the user was
    return program
