"""`prodfix next [NAME] [--wait] [--merge]`: the reconciler's loop.

Observe → find each repository's first step that is not done → do it if prodfix may → observe
again. Stops at the first step it must wait for and says what it waits for and who can unblock
it. With --wait it keeps polling (spinner, interval, timeout); Ctrl-C loses nothing because
nothing is kept in memory that is not re-observed.
"""

from __future__ import annotations

import time

from prodfix.adapters.store import Store
from prodfix.cli import App
from prodfix.commands.common import context, current_fix
from prodfix.errors import Exit, ProdfixError
from prodfix.output import Reporter
from prodfix.workflow.evaluate import Step
from prodfix.workflow.interpreter import execute
from prodfix.workflow.observe import RepoView, observe_fix
from prodfix.workflow.ops import Op
from prodfix.workflow.ops_build import TriggerBuild
from prodfix.workflow.ops_test import RunTests
from prodfix.workflow.plans import merge_program
from prodfix.workflow.playbooks import FINISHED, State


def run(
    app: App,
    *,
    name: str | None,
    wait: bool,
    merge: bool,
    timeout: int,
    interval: int,
    dry_run: bool,
) -> int:
    if name is None:
        ctx = context(app)
        name = current_fix(ctx)
    store = Store()
    if name not in store.fixes():
        raise ProdfixError(f"no fix named {name!r}", hint="`prodfix status` lists the fixes")
    deadline = time.monotonic() + timeout
    while True:
        views = observe_fix(store, name)
        outcome = advance(app.out, views, merge=merge, dry_run=dry_run)
        if outcome == "acted" and not dry_run:
            continue  # re-observe: the next step may be ready now
        if outcome == "failed":
            return Exit.FAILED
        if all(v.done for v in views):
            finish(views)
            app.out.say(f"fix {name} is done: every step of every repository")
            return Exit.OK
        if not wait or dry_run:
            return Exit.OK
        if time.monotonic() >= deadline:
            raise ProdfixError(
                f"still waiting after {timeout}s",
                hint="run `prodfix next --wait` again later",
                code=Exit.SERVICE,
            )
        _sleep(app.out, interval, deadline, views)


def advance(out: Reporter, views: list[RepoView], *, merge: bool, dry_run: bool) -> str:
    """Do every ready step; return 'acted', 'failed' or 'waiting'."""
    acted = False
    for v in views:
        step = next((s for s in v.steps if s.state not in FINISHED), None)
        if step is None:
            continue
        name = v.rec.path.rstrip("/").rsplit("/", 1)[-1]
        if step.state == State.FAILED:
            out.error(f"{name}: step {step.id} failed: {step.detail}", _remedy(step))
            return "failed"
        program = plan_step(v, step, merge=merge) if step.state == State.READY else None
        if program is None:
            who = f" (who: {step.who})" if step.who else ""
            out.say(f"{name}: waiting at {step.id}: {step.detail}{who}")
            continue
        assert v.ctx is not None
        v.ctx.dry_run = dry_run
        out.say(f"{name}: {step.id}")
        if step.id == "deploy":
            from prodfix.commands.deploy import deploy_for_fix

            deploy_for_fix(v, merge=merge, dry_run=dry_run)
        else:
            execute(v.ctx, f"next {step.id}", program)
        acted = True
    return "acted" if acted else "waiting"


def plan_step(v: RepoView, step: Step, *, merge: bool) -> list[Op] | None:
    ctx, f = v.ctx, v.facts
    assert ctx is not None
    if step.id == "test":
        if ctx.repo.current_branch() != v.rec.branch or f.head is None:
            step_detail = f"switch to {v.rec.branch} and run `prodfix test`"
            ctx.out.say(f"  test: {step_detail}")
            return None
        return [RunTests(ctx.cfg.test_command, f.head)]
    if step.id == "propose":
        from prodfix.commands.propose import gate, plan

        assert v.rec.branch and v.rec.delivery
        gate(ctx, v.rec.branch, v.rec.delivery)
        return plan(ctx, branch=v.rec.branch, delivery=v.rec.delivery, draft=False)
    if step.id == "merge":
        if not merge or f.pr is None:
            ctx.out.say(
                f"  {step.detail.replace('`prodfix next --merge` merges it', 'run `prodfix next --merge`')}"
            )
            return None
        return merge_program(int(f.pr.number), f.pr.head_sha, backmerge=False)
    if step.id == "build":
        assert v.rec.delivery and f.delivery_tip
        return [TriggerBuild(v.rec.delivery, f.delivery_tip)]
    if step.id == "deploy":
        pr = f.deploy.get("pr")
        if pr is not None and not merge:
            return None
        return []
    if step.id == "backmerge":
        if f.backmerge_pr is not None:
            if not merge:
                return None
            return merge_program(
                int(f.backmerge_pr.number), f.backmerge_pr.head_sha, backmerge=True
            )
        from prodfix.commands.backmerge import plan_backmerge

        assert v.rec.delivery
        return plan_backmerge(ctx, v.rec.delivery)
    return None


def finish(views: list[RepoView]) -> None:
    """The fix reached done: remove what prodfix added for it (a Jenkins to-be-built branch)."""
    for v in views:
        if v.ctx is None or v.ctx.cfg.build.type != "jenkins":
            continue
        if "jenkins_fix_branch" in v.facts.idents:
            from prodfix.commands.test_ci import cleanup

            cleanup(v.ctx)


def _remedy(step: Step) -> str:
    return {
        "test": "fix the code, commit, then `prodfix test` and `prodfix next`",
        "build": "fix the build, then `prodfix next` triggers it again",
        "merge": "reopen the PR or `prodfix propose` again",
    }.get(step.id, "see `prodfix status` for the details")


def _sleep(out: Reporter, interval: int, deadline: float, views: list[RepoView]) -> None:
    waiting = [s for v in views for s in v.steps if s.state == State.WAITING]
    what = waiting[0].detail if waiting else "the next step"
    with out.waiting(f"waiting for {what}") as tick:
        end = min(time.monotonic() + interval, deadline)
        while (left := end - time.monotonic()) > 0:
            tick(f"waiting for {what} (next look in {left:.0f}s)")
            time.sleep(min(1.0, left))
