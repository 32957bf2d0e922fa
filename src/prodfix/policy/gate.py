"""`check_repo`: read the facts, apply the rules, return a Report. What `check`, `propose`
and `audit` call.

Branch rules judge REF unless it is the mainline or a delivery branch; repository rules judge
every delivery branch (CLI.md "Policy rules").
"""

from __future__ import annotations

import time

from prodfix.adapters.git import Repo
from prodfix.config import Config
from prodfix.errors import ProdfixError
from prodfix.policy import facts, rules
from prodfix.policy.facts import Branches, Leaks
from prodfix.policy.report import Finding, Report, report
from prodfix.types import BranchName, Sha


def check_repo(
    repo: Repo,
    cfg: Config,
    *,
    ref: str | None,
    into: str | None,
    fetch: bool,
    now: float | None = None,
    recorded_delivery: str | None = None,
) -> Report:
    """Judge REF (default: the current branch), the proposal REF → into, and every delivery.

    `recorded_delivery` is the delivery branch `start` recorded for the fix; without it the
    git config key `branch.<name>.prodfix-delivery` is read, then history decides.
    """
    br, notes = facts.read_branches(repo, cfg, fetch=fetch)
    remote = str(cfg.remote)
    mainline, m_tip = br.mainline, br.tips[br.mainline_ref]
    rev = ref or repo.current_branch() or "HEAD"
    ref_sha = facts.resolve(repo, br, rev, remote)
    if ref_sha is None:
        raise ProdfixError(
            f"{rev!r} is not a branch or commit in {repo.path}",
            hint="check the name with `git branch -a` (fetch it first if it is on the remote)",
        )
    ref_name = facts.short_name(rev, remote)
    kind = _kind(repo, cfg, br, ref_name, ref_sha)

    findings: list[Finding] = []
    leaks: dict[BranchName, Leaks] = {}
    for d, d_ref in br.deliveries.items():
        d_tip = br.tips[d_ref]
        leaks[d] = facts.mainline_leaks(repo, d_tip, m_tip)
        findings += rules.master_merged(d, mainline, leaks[d])
        findings += rules.missing_backmerge(
            d,
            mainline,
            facts.pending_backmerge(repo, d_tip, m_tip),
            now=time.time() if now is None else now,
            max_days=int(cfg.max_backmerge_days),
        )

    into_name: BranchName | None = None
    into_kind: rules.Kind = "branch"
    into_sha: Sha | None = None
    if into is not None:
        into_name, into_sha = _target(repo, br, into, remote)
        into_kind = _kind(repo, cfg, br, into_name, into_sha, sync_aware=False)

    # A proposal into the mainline (a back-merge head) carries master by definition.
    if kind == "branch" and into_kind != "mainline":
        if into_kind == "delivery" and into_name is not None and into_sha is not None:
            d, d_sha = into_name, into_sha
        else:
            d = _delivery_of(repo, br, ref_name, ref_sha, recorded_delivery)
            d_sha = br.tips[br.deliveries[d]]
        on_master = facts.master_not_on_delivery(repo, ref_sha, d_sha, m_tip)
        findings += rules.branched_from_master(ref_name, d, mainline, on_master)

    if into is not None and into_name is not None and into_sha is not None:
        if into_kind == "delivery":
            lk = leaks.get(into_name) or facts.mainline_leaks(repo, into_sha, m_tip)
            brought = facts.proposal_leak(repo, ref_sha, into_sha, m_tip, lk)
            findings += rules.proposal_brings_master(ref_name, into_name, mainline, kind, brought)
        findings += rules.wrong_target(
            ref_name, kind, into_name, into_kind, str(cfg.fix_branch_template)
        )
    return report(findings, notes)


def _kind(
    repo: Repo,
    cfg: Config,
    br: Branches,
    name: BranchName,
    sha: Sha,
    *,
    sync_aware: bool = True,
) -> rules.Kind:
    if name == br.mainline:
        return "mainline"
    if cfg.is_delivery(name):
        return "delivery"
    if sync_aware and facts.is_sync(repo, sha):
        return "sync"
    return "branch"


def _target(repo: Repo, br: Branches, into: str, remote: str) -> tuple[BranchName, Sha]:
    """`--into`: a mainline or delivery name means the branch being judged (remote-tracking
    when there is one), not a possibly stale local copy."""
    name = facts.short_name(into, remote)
    ref = br.mainline_ref if name == br.mainline else br.deliveries.get(name)
    sha = br.tips[ref] if ref else repo.resolve(into)
    if sha is None:
        raise ProdfixError(
            f"--into {into!r}: no such branch in {repo.path}",
            hint=f"name an existing branch, e.g. one of: {', '.join([br.mainline, *br.deliveries])}",
        )
    return name, sha


def _delivery_of(
    repo: Repo, br: Branches, name: BranchName, sha: Sha, recorded: str | None
) -> BranchName:
    if recorded is None and len(br.deliveries) > 1:
        recorded = facts.recorded_delivery(repo, name)
    if recorded:
        if recorded not in br.deliveries:
            raise ProdfixError(
                f"{name} was started from {recorded}, which no longer exists",
                hint=f"name the target: `prodfix check {name} --into DELIVERY`",
            )
        return BranchName(recorded)
    if not br.deliveries:
        raise ProdfixError(
            "no delivery branch here to judge the branch against",
            hint="fetch the delivery branches, or set `delivery` in .prodfix.toml",
        )
    if len(br.deliveries) == 1:
        return next(iter(br.deliveries))
    tips = {d: br.tips[r] for d, r in br.deliveries.items()}
    return rules.choose_delivery(name, facts.merge_bases(repo, sha, tips))
