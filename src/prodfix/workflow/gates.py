"""The rules re-checked right before prodfix merges, builds or deploys: no master commit may
reach a delivery build (an unaccepted master → delivery merge refuses with exit 3, nothing is
merged, built or deployed). A missing back-merge is reported elsewhere and never blocks a
production fix."""

from __future__ import annotations

from prodfix.errors import RuleRefusal
from prodfix.policy import facts as policy_facts
from prodfix.policy import rules
from prodfix.policy.report import Finding
from prodfix.types import BranchName, Sha
from prodfix.workflow.context import Ctx


def delivery_findings(ctx: Ctx, delivery: str, tip: str, mainline_tip: str) -> list[Finding]:
    """Error findings of rule 2 on `delivery` at `tip` (merges accepted after the fact in
    `[check] allow-merges` are not errors)."""
    leaks = policy_facts.mainline_leaks(ctx.repo, Sha(tip), Sha(mainline_tip))
    found = rules.master_merged(BranchName(delivery), ctx.cfg.mainline, leaks)
    return [
        f
        for f in found
        if f.severity == "error" and not any(ctx.cfg.check.allowed(c) for c in f.commits)
    ]


def refuse_unless_clean(
    ctx: Ctx, *, delivery: str, tip: str, mainline_tip: str, before: str
) -> None:
    """Raise exit 3 when `delivery` at `tip` carries an unaccepted master merge."""
    errors = delivery_findings(ctx, delivery, tip, mainline_tip)
    if not errors:
        return
    merges = ", ".join(c[:7] for f in errors for c in f.commits)
    allow = ", ".join(f'"{c[:12]}"' for f in errors for c in f.commits)
    raise RuleRefusal(
        f"refusing to {before}: {delivery} carries master merged into it without a "
        f"Prodfix-Sync mark ({merges}) — rule 2: master never reaches a delivery build as part "
        "of a fix",
        hint=f"revert the merge on {delivery} (git revert -m 1 <merge>) through a PR; or, if "
        f"the team accepted it, add it to .prodfix.toml on {ctx.cfg.mainline}: "
        f"[check] allow-merges = [{allow}]",
    )


def refuse_proposal(ctx: Ctx, *, branch: str, delivery: str) -> None:
    """`check` on the proposal "merge `branch` into `delivery`": only errors that concern this
    branch or its target delivery branch refuse (exit 3) — never an old merge on another
    delivery branch, never a missing back-merge."""
    from prodfix.policy.gate import check_repo

    report = check_repo(
        ctx.repo, ctx.cfg, ref=branch, into=delivery, fetch=False, recorded_delivery=delivery
    )
    errors = [
        f
        for f in report.findings
        if f.severity == "error"
        and f.rule != "missing-backmerge"
        and f.branch in (branch, delivery)
        and not (
            f.rule == "master-merged-into-delivery"
            and all(ctx.cfg.check.allowed(c) for c in f.commits)
        )
    ]
    if not errors:
        return
    for f in errors:
        ctx.out.error(f"{f.rule}: {f.message}")
    rules_broken = ", ".join(sorted({f.rule for f in errors}))
    if any(f.rule == "branched-from-master" for f in errors):
        hint = (
            f"recreate the branch from {ctx.remote}/{delivery} and bring only your fix over: "
            f"git switch -c {branch}-2 {ctx.remote}/{delivery} && git cherry-pick <your "
            f"commits> (see `prodfix check {branch} --into {delivery}`)"
        )
    else:
        hint = f"see `prodfix check {branch} --into {delivery}` for what to do"
    raise RuleRefusal(f"{branch} breaks the rules ({rules_broken})", hint=hint)
