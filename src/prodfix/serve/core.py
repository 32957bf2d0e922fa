"""The only module of the service that calls prodfix's core: the policy gate, back-merge planning
and execution, and fix observation. Everything else in `prodfix.serve` talks to these few typed
functions, so the core can change underneath (remote-based fix discovery, a reconcile step with
no printing) by re-pointing this file alone.
"""

from __future__ import annotations

import logging
import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from prodfix import config
from prodfix.adapters.forge import PrState, PullRequest
from prodfix.adapters.git import Repo
from prodfix.adapters.store import Store
from prodfix.config import Config
from prodfix.errors import ProdfixError
from prodfix.serve.snapshot import FixJson, FixRepoJson, PolicyFinding
from prodfix.types import PrNumber, Sha

if TYPE_CHECKING:
    from prodfix.workflow.behind import Behind
    from prodfix.workflow.context import Ctx

log = logging.getLogger("prodfix.serve")

DAY = 86400.0
RECENT = 14 * DAY  # finished fixes stay on the dashboard this long


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
    return Config.from_values(values)


def _served_relative(source: str, rel: str) -> str | None:
    base = Path(source.removeprefix("file://"))
    if not base.exists():
        return None
    name = Path(rel).name
    # Beside the served repository: the same relative path, or (a folder of bare remotes,
    # as `prodfix demo` makes) a sibling remote of the same name.
    for cand in (
        base.parent / rel,
        base.parent / f"{rel}.git",
        base.parent / name,
        base.parent / f"{name}.git",
    ):
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

    mainline = cfg.mainline
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

    p = predict(ctx.repo, mainline=ctx.tracking(ctx.cfg.mainline), delivery=ctx.tracking(delivery))
    return BackmergeState(
        delivery,
        str(p.delivery),
        p.pending,
        p.clean,
        tuple(Conflict(c.path, str(c.introduced_by)) for c in p.conflicts),
    )


def open_backmerge(ctx: Ctx, delivery: str) -> int | None:
    """Open (or update) the back-merge PR exactly as `prodfix backmerge` plans it — one per
    delivery branch — through the interpreter. Returns its number. A failed run leaves no
    suspended run state behind: the job retries from the start and every operation looks
    before it acts. Conflicts are for a person (`prodfix backmerge`): nothing is opened."""
    from prodfix.workflow import runstate
    from prodfix.workflow.interpreter import execute
    from prodfix.workflow.steps import backmerge

    facts = backmerge.gather(ctx, delivery)
    if not facts.prediction.clean:
        return facts.existing.number if facts.existing else None
    program = backmerge.plan(facts)
    if not program:
        return int(facts.existing.number) if facts.existing else None
    try:
        execute(ctx, "serve-backmerge", program)
    finally:
        runstate.clear(ctx.repo.path, None)
    number = ctx.vars.get("backmerge_pr")
    if number is None and facts.existing is not None:
        number = int(facts.existing.number)  # the existing PR was moved forward
    return int(number) if number is not None else None


def backmerge_head(delivery: str, tip: str) -> str:
    from prodfix.workflow.steps.backmerge import head_for

    return head_for(delivery, tip)


def merge_backmerge(ctx: Ctx, pr: PullRequest) -> None:
    """A true merge of a clean back-merge PR at the head we saw, then its verification."""
    from prodfix.workflow import runstate
    from prodfix.workflow.interpreter import execute
    from prodfix.workflow.steps.merge import merge_program

    try:
        execute(ctx, "serve-merge", merge_program(int(pr.number), pr.head_sha, backmerge=True))
    finally:
        runstate.clear(ctx.repo.path, None)


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
    behind: dict[str, Behind] = field(default_factory=dict)  # by delivery branch


def service_store() -> Store:
    """The service's own fix-record store (identities only; steps are observed)."""
    from prodfix.adapters.paths import ensure_private_dir, home

    return Store(ensure_private_dir(home() / "serve") / "fixes.db")


