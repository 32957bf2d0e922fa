"""Observe where a fix really is in one repository: refs, PRs, builds, tests, deploy files.

Reads only. Batched: one fetch and one for-each-ref per repository; PR and build identities
come from the record, their state from the forge/CI now (DESIGN.md: observed, never trusted).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from prodfix.adapters.build import Build, BuildState
from prodfix.adapters.forge import PrState, PullRequest
from prodfix.adapters.store import FixRepo
from prodfix.errors import ProdfixError
from prodfix.types import BranchName, PrNumber, Sha
from prodfix.workflow.context import Ctx
from prodfix.workflow.ops_test import test_key


@dataclass
class RepoFacts:
    rec: FixRepo
    error: str | None = None  # the repository is gone or unreadable
    local_head: Sha | None = None
    remote_head: Sha | None = None
    delivery_tip: Sha | None = None
    mainline_tip: Sha | None = None
    mainline: str = "master"
    ahead: int = 0  # 1 when the branch carries commits beyond its start
    test: dict[str, str] | None = None
    pr: PullRequest | None = None
    landing: Sha | None = None  # the delivery commit that brought the fix in
    build: Build | None = None
    build_configured: bool = False
    tag: str | None = None
    deploy_configured: bool = False
    deploy: dict[str, Any] = field(default_factory=dict)  # filled by deploy facts
    backmerged: bool = False
    backmerge_pr: PullRequest | None = None
    idents: dict[str, Any] = field(default_factory=dict)
    since: dict[str, float] = field(default_factory=dict)

    @property
    def head(self) -> Sha | None:
        return self.local_head or self.remote_head


def gather(
    ctx: Ctx, rec: FixRepo, *, fetch: bool = True, refs: dict[str, Sha] | None = None
) -> RepoFacts:
    """Facts of one fix in one repository. `refs` (from one for-each-ref the caller made after
    one fetch) lets `status` observe many fixes of a repository with one read of the remote."""
    f = RepoFacts(rec)
    try:
        _gather(ctx, f, fetch=fetch, refs=refs)
    except ProdfixError as exc:
        f.error = exc.message
    return f


def read_refs(ctx: Ctx, *, fetch: bool) -> dict[str, Sha]:
    """One fetch and one for-each-ref. With the embedded forge both are the forge's own read
    (branches and PRs in one fetch, every ref in one for-each-ref), shared with it."""
    if fetch:
        primed = ctx.forge.prime()
        if primed is not None:
            return dict(primed)
        ctx.repo.fetch(ctx.remote)
    return ctx.repo.refs("refs/heads/", f"refs/remotes/{ctx.remote}/")


def _gather(ctx: Ctx, f: RepoFacts, *, fetch: bool, refs: dict[str, Sha] | None) -> None:
    repo, cfg = ctx.repo, ctx.cfg
    rec = f.rec
    if not repo.path.is_dir():
        raise ProdfixError(f"{repo.path} is gone")
    if refs is None:
        refs = read_refs(ctx, fetch=fetch)
    remote = ctx.remote
    branch, delivery, mainline = rec.branch or "", rec.delivery or "", str(cfg.mainline)
    f.local_head = refs.get(f"refs/heads/{branch}")
    f.remote_head = refs.get(f"refs/remotes/{remote}/{branch}")
    f.delivery_tip = refs.get(f"refs/remotes/{remote}/{delivery}")
    f.mainline_tip = refs.get(f"refs/remotes/{remote}/{mainline}")
    f.mainline = mainline
    f.idents = ctx.store.idents(rec.fix, rec.path)
    f.since = ctx.store.ident_times(rec.fix, rec.path)
    head = f.head
    # Whether the branch carries anything beyond where it started (no count: status batches).
    f.ahead = int(bool(head) and head not in (f.delivery_tip, rec.base_sha))
    if head:
        f.test = f.idents.get(test_key(head))
    f.pr = _pr(ctx, f, "pr", branch, delivery)
    f.landing = _landing(ctx, f)
    f.build_configured = cfg.build.type != "none"
    f.deploy_configured = bool(cfg.deploy.repo and cfg.deploy.image)
    if f.landing and f.build_configured and ctx.builder is not None and f.delivery_tip:
        f.build = _delivery_build(ctx, f, BranchName(delivery))
        f.tag = (f.build.image_tag if f.build else None) or f.idents.get("tag")
        if f.build and f.build.image_tag and f.idents.get("tag") != f.build.image_tag:
            # The one write: the observed tag is kept so deploy still knows it after Jenkins
            # discards old builds (build rotation).
            ctx.store.set_ident(rec.fix, rec.path, "tag", f.build.image_tag)
    if f.landing and f.mainline_tip:
        f.backmerged = repo.is_ancestor(f.landing, f.mainline_tip)
    f.backmerge_pr = _pr_by_ident(ctx, f.idents.get("backmerge_pr"))


def _delivery_build(ctx: Ctx, f: RepoFacts, delivery: BranchName) -> Build | None:
    """The build that ships the fix: the newest build of a delivery commit containing the one
    prodfix built (else the landing commit: an automatic build counts), or — while it is still
    queued and no build lists it yet — the build prodfix triggered, re-observed by its stored
    id. Never a reason to trigger again while one is on its way."""
    builder = ctx.builder
    assert builder is not None and f.landing and f.delivery_tip
    want = Sha(f.idents.get("build_sha") or f.landing)
    build = builder.delivery_build(delivery, want)
    recorded = f.idents.get("build")
    failed = (BuildState.FAILURE, BuildState.ABORTED)
    if recorded and (build is None or (build.id != recorded and build.state in failed)):
        mine = builder.poll(Build(str(recorded), BuildState.QUEUED, sha=want))
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


def _pr_by_ident(ctx: Ctx, number: Any) -> PullRequest | None:
    if number is None:
        return None
    return ctx.forge.get_pr(PrNumber(int(number)))


def _pr(ctx: Ctx, f: RepoFacts, key: str, head: str, base: str) -> PullRequest | None:
    pr = _pr_by_ident(ctx, f.idents.get(key))
    if pr is None and head:
        # A PR opened by hand in the web UI is the fix's PR too.
        pr = ctx.forge.find_pr(BranchName(head), BranchName(base), open_only=False)
    return pr


def _landing(ctx: Ctx, f: RepoFacts) -> Sha | None:
    """Where the fix landed on delivery: the forge's merge commit, else git's own evidence
    (ancestry, then patch-id for squash merges) — a merge done by hand counts."""
    if f.pr is not None and f.pr.state == PrState.MERGED and f.pr.merge_commit:
        return f.pr.merge_commit
    if not f.delivery_tip or not f.head or f.head == f.rec.base_sha:
        return None
    if f.delivery_tip == f.rec.base_sha:
        return None  # delivery has not moved since the fix started: nothing can have landed
    from prodfix.adapters.forge.embedded.merge import find_landing

    return find_landing(ctx.repo, f.delivery_tip, f.head, base_sha=f.delivery_tip)


def age(since: float | None) -> str:
    if since is None:
        return ""
    s = int(time.time() - since)
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"
