"""Observe every repository of a fix (in parallel) and evaluate its steps."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from prodfix.adapters.git import Repo
from prodfix.adapters.store import FixRepo, Store
from prodfix.errors import ProdfixError
from prodfix.workflow.context import Ctx
from prodfix.workflow.evaluate import Step, evaluate
from prodfix.workflow.facts import RepoFacts, gather
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
    from prodfix.commands.common import load_config

    path = Path(rec.path)
    if not path.is_dir():
        raise ProdfixError(f"{path} is gone")
    repo = Repo(path)
    return Ctx(repo=repo, cfg=load_config(repo), store=store, fix=rec.fix, dry_run=dry_run)


def observe_repo(store: Store, rec: FixRepo, *, fetch: bool = True) -> RepoView:
    try:
        ctx = repo_ctx(store, rec)
    except ProdfixError as exc:
        facts = RepoFacts(rec, error=exc.message)
        return RepoView(rec, facts, evaluate(facts), None)
    facts = gather(ctx, rec, fetch=fetch)
    if not facts.error and facts.deploy_configured and facts.tag:
        from prodfix.workflow.deploy_facts import observe_deploy

        try:
            facts.deploy = observe_deploy(ctx, facts)
        except ProdfixError as exc:
            facts.deploy = {"failed": exc.message}
    return RepoView(rec, facts, evaluate(facts), ctx)


def observe_fix(store: Store, fix: str, *, fetch: bool = True) -> list[RepoView]:
    recs = [r for r in store.repos(fix) if r.role == "service"]
    if len(recs) <= 1:
        return [observe_repo(store, r, fetch=fetch) for r in recs]
    with ThreadPoolExecutor(max_workers=min(8, len(recs))) as pool:
        return list(pool.map(lambda r: observe_repo(store, r, fetch=fetch), recs))
