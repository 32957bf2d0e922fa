"""The policy gate: `check_repo` (what `check` and `audit` call) and the refusal gates the
workflow calls before it proposes, merges, builds or deploys.

Branch rules judge REF unless it is the mainline or a delivery branch; repository rules judge
every delivery branch (docs/rules.md).
"""

from __future__ import annotations

import time

from prodfix.adapters.git import Repo
from prodfix.config import Config
from prodfix.errors import ProdfixError
from prodfix.policy import facts, hints, rules
from prodfix.policy.facts import Branches, Carried, Leaks
from prodfix.policy.links import Names
from prodfix.policy.report import Finding, Report, report
from prodfix.types import BranchName, Sha


class _Scope:
    """What every rule of one run shares: the branches read, and the accepted merges (the
    mainline's list is read only when a merge needs it). A plain class: `check` never
    imports `dataclasses` (see config/model.py)."""

    def __init__(self, repo: Repo, cfg: Config, br: Branches) -> None:
        self.repo, self.cfg, self.br = repo, cfg, br
        self._accepted: Names | None = None

    @property
    def remote(self) -> str:
        return self.cfg.remote

    @property
    def mainline_tip(self) -> Sha:
        return self.br.tips[self.br.mainline_ref]

    def base(self, delivery: str) -> str:
        """The ref a rebuilt fix branch starts from: the remote-tracking delivery branch."""
        return f"{self.br.remote}/{delivery}" if self.br.remote else delivery

    def accepted(self, leaks: Leaks) -> Names:
        own = Names(self.cfg.check.allow_merges)
        judged = [
            m.merge.sha for m in leaks.merges if not (m.merge.sync or (m.syncs and not m.beyond))
        ]
        if self._accepted is None and any(sha not in own for sha in judged):
            extra: list[str] = []
            if self.cfg.source is not None:  # the checkout's own file, maybe an old copy
                extra = facts.mainline_allow_list(self.repo, self.br.mainline_ref)
            self._accepted = Names([*self.cfg.check.allow_merges, *extra])
        return self._accepted or own

    def master_merged(
        self, delivery: BranchName, tip: Sha, div: facts.Divergence | None = None
    ) -> tuple[Leaks, list[Finding]]:
        leaks = facts.mainline_leaks(self.repo, tip, self.mainline_tip, div)
        found = rules.master_merged(delivery, self.br.mainline, leaks, self.accepted(leaks))
        return leaks, found


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
    scope = _Scope(repo, cfg, br)
    if ref is None and br.current:  # HEAD's branch: exactly refs/heads/<it>, tip known
        ref_name, ref_sha = br.current, br.tips[f"refs/heads/{br.current}"]
    else:
        ref_name, ref_sha = _named(scope, ref or "HEAD")
    findings: list[Finding] = []
    leaks: dict[BranchName, Leaks] = {}
    for d, d_ref in br.deliveries.items():
        d_tip = br.tips[d_ref]
        div = facts.divergence(repo, d_tip, scope.mainline_tip)
        leaks[d], found = scope.master_merged(d, d_tip, div)
        findings += found
        findings += rules.missing_backmerge(
            d,
            br.mainline,
            facts.pending_backmerge(repo, d_tip, scope.mainline_tip, div),
            now=time.time() if now is None else now,
            max_days=int(cfg.max_backmerge_days),
        )
    if into is None:
        if _kind(scope, ref_name) == "branch":
            d = _delivery_of(repo, br, ref_name, ref_sha, recorded_delivery)
            findings += _branch(scope, ref_name, ref_sha, d, br.tips[br.deliveries[d]])[1]
        return report(findings, notes)
    into_name, into_sha = _target(scope, into)
    into_kind = _kind(scope, into_name)
    if into_kind == "delivery":
        lk = leaks.get(into_name) or facts.mainline_leaks(repo, into_sha, scope.mainline_tip)
        findings += _proposal(scope, ref_name, ref_sha, into_name, into_sha, lk)
    else:
        kind = _kind(scope, ref_name)
        if kind == "branch" and into_kind != "mainline":
            # A proposal into the mainline (a back-merge head) carries master by definition.
            d = _delivery_of(repo, br, ref_name, ref_sha, recorded_delivery)
            findings += _branch(scope, ref_name, ref_sha, d, br.tips[br.deliveries[d]])[1]
        findings += rules.wrong_target(
            ref_name, kind, into_name, into_kind, cfg.fix_branch_template, mainline=br.mainline
        )
    return report(findings, notes)


