"""Observe where a fix really is in one repository: refs, PRs, builds, tests, deploy files.

Reads only, from the repository's snapshot (one fetch and one for-each-ref per repository)
and the services (forge, CI) now. Nothing is taken from the local database: any clone on any
machine observes the same facts (`since` times too: they come from the remote's data).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prodfix.adapters.build import Build, BuildState
from prodfix.adapters.forge import PrState, PullRequest
from prodfix.errors import ProdfixError
from prodfix.types import BranchName, Sha
from prodfix.workflow.context import Ctx
from prodfix.workflow.discover import FixSeed
from prodfix.workflow.fixrecords import TestRecord
from prodfix.workflow.snapshot import RepoSnapshot

BACKMERGE_PREFIX = "backmerge/"


@dataclass
class RepoFacts:
    seed: FixSeed
    error: str | None = None  # the repository is gone or unreadable
    current_branch: BranchName | None = None
    local_head: Sha | None = None
    remote_head: Sha | None = None
    delivery_tip: Sha | None = None
    mainline_tip: Sha | None = None
    mainline: str = "master"
    ahead: int = 0  # 1 when the branch carries commits beyond its start
    test: TestRecord | None = None
    pr: PullRequest | None = None
    landing: Sha | None = None  # the delivery commit that brought the fix in
    build: Build | None = None
    build_configured: bool = False
    tag: str | None = None
    deploy_configured: bool = False
    deploy: dict[str, Any] = field(default_factory=dict)  # filled by deploy facts
    backmerged: bool = False
    backmerge_commit: Sha | None = None  # the mainline commit that brought the landing in
    backmerge_pr: PullRequest | None = None
    backmerge_pr_has_fix: bool = False  # the open back-merge PR's head contains the landing
    backmerge_problems: list[str] = field(default_factory=list)
    since: dict[str, str | None] = field(default_factory=dict)  # step → ISO 8601

    @property
    def head(self) -> Sha | None:
        return self.local_head or self.remote_head or (self.pr.head_sha if self.pr else None)

    @property
    def name(self) -> str:
        return self.seed.name


def gather(snap: RepoSnapshot, seed: FixSeed) -> RepoFacts:
    f = RepoFacts(seed)
    if snap.error:
        f.error = snap.error
        return f
    try:
        _gather(snap, f)
    except ProdfixError as exc:
        f.error = exc.message
    return f


def _gather(snap: RepoSnapshot, f: RepoFacts) -> None:
    ctx, seed = snap.ctx, f.seed
    cfg = ctx.cfg
    f.current_branch = snap.current_branch
    f.local_head = snap.local_tip(seed.branch)
    f.remote_head = snap.remote_tip(seed.branch)
    if seed.delivery:
        f.delivery_tip = snap.remote_tip(seed.delivery)
    f.mainline_tip = snap.mainline_tip
    f.mainline = cfg.mainline
    f.pr = _fix_pr(ctx, snap, seed)
    head = f.head
    if head is None and seed.record is not None:
        head = seed.record.head
    f.ahead = int(bool(head) and head not in (f.delivery_tip, seed.base))
    if head:
        f.test = snap.tests.get(head)
    f.landing = _landing(ctx, f, head)
    f.build_configured = cfg.build.configured
    f.deploy_configured = cfg.deploy.configured
    if f.landing and f.build_configured and ctx.builder is not None and seed.delivery:
        f.build = _delivery_build(ctx, f, seed.delivery)
        f.tag = f.build.image_tag if f.build and f.build.state is BuildState.SUCCESS else None
    if f.landing and f.mainline_tip and seed.kind != "sync":  # a sync needs no back-merge
        f.backmerged = ctx.repo.is_ancestor(f.landing, f.mainline_tip)
    if seed.delivery and f.landing and not f.backmerged and seed.kind != "sync":
        listed = _backmerge_pr(snap, seed.delivery)
        f.backmerge_pr = ctx.forge.get_pr(listed.number) if listed else None
        # Opened for an earlier fix of the branch, it may not bring this one yet.
        f.backmerge_pr_has_fix = f.backmerge_pr is not None and _contains(
            ctx, f.backmerge_pr.head_sha, f.landing
        )
    f.since = {
        "branch": seed.record.started_at if seed.record else None,
        "prepare": seed.record.started_at if seed.record else None,  # a sync's first step
        "test": f.test.at if f.test else None,
        "propose": f.pr.created_at if f.pr else None,
        "merge": f.pr.created_at if f.pr and not f.landing else None,
        "backmerge": f.backmerge_pr.created_at if f.backmerge_pr else None,
    }


def _fix_pr(ctx: Ctx, snap: RepoSnapshot, seed: FixSeed) -> PullRequest | None:
    """The fix's PR: an open one from the list read once, else the newest of any state (a PR
    opened by hand in the web UI is the fix's PR too)."""
    if seed.delivery is None:
        return None
    for pr in snap.open_prs:
        if pr.head == seed.branch and pr.base == seed.delivery:
            return ctx.forge.get_pr(pr.number)  # list items lack blockers on some forges
    if not ctx.forge.has_credentials():
        return None
    return ctx.forge.find_pr(seed.branch, seed.delivery, open_only=False)


