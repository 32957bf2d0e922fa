"""Observe every repository of a fix (in parallel) and evaluate its steps."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from prodfix.adapters.git import Repo
from prodfix.adapters.store import FixRepo, Store
from prodfix.errors import ProdfixError
from prodfix.types import Sha
from prodfix.workflow.context import Ctx
from prodfix.workflow.evaluate import Step, evaluate
from prodfix.workflow.facts import RepoFacts, gather, read_refs
from prodfix.workflow.playbooks import FINISHED


@dataclass
class RepoView:
    rec: FixRepo
    facts: RepoFacts
    steps: list[Step]
    ctx: Ctx | None

    @property
    def done(self) -> bool:
        return all(s.state in FINISHED for s in self.steps)

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.rec.path,
            "kind": self.rec.kind,
            "delivery": self.rec.delivery,
            "branch": self.rec.branch,
            "steps": [s.to_json() for s in self.steps],
        }


def repo_ctx(store: Store, rec: FixRepo, *, dry_run: bool = False) -> Ctx:
    from prodfix.config import load_for_repo

    path = Path(rec.path)
    if not path.is_dir():
        raise ProdfixError(f"{path} is gone")
    repo = Repo(path)
    return Ctx(repo=repo, cfg=load_for_repo(repo), store=store, fix=rec.fix, dry_run=dry_run)


def observe_repo(
    store: Store,
    rec: FixRepo,
    *,
    fetch: bool = True,
    shared: Ctx | None = None,
    refs: dict[str, Sha] | None = None,
) -> RepoView:
    try:
        ctx = shared.with_fix(rec.fix) if shared is not None else repo_ctx(store, rec)
    except ProdfixError as exc:
        facts = RepoFacts(rec, error=exc.message)
        return RepoView(rec, facts, evaluate(facts), None)
    facts = gather(ctx, rec, fetch=fetch, refs=refs)
    if not facts.error and facts.deploy_configured and facts.tag:
        from prodfix.workflow.deploy_facts import observe_deploy

        try:
            facts.deploy = observe_deploy(ctx, facts)
        except ProdfixError as exc:
            facts.deploy = {"failed": exc.message}
    return RepoView(rec, facts, evaluate(facts), ctx)


def _observe_path(store: Store, recs: list[FixRepo], fetch: bool) -> list[RepoView]:
    """Every fix of one repository: one context, one read of the remote."""
    try:
        ctx = repo_ctx(store, recs[0])
        refs = read_refs(ctx, fetch=fetch)
    except ProdfixError as exc:
        return [RepoView(r, f := RepoFacts(r, error=exc.message), evaluate(f), None) for r in recs]
    return [observe_repo(store, r, fetch=False, shared=ctx, refs=refs) for r in recs]


def observe_fixes(
    store: Store, fixes: list[str], *, fetch: bool = True
) -> dict[str, list[RepoView]]:
    """Observe many fixes, grouped by repository; repositories in parallel (threads: the work is
    git processes and network waits)."""
    recs = [r for fix in fixes for r in store.repos(fix) if r.role == "service"]
    by_path: dict[str, list[FixRepo]] = {}
    for r in recs:
        by_path.setdefault(r.path, []).append(r)
    groups = list(by_path.values())
    if len(groups) <= 1:
        results = [_observe_path(store, g, fetch) for g in groups]
    else:
        with ThreadPoolExecutor(max_workers=min(8, len(groups))) as pool:
            results = list(pool.map(lambda g: _observe_path(store, g, fetch), groups))
    views = {id(v.rec): v for group in results for v in group}
    return {fix: [views[id(r)] for r in recs if r.fix == fix] for fix in fixes}


def observe_fix(store: Store, fix: str, *, fetch: bool = True) -> list[RepoView]:
    return observe_fixes(store, [fix], fetch=fetch)[fix]
