"""The reconciler: observe a fix in every repository it touches, find each repository's first
step that is not done, and do it when prodfix may. It never sleeps and never decides how to
tell anyone: `next` loops and prints around it, `serve` runs it from a job.

Each step is planned like a command: gather the facts it needs (reads), plan (pure), execute.
Before merging, building or deploying, rule 2 is checked again on the target delivery branch:
no master commit ever reaches a delivery build (exit 3, nothing done).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prodfix.adapters.forge import PrState
from prodfix.errors import Exit, ProdfixError
from prodfix.types import BranchName
from prodfix.workflow import gates
from prodfix.workflow.context import Ctx
from prodfix.workflow.evaluate import Step
from prodfix.workflow.images import ImageIndex
from prodfix.workflow.interpreter import execute
from prodfix.workflow.observe import RepoView, observe_all
from prodfix.workflow.ops import Op
from prodfix.workflow.ops_build import TriggerBuild
from prodfix.workflow.ops_test import RunTests

if TYPE_CHECKING:
    from prodfix.adapters.notify import Notifier
from prodfix.workflow.playbooks import FINISHED, State

REMEDY = {
    "test": "fix the code, commit, then `prodfix test` and `prodfix next`",
    "build": "fix the build on the delivery branch, or retry it: `prodfix next --rebuild`",
    # The merge step fails only when its delivery branch is gone (a closed PR is "propose").
    "merge": "re-target the PR to the delivery branch that runs in production, or abandon the "
    "fix: close its PR and delete its branch",
    "backmerge": "repair the mainline with a follow-up PR that restores the fix, then "
    "`prodfix next`",
}


@dataclass(frozen=True)
class Waiting:
    view: RepoView
    step: Step
    note: str  # what to do, or who can unblock it


@dataclass(frozen=True)
class Failure:
    view: RepoView
    step: Step
    remedy: str


@dataclass(frozen=True)
class Conflict:
    """A back-merge that needs a person: the paths that conflict."""

    delivery: str
    paths: tuple[str, ...]
    url: str | None = None


@dataclass
class Outcome:
    fix: str
    views: list[RepoView]
    acted: list[tuple[RepoView, str]] = field(default_factory=list)  # (repository, step)
    waiting: list[Waiting] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    notifier: Notifier | None = None

    @property
    def done(self) -> bool:
        return bool(self.views) and all(v.done for v in self.views)

    @property
    def code(self) -> int:
        if any(v.unreadable for v in self.views):
            return Exit.SERVICE
        return Exit.FAILED if self.failed else Exit.OK


@dataclass(frozen=True)
class Act:
    program: list[Op]
    command: str


Decision = Act | Waiting | Failure


def reconcile_once(
    ctxs: list[Ctx],
    fix: str,
    *,
    merge: bool,
    rebuild: bool = False,
    dry_run: bool = False,
    notifier: Notifier | None = None,
    acting: frozenset[str] | None = None,
    fetch: bool = True,
) -> Outcome:
    """One look and one round of actions for the fix `fix` in the repositories `ctxs`. A
    back-merge that conflicts is told to `notifier` before its program stops for a person.
    `acting` limits the steps acted on (the team service never runs an author's tests or
    proposes for them); None: every step prodfix may do."""
    views = observe_all(ctxs, names=[fix], fetch=fetch)
    outcome = Outcome(fix, views, notifier=None if dry_run else notifier)
    for v in views:
        step = next((s for s in v.steps if s.state not in FINISHED), None)
        if step is None or v.ctx is None or v.unreadable:
            continue  # an unreadable repository is not a failed step: `code` says 4
        if acting is not None and step.id not in acting and step.state == State.READY:
            outcome.waiting.append(Waiting(v, step, step.detail))
            continue
        decision = decide(v, step, merge=merge, rebuild=rebuild, outcome=outcome)
        if isinstance(decision, Waiting):
            outcome.waiting.append(decision)
        elif isinstance(decision, Failure):
            outcome.failed.append(decision)
        elif decision.program:
            v.ctx.dry_run = dry_run
            v.ctx.out.say(f"{v.name}: {step.id}")
            execute(v.ctx, decision.command, decision.program)
            outcome.acted.append((v, step.id))
    return outcome


def decide(
    v: RepoView, step: Step, *, merge: bool, rebuild: bool, outcome: Outcome | None = None
) -> Decision:
    """What to do about the first unfinished step of one repository (reads what the step's
    plan needs; raises the refusal of a rule)."""
    if step.state == State.FAILED:
        if step.id == "build" and rebuild:
            return _build(v, again=True)
        return Failure(v, step, REMEDY.get(step.id, "see `prodfix status` for the details"))
    if step.state in (State.WAITING, State.PENDING):
        who = f" (who: {step.who})" if step.who else ""
        return Waiting(v, step, f"{step.detail}{who}")
    decision = _READY[step.id](v, step, merge)
    if step.id == "backmerge" and isinstance(decision, Act) and outcome is not None:
        # Told before the program stops for the person who resolves it.
        conflicts = [op for op in decision.program if type(op).__name__ == "MergeForResolution"]
        if conflicts and v.seed.delivery:
            found = Conflict(v.seed.delivery, _conflict_paths(v))
            outcome.conflicts.append(found)
            if outcome.notifier is not None:
                outcome.notifier.backmerge_conflict(found.delivery, found.paths, outcome.fix, None)
    return decision


def _conflict_paths(v: RepoView) -> tuple[str, ...]:
    from prodfix.policy.backmerge import predict

    ctx = v.ctx
    assert ctx is not None and v.seed.delivery
    p = predict(
        ctx.repo, mainline=ctx.tracking(ctx.cfg.mainline), delivery=ctx.tracking(v.seed.delivery)
    )
    return tuple(c.path for c in p.conflicts)


def _test(v: RepoView, step: Step, merge: bool) -> Decision:
    f, ctx = v.facts, v.ctx
    assert ctx is not None
    if f.current_branch != v.seed.branch or f.local_head is None:
        return Waiting(v, step, f"switch to {v.seed.branch} and run `prodfix test`")
    return Act(
        [RunTests(ctx.cfg.test_command, f.local_head, share=f.remote_head is not None)], "next test"
    )


def _propose(v: RepoView, step: Step, merge: bool) -> Decision:
    from prodfix.workflow.steps import propose

    ctx, seed = v.ctx, v.seed
    assert ctx is not None
    if seed.delivery is None:
        return Waiting(v, step, f"name the target: `prodfix check {seed.branch} --into DELIVERY`")
    gates.refuse_proposal(ctx, branch=seed.branch, delivery=seed.delivery)
    facts = propose.gather(ctx, fix=seed.name, branch=seed.branch, delivery=seed.delivery)
    return Act(propose.plan(facts), "next propose")


def _merge(v: RepoView, step: Step, merge: bool) -> Decision:
    from prodfix.workflow.steps.merge import merge_program

    f = v.facts
    if f.pr is None:
        return Waiting(v, step, step.detail)
    if not merge:
        return Waiting(v, step, f"PR #{f.pr.number} is approved: run `prodfix next --merge`")
    _refuse_unless_clean(v, before=f"merge PR #{f.pr.number}")
    return Act(merge_program(int(f.pr.number), f.pr.head_sha, backmerge=False), "next merge")


def _build_ready(v: RepoView, step: Step, merge: bool) -> Decision:
    return _build(v, again=False)


def _build(v: RepoView, *, again: bool) -> Decision:
    f = v.facts
    assert v.seed.delivery and f.delivery_tip
    _refuse_unless_clean(v, before=f"build {v.seed.delivery}")
    return Act([TriggerBuild(v.seed.delivery, f.delivery_tip, again)], "next build")


def _deploy(v: RepoView, step: Step, merge: bool) -> Decision:
    from prodfix.workflow.deploy_repo import deploy_ctx
    from prodfix.workflow.ops_deploy import DeployMergePr
    from prodfix.workflow.steps import deploy

    ctx, f = v.ctx, v.facts
    assert ctx is not None and f.tag
    waves = ctx.cfg.deploy.waves
    wave = int(f.deploy.get("wave", 0))
    pr = f.deploy.get("pr")
    if pr is not None:
        if not merge:
            return Waiting(
                v, step, f"deploy PR #{pr.number} is approved: run `prodfix next --merge`"
            )
        _refuse_unless_clean(v, before=f"deploy {f.tag}")
        return Act([DeployMergePr(int(pr.number), pr.head_sha, tuple(waves[wave]))], "next deploy")
    _refuse_unless_clean(v, before=f"deploy {f.tag}")
    images = _images(ctx)
    d = deploy.Deploy(str(ctx.cfg.deploy.image), f.tag, waves[wave], False, wave, len(waves))
    facts = deploy.gather(ctx, deploy_ctx(ctx), d, images=images)
    for w in facts.plan.warnings:
        ctx.out.warn(w.message)
    if facts.plan.errors:
        raise ProdfixError(
            "; ".join(e.message for e in facts.plan.errors) + "; nothing was changed",
            hint="fix the deploy repository, then `prodfix next`",
            code=Exit.FAILED,
        )
    return Act(deploy.plan(facts), "next deploy")


def _backmerge(v: RepoView, step: Step, merge: bool) -> Decision:
    from prodfix.workflow.steps import backmerge
    from prodfix.workflow.steps.merge import merge_program

    ctx, f = v.ctx, v.facts
    assert ctx is not None and v.seed.delivery and f.landing
    pr = f.backmerge_pr
    if pr is not None and pr.state == PrState.OPEN and ctx.repo.is_ancestor(f.landing, pr.head_sha):
        if not merge:
            return Waiting(
                v, step, f"back-merge PR #{pr.number} is approved: run `prodfix next --merge`"
            )
        return Act(merge_program(int(pr.number), pr.head_sha, backmerge=True), "next backmerge")
    facts = backmerge.gather(ctx, v.seed.delivery)
    backmerge.warn_settings(ctx)
    return Act(backmerge.plan(facts), "next backmerge")


_READY = {
    "test": _test,
    "propose": _propose,
    "merge": _merge,
    "build": _build_ready,
    "deploy": _deploy,
    "backmerge": _backmerge,
}


def _refuse_unless_clean(v: RepoView, *, before: str) -> None:
    f, ctx = v.facts, v.ctx
    assert ctx is not None and v.seed.delivery and f.delivery_tip and f.mainline_tip
    gates.refuse_unless_clean(
        ctx,
        delivery=v.seed.delivery,
        tip=f.delivery_tip,
        mainline_tip=f.mainline_tip,
        before=before,
    )


def _images(ctx: Ctx) -> ImageIndex:
    from prodfix.adapters import records

    refs = ctx.repo.refs(f"{records.mirror(ctx.remote)}/images/")
    deliveries = [
        r.removeprefix(f"refs/remotes/{ctx.remote}/")
        for r in ctx.repo.refs(f"refs/remotes/{ctx.remote}/")
        if ctx.cfg.is_delivery(r.removeprefix(f"refs/remotes/{ctx.remote}/"))
    ]
    return ImageIndex(ctx, refs, deliveries)


def _landed(v: RepoView, head: str) -> bool:
    """Whether the branch's `head` is what reached delivery: merged as it is, or squashed by
    its PR (whose merge commit is not a descendant of the head, though nothing is lost)."""
    f, ctx = v.facts, v.ctx
    assert ctx is not None and f.landing
    pr = f.pr
    if pr is not None and pr.state == PrState.MERGED and pr.head_sha == head:
        return True
    return ctx.repo.is_ancestor(head, f.landing)


def finish_program(v: RepoView) -> list[Op]:
    """Every step of the fix is done in this repository: what prodfix created for it goes —
    the fix branch on the remote (as a forge's auto-delete would), merged `backmerge/*` heads
    of its delivery branch, and its record says when it finished."""
    from prodfix.workflow.fixrecords import FIXES, SYNCS
    from prodfix.workflow.ops_git import DeleteRemoteBranch
    from prodfix.workflow.ops_records import MarkFixDone

    ctx, f, seed = v.ctx, v.facts, v.seed
    assert ctx is not None
    program: list[Op] = []
    if f.remote_head and f.landing and _landed(v, f.remote_head):
        program.append(DeleteRemoteBranch(seed.branch, f.remote_head))
    if f.mainline_tip and seed.delivery:
        prefix = f"refs/remotes/{ctx.remote}/backmerge/{seed.delivery}-"
        heads = {
            r: s
            for r, s in ctx.repo.refs(prefix.rsplit("/", 1)[0] + "/").items()
            if r.startswith(prefix)
        }
        merged = ctx.repo.merged_into(f.mainline_tip, *heads) if heads else set()
        for r, s in sorted(heads.items()):
            if s in merged:
                name = BranchName(r.removeprefix(f"refs/remotes/{ctx.remote}/"))
                program.append(DeleteRemoteBranch(name, s))
    first = seed.record is None or seed.record.done_at is None
    if first and ctx.cfg.build.type == "jenkins" and ctx.cfg.build.fix_job:
        from prodfix.workflow.ops_jenkins import RemoveJobBranch

        # The branch is gone: it leaves the fix job's to-be-built list too (not forever).
        program.append(RemoveJobBranch(ctx.cfg.build.fix_job, seed.branch))
    if seed.record is not None and seed.record.done_at is None:
        sync = seed.kind == "sync"  # a sync's record is named without its `sync/` prefix
        program.append(
            MarkFixDone(seed.record.name if sync else seed.name, SYNCS if sync else FIXES)
        )
    return program
