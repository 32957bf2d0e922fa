"""What a job does. Every handler re-reads the current state first and looks before it creates,
so running one twice (a redelivery, a worker killed mid-job) changes nothing the second time.

- `pr`: the policy check of one PR into a delivery branch or the mainline (a check run on
  GitHub; on the embedded forge a recorded verdict and one comment per judged head).
- `push`: a delivery branch moved: open the back-merge PR, or say where it conflicts.
- `refresh`: the poll of one repository: back-merges, policy on open PRs (embedded forge), and
  the dashboard's snapshot.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prodfix.adapters.forge import PrState, PullRequest
from prodfix.errors import ProdfixError
from prodfix.serve import checks, core
from prodfix.serve import snapshot as snap
from prodfix.serve.queue import Job
from prodfix.types import BranchName, PrNumber

if TYPE_CHECKING:
    from prodfix.serve.service import Service
    from prodfix.serve.targets import Target
    from prodfix.workflow.context import Ctx

log = logging.getLogger("prodfix.serve")

# Attempts after which a check that cannot decide is completed red (before: retried quietly).
DECIDE_ATTEMPTS = 3
CONFLICT_MARKER = "<!-- prodfix/backmerge-conflict delivery={delivery} tip={tip} -->"


def run_job(svc: Service, job: Job) -> None:
    target = svc.target(job.repo)
    if target is None:
        log.info("job %d: %s is not served here; ignored", job.id, job.repo)
        return
    installation = job.payload.get("installation")
    if job.kind == "pr":
        handle_pr(svc, target, job, installation)
    elif job.kind == "push":
        ctx = svc.context(target, installation=installation)
        branch = str(job.payload["branch"])
        if ctx.cfg.is_delivery(branch):
            backmerge(svc, target, ctx, branch)
    elif job.kind == "refresh":
        refresh(svc, target, installation)
    else:
        log.warning("job %d: unknown kind %r; ignored", job.id, job.kind)


# -- the policy check ------------------------------------------------------------------------


def handle_pr(svc: Service, target: Target, job: Job, installation: int | None) -> None:
    number = int(job.payload["number"])
    ctx = svc.context(target, installation=installation, pull=number)
    pr = ctx.forge.get_pr(PrNumber(number))  # the PR as it is now, not as the event saw it
    if pr.state != PrState.OPEN:
        return
    mainline = ctx.cfg.mainline
    if pr.base != mainline and not ctx.cfg.is_delivery(pr.base):
        return
    rerun = bool(job.payload.get("rerun")) and job.attempts == 1
    report = _reporter(target, ctx, pr, rerun=rerun)
    report.start()
    try:
        verdict = _judge(ctx, pr)
    except ProdfixError as exc:
        if job.attempts < DECIDE_ATTEMPTS:
            raise  # retried soon, the run stays in progress
        verdict = core.Verdict("failure", (), (), error=exc.message)
    assert verdict is not None
    report.finish(verdict)
    svc.record_policy(
        target.key,
        number,
        pr.head_sha,
        str(pr.base),
        verdict.conclusion,
        [*verdict.findings, *verdict.warnings],
    )


def _judge(ctx: Ctx, pr: PullRequest) -> core.Verdict | None:
    head = pr.head_sha
    if ctx.repo.resolve(head) is None:
        raise ProdfixError(
            f"the PR head {head[:12]} is not in the service's clone",
            hint="the job is retried after the next fetch",
        )
    return core.judge_pr(ctx.repo, ctx.cfg, head_ref=str(pr.head), head_sha=head, base=str(pr.base))


class _Reporter:
    def start(self) -> None: ...
    def finish(self, verdict: core.Verdict) -> None: ...


class _CheckRun(_Reporter):
    """GitHub: one `prodfix/policy` check run per head, found again before one is created."""

    def __init__(self, ctx: Ctx, pr: PullRequest, *, rerun: bool) -> None:
        from prodfix.adapters.forge.github.forge import GitHubForge

        assert isinstance(ctx.forge, GitHubForge)
        self.api = ctx.forge.api
        self.head = pr.head_sha
        self.rerun = rerun
        self.run_id = 0

    def start(self) -> None:
        from prodfix.adapters.forge.github import checks as gc

        # The run of this head found again (a retry, a redelivery, a worker killed mid-job)
        # is completed in place; a re-run the user asked for is a new run, as GitHub expects.
        found = None if self.rerun else gc.find_check_run(self.api, self.head, checks.NAME)
        if found is None:
            self.run_id = gc.create_check_run(self.api, self.head, checks.NAME)
        else:
            self.run_id = int(found["id"])

    def finish(self, verdict: core.Verdict) -> None:
        from prodfix.adapters.forge.github import checks as gc

        gc.complete_check_run(
            self.api,
            self.run_id,
            conclusion=verdict.conclusion,
            title=checks.title(verdict),
            summary=checks.summary(verdict),
            annotations=checks.check_annotations(verdict),
        )


class _Comment(_Reporter):
    """Embedded forge: the verdict is recorded (the dashboard shows it) and said once per head
    and verdict in a PR comment."""

    def __init__(self, ctx: Ctx, pr: PullRequest) -> None:
        self.ctx, self.pr = ctx, pr

    def finish(self, verdict: core.Verdict) -> None:
        body = checks.comment(verdict, self.pr.head_sha)
        if body not in comment_bodies(self.ctx, int(self.pr.number)):
            self.ctx.forge.comment(PrNumber(int(self.pr.number)), body)


def _reporter(target: Target, ctx: Ctx, pr: PullRequest, *, rerun: bool) -> _Reporter:
    if target.github is not None:
        return _CheckRun(ctx, pr, rerun=rerun)
    return _Comment(ctx, pr)


def comment_bodies(ctx: Ctx, number: int) -> list[str]:
    from prodfix.adapters.forge.github.forge import GitHubForge

    forge = ctx.forge
    if isinstance(forge, GitHubForge):
        from prodfix.adapters.forge.github.checks import comment_bodies as bodies

        return bodies(forge.api, number)
    from prodfix.adapters.forge.embedded.store import Store as PrStore

    snap_ = PrStore(ctx.repo, ctx.remote).snapshot()
    stored = snap_.prs.get(number)
    return [c.body for c in stored.record.comments] if stored else []


# -- back-merges -------------------------------------------------------------------------------


def backmerge(svc: Service, target: Target, ctx: Ctx, delivery: str) -> None:
    state = core.predict_backmerge(ctx, delivery)
    if not state.pending:
        return
    if not state.clean:
        _say_conflicts(ctx, state)
        return
    number = core.open_backmerge(ctx, delivery)
    if number is not None and svc.settings.auto_merge_backmerge:
        _auto_merge(ctx, number, state)


def _say_conflicts(ctx: Ctx, state: core.BackmergeState) -> None:
    """On the fix PR that first brings each conflict: the paths and how to resolve them, once
    per delivery state."""
    prs = [p for p in ctx.forge.list_prs(state="all") if p.base == state.delivery]
    by_landing: dict[str, list[str]] = {}
    for c in state.conflicts:
        by_landing.setdefault(c.introduced_by, []).append(c.path)
    marker = CONFLICT_MARKER.format(delivery=state.delivery, tip=state.delivery_tip)
    for landing, paths in sorted(by_landing.items()):
        pr = core.pr_of_landing(prs, landing)
        if pr is None:
            log.info("back-merge conflict from %s: no PR of it found", landing[:12])
            continue
        if any(marker in b for b in comment_bodies(ctx, int(pr.number))):
            continue
        listed = "\n".join(f"- `{p}`" for p in sorted(paths))
        ctx.forge.comment(
            PrNumber(int(pr.number)),
            f"{marker}\nThe back-merge of `{state.delivery}` into `{ctx.cfg.mainline}` will "
            f"conflict, first because of this fix ({landing[:12]}), in:\n\n{listed}\n\n"
            f"Resolve it in a clone: `prodfix backmerge --from {state.delivery}` prepares the "
            "merge from the mainline and stops for you; then `prodfix continue`.",
        )


def _auto_merge(ctx: Ctx, number: int, state: core.BackmergeState) -> None:
    """Merge the back-merge PR when it is exactly the delivery state predicted clean, open,
    mergeable and blocked by nothing (its checks passed)."""
    pr = core.get_pr(ctx, number)
    if pr.state != PrState.OPEN or pr.head_sha != state.delivery_tip:
        return
    if pr.mergeable is not True or pr.blockers or pr.draft:
        log.info(
            "back-merge PR #%d not merged yet: %s", number, "; ".join(pr.blockers) or "waiting"
        )
        return
    core.merge_backmerge(ctx, pr)


# -- the poll ----------------------------------------------------------------------------------


def refresh(svc: Service, target: Target, installation: int | None) -> None:
    ctx = svc.context(target, installation=installation)
    mainline = ctx.cfg.mainline
    branches = _remote_branches(ctx)
    for d in sorted(b for b in branches if ctx.cfg.is_delivery(b)):
        backmerge(svc, target, ctx, d)
    if target.github is None:
        for pr in ctx.forge.list_prs(state="open"):
            if pr.base == mainline or ctx.cfg.is_delivery(pr.base):
                _poll_policy(svc, target, ctx, pr)
    core.reconcile_fixes(ctx, advance=svc.settings.advance_fixes)
    svc.save_snapshot(target.key, observe(svc, target, ctx))


def _remote_branches(ctx: Ctx) -> list[str]:
    prefix = f"refs/remotes/{ctx.remote}/"
    return [r.removeprefix(prefix) for r in ctx.repo.refs(prefix)]


def _poll_policy(svc: Service, target: Target, ctx: Ctx, pr: PullRequest) -> None:
    try:
        verdict = _judge(ctx, pr)
    except ProdfixError as exc:
        verdict = core.Verdict("failure", (), (), error=exc.message)
    if verdict is None:
        return
    changed = svc.record_policy(
        target.key,
        int(pr.number),
        pr.head_sha,
        str(pr.base),
        verdict.conclusion,
        [*verdict.findings, *verdict.warnings],
    )
    if changed:
        _Comment(ctx, pr).finish(verdict)


def observe(svc: Service, target: Target, ctx: Ctx) -> snap.Snapshot:
    seen = core.observe(ctx, svc.store(), display=target.display, remote_url=target.url)
    now = ctx.clock.now()  # PRODFIX_NOW in tests, as for `status`
    doc = snap.empty()
    doc["fixes"] = seen.fixes
    doc["deliveries"] = []
    for b, days, red in seen.deliveries:
        health: snap.DeliveryHealth = {
            "repo": target.key,
            "branch": b,
            "missing_backmerge_days": days,
            "red": red,
        }
        lag = seen.behind.get(b)
        if lag is not None:
            health["mainline"] = ctx.cfg.mainline
            health["behind_commits"] = lag.behind_commits
            health["behind_days"] = lag.behind_days
            health["last_sync"] = lag.last_sync
        doc["deliveries"].append(health)
    doc["backmerge_prs"] = [
        {
            "repo": target.key,
            "number": int(p.number),
            "url": p.url or None,
            "delivery": _delivery_of(p.head),
            "age_s": _age(p.created_at, now),
        }
        for p in core.open_backmerge_prs(ctx)
    ]
    doc["drift"] = [
        {"repo": target.key, "image": image, "tags": tags} for image, tags in core.drift(ctx)
    ]
    doc["updated_at"] = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return doc


def _delivery_of(head: BranchName | str) -> str:
    # backmerge/<delivery>-<short tip>
    name = str(head).removeprefix("backmerge/")
    return name.rsplit("-", 1)[0] if "-" in name else name


def _age(created: str | None, now: float) -> int:
    if not created:
        return 0
    try:
        t = datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0
    return max(0, int(now - t))
