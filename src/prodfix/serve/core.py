"""The only module of the service that calls prodfix's core: the policy gate, back-merge planning
and execution, and fix observation. Everything else in `prodfix.serve` talks to these few typed
functions, so the core can change underneath (remote-based fix discovery, a reconcile step with
no printing) by re-pointing this file alone.
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from prodfix import config
from prodfix.adapters.forge import PrState, PullRequest
from prodfix.adapters.git import Repo
from prodfix.adapters.store import FixRepo, Store
from prodfix.config import Config
from prodfix.errors import ProdfixError
from prodfix.serve.snapshot import FixJson, FixRepoJson, PolicyFinding, StepJson
from prodfix.types import BranchName, PrNumber, Sha

if TYPE_CHECKING:
    from prodfix.workflow.context import Ctx
    from prodfix.workflow.observe import RepoView

DAY = 86400.0
PR_LOOKBACK = 30  # newest PRs looked at for fixes (finished ones stay visible a while)


def load_config(repo: Repo, *, source: str, remote: str = "origin") -> Config:
    """The repository's `.prodfix.toml` as its mainline publishes it (a served repository is a
    clone of the service, never a checkout); relative `[deploy] repo` paths resolve against the
    served path, as they do against a user's checkout."""
    text, mainline = "", "master"
    for candidate in ("master", "main"):
        r = repo.git("show", f"refs/remotes/{remote}/{candidate}:{config.FILENAME}", check=False)
        if r.returncode == 0:
            text, mainline = r.stdout, candidate
            break
    try:
        declared = tomllib.loads(text).get("mainline", mainline)
    except tomllib.TOMLDecodeError:
        declared = mainline
    if declared != mainline:
        r = repo.git("show", f"refs/remotes/{remote}/{declared}:{config.FILENAME}", check=False)
        text = r.stdout if r.returncode == 0 else text
    has_go = repo.git("cat-file", "-e", f"refs/remotes/{remote}/{declared}:go.mod", check=False)
    kind = "go" if has_go.returncode == 0 else "python"
    where = f"{source}:{config.FILENAME}"
    values = config.parse(text, where, detected_kind=kind)
    deploy = values.get("deploy.repo")
    if isinstance(deploy, str) and deploy and "://" not in deploy and not deploy.startswith("/"):
        values["deploy.repo"] = _served_relative(source, deploy) or deploy
    explicit = frozenset(config._flatten(tomllib.loads(text))) if text else frozenset()
    return Config(values, None, explicit=explicit)


def _served_relative(source: str, rel: str) -> str | None:
    base = Path(source.removeprefix("file://"))
    if not base.exists():
        return None
    for cand in (base.parent / rel, base.parent / f"{rel}.git"):
        if cand.exists():
            return "file://" + str(cand.resolve())
    return None


# -- the policy check -----------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """What the policy check of one PR says."""

    conclusion: str  # success | failure
    findings: tuple[PolicyFinding, ...]  # errors first: these decide the conclusion
    warnings: tuple[PolicyFinding, ...] = ()  # named in the summary, never blocking
    error: str = ""  # set when the check could not decide (the conclusion is then failure)


def judge_pr(
    repo: Repo,
    cfg: Config,
    *,
    head_ref: str,
    head_sha: str,
    base: str,
    now: float | None = None,
) -> Verdict | None:
    """The policy gate on "merge head into base", or None when base is neither the mainline
    nor a delivery branch (not this service's business). A missing back-merge is a warning
    here even past max-backmerge-days: it never blocks a production fix."""
    from prodfix.policy.gate import check_repo

    mainline = str(cfg["mainline"])
    if base != mainline and not cfg.is_delivery(base):
        return None
    # Judge the exact head the PR shows, under its own branch name (the rules look at names).
    local = f"refs/heads/{head_ref}"
    repo.git("update-ref", local, head_sha)
    report = check_repo(repo, cfg, ref=local, into=base, fetch=False, now=now)
    errors: list[PolicyFinding] = []
    warnings: list[PolicyFinding] = []
    for f in report.findings:
        item: PolicyFinding = {
            "rule": f.rule,
            "severity": f.severity,
            "commits": [str(c) for c in f.commits],
            "message": f.message,
        }
        if f.rule == "missing-backmerge":
            if str(f.branch) == base:
                warnings.append({**item, "severity": "warning"})
        elif (f.severity == "error" and str(f.branch) in (head_ref, base)) or (
            f.severity == "error" and f.rule in ("wrong-target", "branched-from-master")
        ):
            errors.append(item)
    return Verdict("failure" if errors else "success", tuple(errors), tuple(warnings))


