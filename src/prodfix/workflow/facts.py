"""Observe where a fix really is in one repository: refs, PRs, builds, tests, deploy files.

Reads only. Batched: one fetch and one for-each-ref per repository; PR and build identities
come from the record, their state from the forge/CI now (DESIGN.md: observed, never trusted).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from prodfix.adapters.build import Build
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
    ahead: int = 0  # fix commits not on delivery
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


def gather(ctx: Ctx, rec: FixRepo, *, fetch: bool = True) -> RepoFacts:
    f = RepoFacts(rec)
    try:
        _gather(ctx, f, fetch=fetch)
    except ProdfixError as exc:
        f.error = exc.message
    return f


def _gather(ctx: Ctx, f: RepoFacts, *, fetch: bool) -> None:
    repo, cfg, remote = ctx.repo, ctx.cfg, ctx.remote
    rec = f.rec
    if not repo.path.is_dir():
        raise ProdfixError(f"{repo.path} is gone")
    if fetch:
        repo.fetch(remote)
    refs = repo.refs("refs/heads/", f"refs/remotes/{remote}/")
    branch, delivery, mainline = rec.branch or "", rec.delivery or "", str(cfg["mainline"])
    f.local_head = refs.get(f"refs/heads/{branch}")
    f.remote_head = refs.get(f"refs/remotes/{remote}/{branch}")
    f.delivery_tip = refs.get(f"refs/remotes/{remote}/{delivery}")
    f.mainline_tip = refs.get(f"refs/remotes/{remote}/{mainline}")
    f.idents = ctx.store.idents(rec.fix, rec.path)
    f.since = ctx.store.ident_times(rec.fix, rec.path)
    head = f.head
    if head and f.delivery_tip:
        f.ahead = repo.count(head, f"^{f.delivery_tip}")
    if head:
        f.test = f.idents.get(test_key(head))
    f.pr = _pr(ctx, f, "pr", branch, delivery)
    f.landing = _landing(ctx, f)
    f.build_configured = cfg["build.type"] != "none"
    f.deploy_configured = bool(cfg["deploy.repo"] and cfg["deploy.image"])
    if f.landing and f.build_configured and ctx.builder is not None and f.delivery_tip:
        f.build = ctx.builder.delivery_build(
            BranchName(delivery), Sha(f.idents.get("build_sha") or f.delivery_tip)
        )
        if f.build is not None and not f.build.state.finished:
            f.build = ctx.builder.poll(f.build)
        f.tag = (f.build.image_tag if f.build else None) or f.idents.get("tag")
    if f.landing and f.mainline_tip:
        f.backmerged = repo.is_ancestor(f.landing, f.mainline_tip)
    f.backmerge_pr = _pr_by_ident(ctx, f.idents.get("backmerge_pr"))


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
    if not f.delivery_tip or not f.head or (f.ahead == 0 and f.head == f.rec.base_sha):
        return None
    from prodfix.adapters.forge.embedded_merge import find_landing

    return find_landing(ctx.repo, f.delivery_tip, f.head)


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
