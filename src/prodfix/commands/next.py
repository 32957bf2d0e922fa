"""`prodfix next [NAME] [--wait] [--merge] [--rebuild]`: the reconciler's loop.

`reconcile_once` observes the fix in every repository it touches and does every step prodfix
may do now; this command repeats it while it acts, says what the fix waits for and who can
unblock it, and with --wait keeps looking (a spinner between looks, a line when something
changes) until the fix is done or a step fails. Ctrl-C loses nothing: nothing is kept in
memory that is not observed again.
"""

from __future__ import annotations

from prodfix.app import App
from prodfix.commands.common import context
from prodfix.errors import Exit, ProdfixError
from prodfix.output import Reporter
from prodfix.workflow.context import Ctx
from prodfix.workflow.fixrecords import SYNC_PREFIX
from prodfix.workflow.interpreter import execute, refuse_if_suspended
from prodfix.workflow.notices import notifier_for, tell
from prodfix.workflow.observe import by_fix, observe_repository, related_clones
from prodfix.workflow.reconcile import Outcome, finish_program, reconcile_once

MAX_ROUNDS = 20  # actions in a row without waiting: a bug, not a workflow, if exceeded


def run(
    app: App,
    *,
    name: str | None,
    wait: bool,
    merge: bool,
    rebuild: bool,
    timeout: int,
    interval: int,
    dry_run: bool,
) -> int:
    ctx = context(app, dry_run=dry_run)
    fix = resolve_fix(ctx, name)
    ctx.fix = fix
    refuse_if_suspended(ctx)
    ctxs = [ctx, *related_clones(ctx, [fix])]
    deadline = ctx.clock.monotonic() + timeout
    last_report: list[str] = []
    rounds = 0
    notifier = None if dry_run else notifier_for(ctx.cfg)
    while True:
        outcome = reconcile_once(
            ctxs, fix, merge=merge, rebuild=rebuild, dry_run=dry_run, notifier=notifier
        )
        tell(notifier, outcome, now=ctx.clock.now())
        rebuild = False  # one new build per command, not one per look
        if not outcome.views:
            raise ProdfixError(
                f"no fix named {fix!r} in {ctx.repo.path.name}'s remote",
                hint="`prodfix status` lists the fixes in flight",
            )
        if outcome.acted and not dry_run and (rounds := rounds + 1) < MAX_ROUNDS:
            continue  # observe again: the next step may be ready now
        for v in outcome.views:
            if v.unreadable:
                app.out.error(
                    f"cannot read {v.name}: {v.facts.error}",
                    "check the network and the remote; this is safe to retry",
                )
        if outcome.code == Exit.SERVICE:
            return Exit.SERVICE
        if outcome.failed:
            for fail in outcome.failed:
                app.out.error(
                    f"{fail.view.name}: step {fail.step.id} failed: {fail.step.detail}", fail.remedy
                )
            return Exit.FAILED
        if outcome.done:
            finish(ctx, outcome, dry_run=dry_run)
            what = fix if fix.startswith(SYNC_PREFIX) else f"fix {fix}"
            app.out.say(f"{what} is done: every step of every repository")
            return Exit.OK
        last_report = report(app.out, outcome, last_report)
        if outcome.code == Exit.SERVICE:
            return Exit.SERVICE
        if not wait or dry_run:
            return Exit.OK
        if ctx.clock.monotonic() >= deadline:
            raise ProdfixError(
                f"still waiting after {timeout}s",
                hint="run `prodfix next --wait` again later",
                code=Exit.SERVICE,
            )
        _sleep(ctx, interval, deadline, outcome)
        rounds = 0


def resolve_fix(ctx: Ctx, name: str | None) -> str:
    """NAME; else the fix whose branch is checked out; else the one fix in flight here."""
    if name:
        return name
    branch = ctx.repo.current_branch()
    if branch and (of_branch := ctx.cfg.fix_name(branch)):
        return of_branch
    if branch and branch.startswith(SYNC_PREFIX):
        return branch  # a sync is observed like a fix, named by its head
    in_flight = [
        n for n, vs in by_fix(observe_repository(ctx)).items() if not all(v.done for v in vs)
    ]
    if len(in_flight) == 1:
        return in_flight[0]
    where = f"the current branch ({branch or 'detached HEAD'}) is not a fix branch"
    if branch and branch.startswith("backmerge/"):
        where = f"{branch} is a back-merge branch, not a fix"
    raise ProdfixError(
        where + (f"; fixes in flight: {', '.join(in_flight)}" if in_flight else ""),
        hint="name the fix: `prodfix next NAME` (`prodfix status` lists them)",
    )


def report(out: Reporter, outcome: Outcome, last: list[str]) -> list[str]:
    """Say what the fix waits for — once per change, not every look."""
    lines = [f"{w.view.name}: waiting at {w.step.id}: {w.note}" for w in outcome.waiting]
    if lines != last:
        for line in lines:
            out.say(line)
    return lines


def finish(ctx: Ctx, outcome: Outcome, *, dry_run: bool) -> None:
    """Clean up after a finished fix, once per repository (see `finish_program`)."""
    for v in outcome.views:
        if v.ctx is None:
            continue
        program = finish_program(v)
        if program:
            v.ctx.dry_run = dry_run
            execute(v.ctx, "next finish", program)


def _sleep(ctx: Ctx, interval: int, deadline: float, outcome: Outcome) -> None:
    what = outcome.waiting[0].step.detail if outcome.waiting else "the next step"
    clock = ctx.clock
    with ctx.out.waiting(f"waiting for {what}") as tick:
        end = min(clock.monotonic() + interval, deadline)
        while (left := end - clock.monotonic()) > 0:
            tick(f"waiting for {what} (next look in {left:.0f}s)")
            clock.sleep(min(1.0, left))
