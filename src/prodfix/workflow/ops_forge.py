"""Operations on pull requests, through the Forge protocol only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from prodfix.adapters.forge import MergeMethod, PrState
from prodfix.types import BranchName, PrNumber, Sha
from prodfix.workflow.ops import Op, register

if TYPE_CHECKING:
    from prodfix.workflow.context import Ctx


@register
@dataclass(frozen=True)
class OpenPr(Op):
    """Find or create the PR head → base; remember its number under `key` for the fix."""

    head: BranchName
    base: BranchName
    title: str
    body: str
    key: str  # ident key: "pr", "backmerge_pr", "deploy_pr"
    draft: bool = False

    def describe(self) -> str:
        return f"open pull request {self.head} → {self.base}"

    def run(self, ctx: Ctx) -> Op | None:
        existing = ctx.forge.find_pr(BranchName(self.head), BranchName(self.base))
        if existing is not None:
            pr, created = existing, False
        else:
            pr = ctx.forge.create_pr(
                BranchName(self.head),
                BranchName(self.base),
                self.title,
                self.body,
                draft=self.draft,
            )
            created = True
        ctx.vars[self.key] = int(pr.number)
        ctx.vars[f"{self.key}_url"] = pr.url
        ctx.out.say(f"{'opened' if created else 'found'} PR #{pr.number}: {pr.url}")
        return ClosePr(int(pr.number), self.key) if created else None


@register
@dataclass(frozen=True)
class ClosePr(Op):
    number: int
    key: str = ""

    def describe(self) -> str:
        return f"close pull request #{self.number}"

    def run(self, ctx: Ctx) -> Op | None:
        pr = ctx.forge.get_pr(PrNumber(self.number))
        if pr.state == PrState.OPEN:
            ctx.forge.close(PrNumber(self.number))
        return None


@register
@dataclass(frozen=True)
class ApprovePr(Op):
    """An approval stays: prodfix does not dismiss reviews (dismiss it on the forge)."""

    reversible: ClassVar[bool] = False
    number: int
    head_sha: Sha  # the head reviewed: an approval counts for it only

    def describe(self) -> str:
        return f"approve pull request #{self.number} at {self.head_sha[:7]}"

    def run(self, ctx: Ctx) -> Op | None:
        pr = ctx.forge.get_pr(PrNumber(self.number))
        if pr.head_sha != self.head_sha:
            from prodfix.adapters.forge import HeadMoved

            raise HeadMoved(self.number, self.head_sha, pr.head_sha)
        pr = ctx.forge.approve(PrNumber(self.number))
        ctx.out.say(f"approved PR #{pr.number} (approvals: {len(pr.approvals)})")
        return None


@register
@dataclass(frozen=True)
class MergePr(Op):
    """Merging into delivery or master cannot be undone: prodfix never rewrites them."""

    reversible: ClassVar[bool] = False
    number: int
    method: str
    expected_head: Sha

    def describe(self) -> str:
        return f"merge pull request #{self.number} ({self.method})"

    def run(self, ctx: Ctx) -> Op | None:
        pr = ctx.forge.get_pr(PrNumber(self.number))
        if pr.state == PrState.MERGED:
            return None
        merged = ctx.forge.merge(
            PrNumber(self.number),
            method=MergeMethod(self.method),
            expected_head=Sha(self.expected_head),
        )
        ctx.out.say(
            f"merged PR #{self.number}"
            + (f" as {merged.merge_commit[:7]}" if merged.merge_commit else "")
        )
        return None


@register
@dataclass(frozen=True)
class VerifyBackmerge(Op):
    """After a back-merge PR merged: a real merge, not empty, no markers, no fix lost."""

    number: int

    def describe(self) -> str:
        return f"verify back-merge PR #{self.number}"

    def run(self, ctx: Ctx) -> Op | None:
        from prodfix.policy.verify import inspect_backmerge

        pr = ctx.forge.get_pr(PrNumber(self.number))
        if pr.state != PrState.MERGED or not pr.merge_commit:
            return None
        ctx.repo.fetch(ctx.remote)
        found = inspect_backmerge(
            ctx.repo,
            merge_commit=pr.merge_commit,
            delivery_tip=pr.head_sha,
            mainline=f"refs/remotes/{ctx.remote}/{ctx.cfg.mainline}",
        )
        problems = found.problems
        ctx.vars["backmerge_problems"] = [f"{p.code}: {p.message}" for p in problems]
        for a in found.accepted:
            ctx.out.info(f"back-merge PR #{self.number}: {a.message}")
        for p in problems:
            ctx.out.error(
                f"back-merge PR #{self.number}: {p.code}: {p.message}",
                p.hint or "repair master with a follow-up PR, then `prodfix next`",
            )
        if not problems:
            ctx.out.say(f"back-merge PR #{self.number} verified: a true merge, nothing lost")
        return None