# -- back-merges -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conflict:
    path: str
    introduced_by: str


@dataclass(frozen=True)
class BackmergeState:
    delivery: str
    delivery_tip: str
    pending: bool
    clean: bool
    conflicts: tuple[Conflict, ...] = ()


def predict_backmerge(ctx: Ctx, delivery: str) -> BackmergeState:
    from prodfix.policy.backmerge import predict

    r = ctx.remote
    p = predict(
        ctx.repo,
        mainline=f"refs/remotes/{r}/{ctx.cfg['mainline']}",
        delivery=f"refs/remotes/{r}/{delivery}",
    )
    return BackmergeState(
        delivery,
        str(p.delivery),
        p.pending,
        p.clean,
        tuple(Conflict(c.path, str(c.introduced_by)) for c in p.conflicts),
    )


def open_backmerge(ctx: Ctx, delivery: str) -> int | None:
    """Open (or find) the clean back-merge PR exactly as `prodfix backmerge` plans it, through
    the interpreter. Returns its number. A failed run leaves no suspended run state behind: the
    job retries from the start and every operation looks before it acts."""
    from prodfix.commands.backmerge import plan_backmerge
    from prodfix.workflow import runstate
    from prodfix.workflow.interpreter import execute

    program = plan_backmerge(ctx, delivery)
    if not program:
        return None
    try:
        execute(ctx, "serve-backmerge", program)
    finally:
        runstate.clear(ctx.repo.path)
    number = ctx.vars.get("backmerge_pr")
    return int(number) if number is not None else None


def backmerge_head(delivery: str, tip: str) -> str:
    from prodfix.workflow.plans import backmerge_head as head

    return head(delivery, tip)


def merge_backmerge(ctx: Ctx, pr: PullRequest) -> None:
    """A true merge of a clean back-merge PR at the head we saw, then its verification."""
    from prodfix.workflow import runstate
    from prodfix.workflow.interpreter import execute
    from prodfix.workflow.plans import merge_program

    try:
        execute(ctx, "serve-merge", merge_program(int(pr.number), pr.head_sha, backmerge=True))
    finally:
        runstate.clear(ctx.repo.path)


def pr_of_landing(prs: list[PullRequest], landing: str) -> PullRequest | None:
    """The fix PR whose merge commit is this delivery landing."""
    for pr in prs:
        if pr.state == PrState.MERGED and pr.merge_commit == landing:
            return pr
    return None


# -- observation -------------------------------------------------------------------------------


@dataclass
class Observed:
    fixes: list[FixJson] = field(default_factory=list)
    deliveries: list[tuple[str, int, bool]] = field(default_factory=list)  # (branch, days, red)


def service_store() -> Store:
    """The service's own fix-record store (identities only; steps are observed)."""
    from prodfix.adapters.store import ensure_private_dir, home

    return Store(ensure_private_dir(home() / "serve") / "fixes.db")