def _backmerge_pr(snap: RepoSnapshot, delivery: str) -> PullRequest | None:
    """The open back-merge PR of the delivery branch (its head is a throwaway
    `backmerge/<delivery>-<short sha>`), the newest when several are open."""
    mine = [
        pr
        for pr in snap.open_prs
        if pr.head.startswith(f"{BACKMERGE_PREFIX}{delivery}-") and pr.base == snap.ctx.cfg.mainline
    ]
    return max(mine, key=lambda p: int(p.number)) if mine else None


def _contains(ctx: Ctx, tip: str, commit: str) -> bool:
    return ctx.repo.resolve(tip) is not None and ctx.repo.is_ancestor(commit, tip)


def _landing(ctx: Ctx, f: RepoFacts, head: Sha | None) -> Sha | None:
    """Where the fix landed on delivery: the forge's merge commit, else git's own evidence
    (ancestry, then patch-id for squash merges) — a merge done by hand counts."""
    if f.pr is not None and f.pr.state == PrState.MERGED and f.pr.merge_commit:
        return f.pr.merge_commit
    base = f.seed.base
    if not f.delivery_tip or not head or head == base:
        return None
    if f.delivery_tip == base:
        return None  # delivery has not moved since the fix started: nothing can have landed
    from prodfix.adapters.forge.embedded.merge import find_landing

    return find_landing(ctx.repo, f.delivery_tip, head, base_sha=f.delivery_tip)


def _delivery_build(ctx: Ctx, f: RepoFacts, delivery: BranchName) -> Build | None:
    """The build that ships the fix: the newest build of a delivery commit containing the
    landing, or — while it is still queued and no build lists it yet — the build this clone
    triggered, re-observed by the id it kept. A failed build followed by a newer delivery
    commit (the build fix) is not the answer: build again."""
    builder = ctx.builder
    assert builder is not None and f.landing and f.delivery_tip
    build = builder.delivery_build(delivery, f.landing)
    # The build this clone triggered, while Jenkins still has it queued (not listed yet), or
    # a rebuild after a failure: a local note, only ever a shortcut to what CI says.
    recorded = ctx.store.idents(f.name, ctx.path).get("build")
    failed = (BuildState.FAILURE, BuildState.ABORTED)
    if recorded and (build is None or (build.id != recorded and build.state in failed)):
        mine = builder.poll(Build(str(recorded), BuildState.QUEUED, sha=f.delivery_tip))
        if build is None or mine.number is None or mine.number > (build.number or 0):
            build = mine
    if (
        build is not None
        and build.state in failed
        and build.sha
        and build.sha != f.delivery_tip
        and ctx.repo.is_ancestor(build.sha, f.delivery_tip)
    ):
        return None  # delivery moved on since the failed build (the build fix): build again
    return build