def proposal_refusals(
    repo: Repo, cfg: Config, *, branch: str, delivery: str, fetch: bool = False
) -> list[Finding]:
    """The error findings that must refuse proposing `branch` into `delivery`: the branch's
    own (rule 1, wrong target, bringing master) and an unaccepted mainline merge on the target
    delivery branch. Never another delivery branch's history, never `missing-backmerge` (a
    missing back-merge never blocks a production fix)."""
    br, _ = facts.read_branches(repo, cfg, fetch=fetch)
    scope = _Scope(repo, cfg, br)
    into_name, into_sha = _target(scope, delivery)
    if _kind(scope, into_name) != "delivery":
        raise ProdfixError(
            f"{delivery} is not a delivery branch (`delivery` in .prodfix.toml)",
            hint=f"propose into one of: {', '.join(br.deliveries) or '(none found)'}",
        )
    ref_name, ref_sha = _named(scope, branch)
    leaks, found = scope.master_merged(into_name, into_sha)
    found = _proposal(scope, ref_name, ref_sha, into_name, into_sha, leaks) + found
    return [f for f in report(found).findings if f.severity == "error"]


def delivery_refusals(repo: Repo, cfg: Config, *, delivery: str, tip: str) -> list[Finding]:
    """The error findings on `delivery` at `tip` that must refuse merging into it, building
    and deploying it: a mainline merge that is neither a marked sync nor accepted in
    `[check] allow-merges`. Not `missing-backmerge`."""
    br, _ = facts.read_branches(repo, cfg, fetch=False)
    sha = repo.resolve(tip)
    if sha is None:
        raise ProdfixError(
            f"{delivery} at {tip!r}: no such commit in {repo.path}",
            hint=f"fetch it: `git fetch {cfg.remote} {delivery}`",
        )
    scope = _Scope(repo, cfg, br)
    _, found = scope.master_merged(facts.short_name(delivery, scope.remote), sha)
    return [f for f in found if f.severity == "error"]


def _proposal(
    scope: _Scope, ref: BranchName, sha: Sha, into: BranchName, into_sha: Sha, leaks: Leaks
) -> list[Finding]:
    """Rules of the proposal "merge REF into the delivery branch INTO"."""
    kind = _kind(scope, ref)
    carried: Carried | None = None
    found: list[Finding] = []
    if kind == "branch":
        kind, found, carried = _branch(scope, ref, sha, into, into_sha)
    brought = facts.proposal_leak(scope.repo, sha, into_sha, scope.mainline_tip, leaks)
    own = carried.own if carried else []
    fix_hint = (
        hints.rebuild(ref, scope.base(into), own, scope.br.remote) if kind == "branch" else ""
    )
    found += rules.proposal_brings_master(
        ref, into, scope.br.mainline, kind, brought, fix_hint=fix_hint
    )
    found += rules.wrong_target(
        ref, kind, into, "delivery", scope.cfg.fix_branch_template, mainline=scope.br.mainline,
        own=own,
    )  # fmt: skip
    return found


def _branch(
    scope: _Scope, ref: BranchName, sha: Sha, d: BranchName, d_sha: Sha
) -> tuple[rules.Kind, list[Finding], Carried]:
    """Rule 1 for a branch judged against delivery branch `d`, and what the branch is: a
    branch whose tip is a marked sync merge, or (not named like a fix) whose master commits
    all came with marked sync merges, is a sync — a sync never rides inside a fix."""
    carried = facts.master_not_on_delivery(scope.repo, sha, d_sha, scope.mainline_tip)
    if carried.tip_sync or (carried.synced and not scope.cfg.is_fix_branch(ref)):
        return "sync", [], carried
    found = rules.branched_from_master(
        ref, d, scope.br.mainline, carried, base=scope.base(d), remote=scope.br.remote
    )
    return "branch", found, carried


def _named(scope: _Scope, rev: str) -> tuple[BranchName, Sha]:
    sha = facts.resolve(scope.repo, scope.br, rev, scope.remote)
    if sha is None:
        raise ProdfixError(
            f"{rev!r} is not a branch or commit in {scope.repo.path}",
            hint="check the name with `git branch -a` (fetch it first if it is on the remote)",
        )
    return facts.short_name(rev, scope.remote), sha


def _kind(scope: _Scope, name: BranchName) -> rules.Kind:
    if name == scope.br.mainline:
        return "mainline"
    if scope.cfg.is_delivery(name):
        return "delivery"
    return "branch"


def _target(scope: _Scope, into: str) -> tuple[BranchName, Sha]:
    """`--into`: a mainline or delivery name means the branch being judged (remote-tracking
    when there is one), not a possibly stale local copy."""
    br = scope.br
    name = facts.short_name(into, scope.remote)
    ref = br.mainline_ref if name == br.mainline else br.deliveries.get(name)
    sha = br.tips[ref] if ref else scope.repo.resolve(into)
    if sha is None:
        raise ProdfixError(
            f"--into {into!r}: no such branch in {scope.repo.path}",
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