def observe(ctx: Ctx, store: Store, *, display: str, remote_url: str) -> Observed:
    """Every fix found on the remote (open and recent fix PRs, fix branches without one) with
    each step observed as `status` does, and each delivery branch's back-merge age."""
    from prodfix.policy import facts as pfacts
    from prodfix.policy import rules
    from prodfix.workflow.observe import observe_repo

    out = Observed()
    refs = ctx.repo.refs(f"refs/remotes/{ctx.remote}/")
    prefix = f"refs/remotes/{ctx.remote}/"
    branches = {k.removeprefix(prefix): v for k, v in refs.items()}
    deliveries = {b: s for b, s in branches.items() if ctx.cfg.is_delivery(b)}
    mainline = str(ctx.cfg["mainline"])
    main_tip = branches.get(mainline)
    pattern = rules.fix_branch_pattern(str(ctx.cfg["fix-branch"]))
    prs = [p for p in ctx.forge.list_prs(state="all") if pattern.fullmatch(p.head)]
    prs = sorted(prs, key=lambda p: int(p.number), reverse=True)[:PR_LOOKBACK]
    recs: list[FixRepo] = []
    seen: set[str] = set()
    for pr in prs:
        if pr.base not in deliveries or pr.head in seen or pr.state == PrState.CLOSED:
            continue
        seen.add(pr.head)
        recs.append(_record(ctx, store, pr.head, pr.base, pr.head_sha, deliveries, pr))
    for b, sha in sorted(branches.items()):
        if b in seen or not pattern.fullmatch(b) or not deliveries:
            continue
        tips = {BranchName(d): Sha(t) for d, t in deliveries.items()}
        try:
            d = str(rules.choose_delivery(b, pfacts.merge_bases(ctx.repo, Sha(sha), tips)))
        except ProdfixError:
            continue
        recs.append(_record(ctx, store, b, d, sha, deliveries, None))
    refs_all = ctx.repo.refs("refs/heads/", prefix)
    for rec in recs:
        view = observe_repo(store, rec, fetch=False, shared=ctx, refs=refs_all)
        out.fixes.append(_fix_json(view, display=display, remote_url=remote_url))
    if main_tip:
        now = time.time()
        max_days = int(ctx.cfg["max-backmerge-days"])
        for d, tip in sorted(deliveries.items()):
            pending = pfacts.pending_backmerge(ctx.repo, Sha(tip), Sha(main_tip))
            days = max((int((now - p.landing.time) // DAY) for p in pending), default=0)
            late = any(now - p.landing.time > max_days * DAY for p in pending)
            out.deliveries.append((d, days, late))
    return out


def _record(
    ctx: Ctx,
    store: Store,
    branch: str,
    delivery: str,
    head: str,
    deliveries: Mapping[str, str],
    pr: PullRequest | None,
) -> FixRepo:
    pattern_name = _fix_name(str(ctx.cfg["fix-branch"]), branch)
    # Where the fix started: before its merge when it is merged (the merge commit's first
    # parent is delivery as it was), else where it meets delivery now.
    upto = f"{pr.merge_commit}^1" if pr is not None and pr.merge_commit else deliveries[delivery]
    base = ctx.repo.merge_base(head, upto) or deliveries[delivery]
    store.add_repo(
        pattern_name,
        ctx.path,
        role="service",
        kind=ctx.cfg.kind,
        delivery=delivery,
        branch=branch,
        base_sha=base,
    )
    if pr is not None:
        store.set_ident(pattern_name, ctx.path, "pr", int(pr.number))
    return next(r for r in store.repos(pattern_name) if r.path == ctx.path)


def _fix_name(template: str, branch: str) -> str:
    head, _, tail = template.partition("{name}")
    name = branch.removeprefix(head)
    return name.removesuffix(tail) if tail else name


def _fix_json(view: RepoView, *, display: str, remote_url: str) -> FixJson:
    f = view.facts
    steps: list[StepJson] = []
    for s in view.steps:
        pr = url = sha = tag = None
        if s.id in ("propose", "merge") and f.pr is not None:
            pr, url = int(f.pr.number), f.pr.url or None
        if s.id == "backmerge" and f.backmerge_pr is not None:
            pr, url = int(f.backmerge_pr.number), f.backmerge_pr.url or None
        if s.id in ("branch", "test"):
            sha = f.head
        elif s.id == "merge":
            sha = f.landing
        elif s.id == "build" and f.build is not None:
            sha, url = f.build.sha, f.build.url
        if s.id in ("build", "deploy"):
            tag = f.tag
        steps.append(
            {
                "id": s.id,
                "state": s.state.value,
                "detail": s.detail,
                "pr": pr,
                "url": url,
                "sha": str(sha) if sha else None,
                "tag": str(tag) if tag else None,
                "since": None,
            }
        )
    repo: FixRepoJson = {
        "path": display,
        "remote": remote_url,
        "kind": view.rec.kind,
        "delivery": view.rec.delivery or "",
        "branch": view.rec.branch or "",
        "steps": steps,
    }
    return {"name": view.rec.fix, "done": view.done, "repos": [repo]}


def open_backmerge_prs(ctx: Ctx) -> list[PullRequest]:
    mainline = str(ctx.cfg["mainline"])
    return [
        p
        for p in ctx.forge.list_prs(state="open")
        if p.head.startswith("backmerge/") and p.base == mainline
    ]


def drift(ctx: Ctx) -> list[tuple[str, dict[str, str]]]:
    """Per-DC tags of this repository's image in its GitOps repository, when they differ."""
    image = ctx.cfg["deploy.image"]
    if not ctx.cfg["deploy.repo"] or not image:
        return []
    from prodfix.workflow.audit_drift import scan
    from prodfix.workflow.deploy_repo import deploy_ctx

    try:
        dctx = deploy_ctx(ctx)
        dctx.repo.fetch(dctx.remote)
        found, _ = scan(dctx.repo, f"refs/remotes/{dctx.remote}/{ctx.cfg['deploy.target']}")
    except ProdfixError:
        return []
    return [(d.image, dict(d.tags)) for d in found if d.image.split(":")[0] == image]


def get_pr(ctx: Ctx, number: int) -> PullRequest:
    return ctx.forge.get_pr(PrNumber(number))
