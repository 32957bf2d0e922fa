"""The rules re-checked right before prodfix proposes, merges, builds or deploys: no master
commit may reach a delivery build (an unaccepted master → delivery merge refuses with exit 3,
nothing is merged, built or deployed). A missing back-merge is reported elsewhere and never
blocks a production fix. Each refusal says exactly how to resolve it (the findings' hints)."""

from __future__ import annotations

from prodfix.errors import RuleRefusal
from prodfix.policy.gate import delivery_refusals, proposal_refusals
from prodfix.policy.report import Finding
from prodfix.workflow.context import Ctx


def refuse_unless_clean(
    ctx: Ctx, *, delivery: str, tip: str, mainline_tip: str, before: str
) -> None:
    """Raise exit 3 when `delivery` at `tip` carries an unaccepted master merge."""
    errors = delivery_refusals(ctx.repo, ctx.cfg, delivery=delivery, tip=tip)
    if errors:
        _refuse(ctx, errors, f"refusing to {before}: {delivery} breaks rule 2")


def refuse_proposal(ctx: Ctx, *, branch: str, delivery: str) -> None:
    """Only errors that concern this proposal or its target delivery branch refuse (exit 3)
    — never an old merge on another delivery branch, never a missing back-merge."""
    errors = proposal_refusals(ctx.repo, ctx.cfg, branch=branch, delivery=delivery)
    if errors:
        rules = ", ".join(sorted({f.rule for f in errors}))
        _refuse(ctx, errors, f"{branch} breaks the rules ({rules})")


def _refuse(ctx: Ctx, errors: list[Finding], message: str) -> None:
    for f in errors[:-1]:
        ctx.out.error(f"{f.rule}: {f.message}", f.hint)
    last = errors[-1]
    raise RuleRefusal(f"{message} — {last.rule}: {last.message}", hint=last.hint)