def observe(ctx: Ctx, store: Store, *, display: str, remote_url: str) -> Observed:
    """Every fix the remote knows (fix records, fix branches, open fix PRs) with each step
    observed as `status` does — the same code, so the dashboard and `status --json` agree —
    recently finished ones included; each delivery branch's back-merge age; and how far each
    is behind the mainline, measured as `status` measures it."""
    from prodfix.policy import facts as pfacts
    from prodfix.workflow.observe import by_fix, observe_repository

    out = Observed()
    now = ctx.clock.now()  # PRODFIX_NOW in tests, as for `status`
    views = observe_repository(ctx, fetch=False)
    for name, vs in by_fix(views).items():
        done = all(v.done for v in vs)
        record = vs[0].seed.record
        if done and record is not None and record.done_at and _age(record.done_at, now) > RECENT:
            continue  # finished long ago: `status --all` still has it
        repos: list[FixRepoJson] = []
        for v in vs:
            doc = v.to_json()
            doc["path"], doc["remote"] = display, remote_url
            repos.append(doc)  # type: ignore[arg-type]
        out.fixes.append({"name": name, "done": done, "repos": repos})
    prefix = f"refs/remotes/{ctx.remote}/"
    refs = ctx.repo.refs(prefix)
    branches = {k.removeprefix(prefix): v for k, v in refs.items()}
    deliveries = {b: s for b, s in branches.items() if ctx.cfg.is_delivery(b)}
    main_tip = branches.get(ctx.cfg.mainline)
    if main_tip:
        max_days = ctx.cfg.max_backmerge_days
        for d, tip in sorted(deliveries.items()):
            pending = pfacts.pending_backmerge(ctx.repo, Sha(tip), Sha(main_tip))
            days = max((int((now - p.landing.time) // DAY) for p in pending), default=0)
            late = any(now - p.landing.time > max_days * DAY for p in pending)
            out.deliveries.append((d, days, late))
    out.behind = _behind(ctx, refs)
    return out


def _behind(ctx: Ctx, refs: Mapping[str, Sha]) -> dict[str, Behind]:
    """From the refs just read (no second fetch or ref listing). A branch that cannot be
    measured is left out: the rest of the observation still counts."""
    from prodfix.workflow import behind

    try:
        found = behind.deliveries(ctx.repo, ctx.cfg, now=ctx.clock.now(), refs=refs)
    except ProdfixError as exc:
        log.warning("cannot measure how far delivery is behind in %s: %s", ctx.path, exc.message)
        return {}
    return {b.branch: b for b in found}


def _age(iso: str, now: float) -> float:
    from datetime import datetime

    try:
        return now - datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def open_backmerge_prs(ctx: Ctx) -> list[PullRequest]:
    mainline = ctx.cfg.mainline
    return [
        p
        for p in ctx.forge.list_prs(state="open")
        if p.head.startswith("backmerge/") and p.base == mainline
    ]


def drift(ctx: Ctx) -> list[tuple[str, dict[str, str]]]:
    """Per-DC tags of this repository's image in its GitOps repository, when they differ."""
    image = ctx.cfg.deploy.image
    if not ctx.cfg.deploy.repo or not image:
        return []
    from prodfix.workflow.audit_drift import scan
    from prodfix.workflow.deploy_repo import deploy_ctx

    try:
        dctx = deploy_ctx(ctx)
        dctx.repo.fetch(dctx.remote)
        found, _ = scan(dctx.repo, dctx.tracking(ctx.cfg.deploy.target), ctx.cfg.deploy.path)
    except ProdfixError:
        return []
    return [(d.image, dict(d.tags)) for d in found if d.image.split(":")[0] == image]


def get_pr(ctx: Ctx, number: int) -> PullRequest:
    return ctx.forge.get_pr(PrNumber(number))


# -- the reconciler ----------------------------------------------------------------------------

# What the service may do for a fix on its own: never an author's tests or proposal, never a
# merge (that takes `next --merge` or the forge's button) — builds and deploy PRs, as `next`.
SERVICE_STEPS = frozenset({"build", "deploy"})
MAX_ROUNDS = 5


def reconcile_fixes(ctx: Ctx, *, advance: bool) -> None:
    """Every fix in flight: one `reconcile_once` (the CLI's `next` step), acting only on
    SERVICE_STEPS when the team asked for it (`[policy] advance-fixes`), and telling the
    repository's `[notify]` channels about long waits and finished fixes."""
    from prodfix.workflow import runstate
    from prodfix.workflow.notices import notifier_for, tell
    from prodfix.workflow.observe import by_fix, observe_repository
    from prodfix.workflow.reconcile import reconcile_once

    notifier = notifier_for(ctx.cfg)
    if not advance and notifier is None:
        return
    names = [n for n, vs in by_fix(observe_repository(ctx, fetch=False)).items()]
    acting = SERVICE_STEPS if advance else frozenset()
    for name in names:
        for _ in range(MAX_ROUNDS):  # as `next` does: look again while something was done
            try:
                outcome = reconcile_once(
                    [ctx], name, merge=False, notifier=notifier, acting=acting, fetch=False
                )
            except ProdfixError:
                break  # the next poll looks again; a stopped run must not block the others
            finally:
                runstate.clear(ctx.repo.path, name)
            if not outcome.acted:
                tell(notifier, outcome, now=time.time())
                break
