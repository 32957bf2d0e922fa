"""Observe the fixes of repositories — every fix a repository's remote knows, or the named
ones — and evaluate their steps. Repositories in parallel (threads: the work is git processes
and network waits); within one repository every fix shares one snapshot."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prodfix.adapters.git import Repo
from prodfix.adapters.gitlook import is_sha
from prodfix.adapters.shacache import save_shared, shared
from prodfix.adapters.store import Store
from prodfix.errors import ProdfixError
from prodfix.types import BranchName, Sha
from prodfix.workflow import snapshot
from prodfix.workflow.context import Ctx
from prodfix.workflow.discover import FixSeed, discover
from prodfix.workflow.evaluate import Step, evaluate
from prodfix.workflow.facts import RepoFacts, gather
from prodfix.workflow.images import ImageIndex
from prodfix.workflow.playbooks import FINISHED, State

if TYPE_CHECKING:
    from prodfix.workflow.deploy_facts import DeployLook


@dataclass
class RepoView:
    seed: FixSeed
    facts: RepoFacts
    steps: list[Step]
    ctx: Ctx | None
    remote_url: str | None = None

    @property
    def done(self) -> bool:
        return all(s.state in FINISHED for s in self.steps)

    @property
    def failed(self) -> bool:
        return any(s.state == State.FAILED for s in self.steps)

    @property
    def unreadable(self) -> bool:
        return self.facts.error is not None

    @property
    def path(self) -> str:
        return str(self.ctx.repo.path) if self.ctx else ""

    @property
    def name(self) -> str:
        return Path(self.path).name

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "remote": self.remote_url,
            "kind": self.seed.kind,
            "delivery": self.seed.delivery,
            "branch": self.seed.branch,
            "steps": [s.to_json() for s in self.steps],
        }


def observe_repository(
    ctx: Ctx,
    *,
    fetch: bool = True,
    names: Iterable[str] | None = None,
    seen: dict[str, Mapping[str, Sha]] | None = None,
) -> list[RepoView]:
    """Every fix of the repository (or the named ones), observed now. `seen` (path → refs)
    receives the refs read, for a caller that shows more about the repository from them
    without reading them again (`status`: how far each delivery branch is behind)."""
    ctx.repo.related.clear()  # the deploy repository's config as it is now, once per look
    with ctx.repo.looking():  # the refs read after the fetch serve every fix of the look
        views = _observe(ctx, fetch=fetch, names=names, seen=seen)
    save_shared()  # what this look learnt about commits, for the next command
    return views


def _observe(
    ctx: Ctx,
    *,
    fetch: bool,
    names: Iterable[str] | None,
    seen: dict[str, Mapping[str, Sha]] | None,
) -> list[RepoView]:
    snap = snapshot.read(ctx, fetch=fetch)
    if seen is not None and not snap.error:
        seen[ctx.path] = snap.refs
    wanted = set(names) if names is not None else None
    if snap.error:
        seeds = _cached_seeds(ctx, wanted)
    else:
        seeds = [s for s in discover(snap) if wanted is None or s.name in wanted]
    url = ctx.repo.remote_url(ctx.remote) if ctx.repo.path.is_dir() else None
    images = ImageIndex(ctx, snap.refs, list(snap.deliveries())) if not snap.error else None
    views = []
    look: list[DeployLook] = []  # the deploy repository, read once for all the fixes
    try:
        for seed in seeds:
            fctx = ctx.with_fix(seed.name)
            facts = gather(snap, seed)
            if not facts.error and images is not None:
                _observe_later_steps(fctx, facts, images, look)
            views.append(RepoView(seed, facts, evaluate(facts), fctx, url))
    finally:
        for each in look:
            each.close()
    return views


def _observe_later_steps(
    ctx: Ctx, facts: RepoFacts, images: ImageIndex, look: list[DeployLook]
) -> None:
    if facts.landing and facts.backmerged and facts.mainline_tip:
        try:
            facts.backmerge_commit, facts.backmerge_problems = _verify_backmerge(ctx, facts)
        except ProdfixError as exc:
            facts.backmerge_problems = [f"cannot verify the back-merge: {exc.message}"]
    if facts.deploy_configured and facts.landing and facts.build_configured:
        from prodfix.workflow.deploy_facts import DeployLook, observe_deploy

        if not look:
            look.append(DeployLook(ctx.with_fix(None)))
        try:
            facts.deploy = observe_deploy(ctx, facts, images, look[0])
        except ProdfixError as exc:
            facts.deploy = {"failed": exc.message}


def _verify_backmerge(ctx: Ctx, f: RepoFacts) -> tuple[Sha | None, list[str]]:
    """The mainline commit that brought the fix's landing in, and what its verification
    found, judged against the mainline as it is now (a follow-up PR that restores a lost fix
    repairs it). Cached once sound, or when it can never be: a pair of commits keeps that."""
    assert f.landing and f.mainline_tip
    repo = ctx.repo
    merge = _brought_by(repo, f.landing, f.mainline_tip)
    if merge is None:
        return None, []
    cache = shared(repo.path, "backmerge-verdicts")
    key = f"{merge}:{f.landing}"
    known = cache.get(key)
    if isinstance(known, list):
        return merge, [str(p) for p in known]
    parents = repo.parents(merge)
    if len(parents) < 2:
        problems = [
            f"not-a-merge: {merge[:7]} brought the fix to {f.mainline} without a merge commit "
            "(squashed or rebased): the next back-merge meets the same changes again"
        ]
    else:
        # The verification depends on the merge, its delivery side and the mainline's tip
        # only (not on the fix): the fixes of one back-merge share it, and it never changes.
        against = f"verify:{merge}:{parents[1]}:{f.mainline_tip}:{f.mainline}"
        found = repo.memo.get(against)
        if not isinstance(found, list):
            from prodfix.policy.verify import verify_backmerge

            found = [
                f"{p.code}: {p.message}"
                for p in verify_backmerge(
                    repo,
                    merge_commit=merge,
                    delivery_tip=parents[1],
                    mainline=ctx.tracking(f.mainline),
                    mainline_sha=f.mainline_tip,
                )
            ]
            repo.memo.put(against, found)
        problems = [str(p) for p in found]
        if problems:
            return merge, problems
    cache.put(key, problems)
    cache.save()
    return merge, problems


def _brought_by(repo: Repo, landing: str, tip: str) -> Sha | None:
    """The commit of the mainline's first-parent chain that brought `landing` in: the oldest
    one that descends from it (None: the landing is on that chain itself, a fast-forward).

    Not `rev-list --first-parent --ancestry-path`: it limits the walk to the first-parent
    chain first, so a landing reached through a second parent — a back-merge PR's head that
    is a resolution merge — finds no path at all, and nothing would be verified."""
    if not (is_sha(landing) and is_sha(tip)):
        return _first_descendant(repo, landing, tip)
    key = f"brought:{landing}:{tip}"  # two commits: the answer never changes
    known = repo.memo.get(key)
    if known is not None:
        return Sha(known) if known else None
    found = _first_descendant(repo, landing, tip)
    repo.memo.put(key, found or "")
    return found


def _first_descendant(repo: Repo, landing: str, tip: str) -> Sha | None:
    first = repo.rev_list("--first-parent", f"{landing}..{tip}")
    if not first:
        return None
    descendants = set(repo.rev_list("--ancestry-path", f"{landing}..{tip}"))
    chain = [c for c in first if c in descendants]
    if not chain:
        return None
    merge = chain[-1]
    if repo.resolve(f"{merge}^") == landing:
        return None  # the landing is on the mainline's own chain
    return merge


def _cached_seeds(ctx: Ctx, wanted: set[str] | None) -> list[FixSeed]:
    """The repository could not be read: show the fixes this machine knows of it (every step
    then says why it cannot be observed)."""
    return [
        FixSeed(
            r.fix,
            BranchName(r.branch or ctx.cfg.fix_branch(r.fix)),
            BranchName(r.delivery) if r.delivery else None,
            Sha(r.base_sha) if r.base_sha else None,
            r.kind,
        )
        for r in ctx.store.fixes_in(ctx.path)
        if wanted is None or r.fix in wanted
    ]


def observe_all(
    ctxs: list[Ctx],
    *,
    names: Iterable[str] | None = None,
    fetch: bool = True,
    seen: dict[str, Mapping[str, Sha]] | None = None,
) -> list[RepoView]:
    """Several repositories at once (threads), each observed whole."""
    wanted = list(names) if names is not None else None

    def one(c: Ctx) -> list[RepoView]:
        return observe_repository(c, fetch=fetch, names=wanted, seen=seen)

    if len(ctxs) <= 1:
        groups = [one(c) for c in ctxs]
    else:
        with ThreadPoolExecutor(max_workers=min(8, len(ctxs))) as pool:
            groups = list(pool.map(one, ctxs))
    return [v for g in groups for v in g]


def by_fix(views: list[RepoView]) -> dict[str, list[RepoView]]:
    """Views grouped by fix name, fixes in the order first seen."""
    out: dict[str, list[RepoView]] = {}
    for v in views:
        out.setdefault(v.seed.name, []).append(v)
    return out


def repo_ctx(base: Ctx, path: str) -> Ctx:
    """Another clone this machine knows (the fix touches it too), with `base`'s store,
    reporter and clock."""
    from prodfix.config import load_for_repo

    p = Path(path)
    if not p.is_dir():
        raise ProdfixError(f"{p} is gone")
    repo = Repo(p)
    return Ctx(repo, load_for_repo(repo), base.store, None, base.dry_run, base.out, base.clock)


def related_clones(ctx: Ctx, fixes: Iterable[str]) -> list[Ctx]:
    """The other clones on this machine where one of `fixes` was started (the local cache of
    which repositories a fix touches); clones that are gone are skipped."""
    store: Store = ctx.store
    here = str(ctx.repo.path)
    paths = sorted({r.path for f in fixes for r in store.repos(f) if r.path != here})
    out = []
    for path in paths:
        try:
            out.append(repo_ctx(ctx, path))
        except ProdfixError:
            continue
    return out
