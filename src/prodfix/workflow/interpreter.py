"""One interpreter for every command's program: run, save the rest on a stop, resume, undo.

(git-town's `internal/vm`.) Before the first op the remaining program is saved; after each op
the state is saved again, so a kill -9 at any point leaves a run state `continue` finishes and
`abort` reverses. Local refs are undone from snapshots; external actions by recorded inverses.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from prodfix.clock import CRASH
from prodfix.errors import Exit, ProdfixError
from prodfix.output import Reporter
from prodfix.workflow import runstate
from prodfix.workflow.context import Ctx
from prodfix.workflow.lock import repo_lock
from prodfix.workflow.ops import Op, StopForUser, from_json
from prodfix.workflow.runstate import RunState


def shown(command: str) -> str:
    """A program's name as the user knows it: `next`'s programs are named after their step
    ("next propose" is `prodfix next` at its propose step), the team service's are its own;
    the others are the command line itself (`prodfix pr merge`, `prodfix test --ci`)."""
    if command.startswith("serve-"):
        return f"the team service's {command.removeprefix('serve-')}"
    if command.startswith("next "):
        return f"`prodfix next` ({command.removeprefix('next ')} step)"
    return f"`prodfix {command}`"


def print_program(out: Reporter, program: Sequence[Op]) -> None:
    """The dry-run executor: the same program, printed instead of run."""
    if not program:
        out.say("nothing to do")
    for op in program:
        out.say(f"  would: {op.describe()}")


def refuse_if_suspended(ctx: Ctx) -> None:
    state = runstate.load(ctx.repo.path, ctx.fix)
    if state is not None:
        raise ProdfixError(
            f"{shown(state.command)} stopped in {ctx.repo.path} and is waiting for you"
            + (f": {state.stopped['message']}" if state.stopped else ""),
            hint="finish it with `prodfix continue`, or give it up with `prodfix abort`",
        )


def local_refs(ctx: Ctx) -> dict[str, str]:
    return {k: v for k, v in ctx.repo.refs("refs/heads/").items()}


def execute(ctx: Ctx, command: str, program: Sequence[Op]) -> int:
    if ctx.dry_run:
        print_program(ctx.out, program)
        return Exit.OK
    with repo_lock(ctx.repo.path):
        refuse_if_suspended(ctx)
        state = RunState(
            run_id=uuid.uuid4().hex,
            command=command,
            repo=str(ctx.repo.path),
            fix=ctx.fix,
            remaining=list(program),
            refs_before=local_refs(ctx),
            head_before=ctx.repo.current_branch(),
        )
        ctx.store.journal(
            fix=ctx.fix,
            path=ctx.path,
            command=command,
            run_id=state.run_id,
            kind="begin",
            entry={"program": [o.to_json() for o in program]},
        )
        runstate.save(state)
        return _drive(ctx, state)


def _drive(ctx: Ctx, state: RunState) -> int:
    while state.remaining:
        op = state.remaining[0]
        ctx.out.action(op.describe())
        try:
            inverse = op.run(ctx)
        except ProdfixError as exc:
            if not state.done and not isinstance(exc, StopForUser):
                # Nothing happened yet (a precondition the first op checks, a refusal, the
                # network): there is nothing to continue or abort — the command just failed.
                runstate.clear(ctx.repo.path, state.fix)
                raise
            state.stopped = {"op": op.describe(), "message": exc.message, "hint": exc.hint}
            runstate.save(state)
            raise _suspended(ctx, state, exc) from exc
        except KeyboardInterrupt:
            state.stopped = {"op": op.describe(), "message": "interrupted", "hint": ""}
            runstate.save(state)
            raise ProdfixError(
                f"interrupted during: {op.describe()}",
                hint="`prodfix continue` picks up where it stopped; `prodfix abort` undoes it",
                code=Exit.INTERRUPTED,
            ) from None
        state.remaining.pop(0)
        state.done.append((op, inverse))
        ctx.store.journal(
            fix=ctx.fix,
            path=ctx.path,
            command=state.command,
            run_id=state.run_id,
            kind="op",
            entry={"op": op.to_json(), "inverse": inverse.to_json() if inverse else None},
        )
        runstate.save(state)
        # The crash tests' seam: N counts the command's ops, not one program's (`next` runs
        # several programs in one process; `continue` counts on from the ops already done).
        CRASH.op_done()
    ctx.store.journal(
        fix=ctx.fix or state.fix,
        path=ctx.path,
        command=state.command,
        run_id=state.run_id,
        kind="end",
        entry={
            "refs_before": state.refs_before,
            "refs_after": local_refs(ctx),
            "head_before": state.head_before,
            "head_after": ctx.repo.current_branch(),
        },
    )
    runstate.clear(ctx.repo.path, state.fix)
    return Exit.OK


def _suspended(ctx: Ctx, state: RunState, exc: ProdfixError) -> ProdfixError:
    branch = ctx.repo.current_branch() or "(detached HEAD)"
    where = f"in {ctx.repo.path} on {branch}"
    if isinstance(exc, StopForUser):
        return ProdfixError(f"{exc.message} ({where})", hint=exc.hint, code=exc.code)
    if exc.code == Exit.SERVICE and (not exc.hint or "retry" in exc.hint):
        # Retryable (a service failed): `continue` re-runs the stopped op on fresh facts;
        # running the command again would be refused while the run is suspended.
        hint = "`prodfix continue` retries it on fresh facts; `prodfix abort` undoes what it did"
    elif exc.code == Exit.SERVICE:
        # The op knows better (e.g. a lease lost to someone else's push); its hints say what
        # to do when nothing is suspended ("run the command again"): here that is `continue`.
        hint = exc.hint.replace("run the command again", "`prodfix continue`")
        if "abort" not in hint:
            hint += "; `prodfix abort` undoes what it did"
    else:
        hint = (exc.hint + "; then " if exc.hint else "") + (
            "`prodfix continue` resumes, `prodfix abort` undoes what it did"
        )
    return ProdfixError(
        f"{shown(state.command)} stopped {where}: {exc.message}", hint=hint, code=exc.code
    )


def resume(ctx: Ctx) -> int:
    with repo_lock(ctx.repo.path):
        state = _require_state(ctx)
        ctx.fix = state.fix
        CRASH.completed = len(state.done)
        state.stopped = None
        runstate.save(state)
        code = _drive(ctx, state)
        if state.command.startswith("next"):
            name = f" {state.fix}" if state.fix else ""
            ctx.out.say(f"finished the interrupted step; `prodfix next{name}` goes on with the fix")
        return code


def abort(ctx: Ctx) -> int:
    with repo_lock(ctx.repo.path):
        state = _require_state(ctx)
        ctx.fix = state.fix
        ctx.out.say(f"aborting {shown(state.command)}")
        _abort_own_merge(ctx, state)
        _reverse(
            ctx,
            [inv for _, inv in state.done],
            state.refs_before,
            state.head_before,
            refs_after=None,
        )
        ctx.store.journal(
            fix=state.fix,
            path=ctx.path,
            command=state.command,
            run_id=state.run_id,
            kind="undo",
            entry={"abort": True},
        )
        runstate.clear(ctx.repo.path, state.fix)
        ctx.out.say("aborted: the repository is back where the command started")
        return Exit.OK


def _abort_own_merge(ctx: Ctx, state: RunState) -> None:
    """A run stopped inside its own resolution merge (MergeForResolution) left MERGE_HEAD and
    conflicted files; without `git merge --abort` the switch back to the starting branch fails
    and the resolution branch stays checked out. Only that op's merge: the command refused to
    start with another merge in progress, so this one is prodfix's."""
    from prodfix.workflow.ops_merge import MergeForResolution

    if not state.remaining or not isinstance(state.remaining[0], MergeForResolution):
        return
    if (ctx.repo.git_dir() / "MERGE_HEAD").exists():
        ctx.out.action("abort the unfinished back-merge (git merge --abort)")
        ctx.repo.git("merge", "--abort")


def _require_state(ctx: Ctx) -> RunState:
    """The stopped run to continue or abort: the current fix's, else the one that belongs to
    no fix, else the only one."""
    runs = runstate.all_for(ctx.repo.path)
    if not runs:
        raise ProdfixError(
            f"nothing to continue or abort in {ctx.repo.path}",
            hint="`prodfix status` shows where your fixes are",
        )
    for want in (ctx.fix, None):
        mine = [r for r in runs if r.fix == want]
        if mine:
            return mine[-1]
    if len(runs) == 1:
        return runs[0]
    listed = "; ".join(f"{shown(r.command)} of fix {r.fix}" for r in runs)
    raise ProdfixError(
        f"several commands stopped in {ctx.repo.path}: {listed}",
        hint="switch to the branch of the fix you mean, then `prodfix continue` (or abort)",
    )


def undo_last(ctx: Ctx) -> int:
    """Reverse the last completed command of this repository (of the current fix when known)."""
    with repo_lock(ctx.repo.path):
        refuse_if_suspended(ctx)
        # The last command that changed something: an idempotent re-run (a second `propose`
        # that found its PR) has nothing to reverse and is passed over: `undo` reverses the last
        # command that changed something (docs/commands.md).
        chosen = next(
            (
                (run_id, command, *journal)
                for run_id, command in ctx.store.completed_runs(path=ctx.path, fix=ctx.fix)
                if _has_effect(*(journal := _journal_of(ctx, run_id)))
            ),
            None,
        )
        if chosen is None:
            ctx.out.say("nothing to undo")
            return Exit.OK
        run_id, command, inverses, irreversible, end = chosen
        if ctx.dry_run:
            ctx.out.say(f"would undo {shown(command)}:")
            print_program(ctx.out, [i for i in reversed(inverses) if i])
            return Exit.OK
        ctx.out.say(f"undoing {shown(command)}")
        for what in irreversible:
            ctx.out.warn(f"cannot be undone (it happened outside prodfix's reach): {what}")
        _reverse(
            ctx,
            inverses,
            end.get("refs_before", {}),
            end.get("head_before"),
            refs_after=end.get("refs_after", {}),
        )
        ctx.store.journal(
            fix=ctx.fix, path=ctx.path, command=command, run_id=run_id, kind="undo", entry={}
        )
        ctx.out.say(f"undone: {shown(command)}")
        return Exit.OK


def _has_effect(inverses: list[Op | None], irreversible: list[str], end: dict[str, Any]) -> bool:
    moved = end.get("refs_before") != end.get("refs_after")
    switched = end.get("head_before") != end.get("head_after")
    return any(inverses) or bool(irreversible) or moved or switched


def _journal_of(ctx: Ctx, run_id: str) -> tuple[list[Op | None], list[str], dict[str, Any]]:
    inverses: list[Op | None] = []
    irreversible: list[str] = []
    end: dict[str, Any] = {}
    for kind, entry in ctx.store.journal_entries(path=ctx.path, run_id=run_id):
        if kind == "op":
            op = from_json(entry["op"])
            if not type(op).reversible:
                irreversible.append(op.describe())
            inverses.append(from_json(entry["inverse"]) if entry["inverse"] else None)
        elif kind == "end":
            end = entry
    return inverses, irreversible, end


def _reverse(
    ctx: Ctx,
    inverses: Sequence[Op | None],
    refs_before: dict[str, str],
    head_before: str | None,
    *,
    refs_after: dict[str, str] | None,
) -> None:
    for inv in reversed(inverses):
        if inv is not None:
            ctx.out.action(inv.describe())
            inv.run(ctx)
    _restore_refs(ctx, refs_before, head_before, refs_after)


def _protected(ctx: Ctx, branch: str) -> bool:
    return branch == ctx.cfg.mainline or ctx.cfg.is_delivery(branch)


def _restore_refs(
    ctx: Ctx, before: dict[str, str], head_before: str | None, after: dict[str, str] | None
) -> None:
    """Put local branches back as they were. A branch that moved since the command (someone
    committed on it) is left alone and reported; master and delivery are never rewritten."""
    now = local_refs(ctx)
    if (
        head_before
        and ctx.repo.current_branch() != head_before
        and f"refs/heads/{head_before}" in now
    ):
        r = ctx.repo.git("switch", "--quiet", head_before, check=False)
        if r.returncode != 0:
            ctx.out.warn(f"could not switch back to {head_before}: {r.stderr.strip()}")
    current = ctx.repo.current_branch()
    for ref in sorted(set(now) | set(before)):
        branch = ref.removeprefix("refs/heads/")
        if now.get(ref) == before.get(ref):
            continue
        if after is not None and ref not in before and ref not in after:
            continue  # made later (another fix started since): not this command's business
        if after is not None and now.get(ref) != after.get(ref):
            ctx.out.warn(f"{branch} changed after the command; leaving it as it is")
            continue
        if _protected(ctx, branch):
            ctx.out.warn(f"not rewriting {branch}: prodfix never rewrites master or delivery")
            continue
        if branch == current:
            ctx.out.warn(f"{branch} is checked out; switch away to remove it")
            continue
        if ref in before:
            ctx.out.action(f"reset {branch} to {before[ref][:7]}")
            ctx.repo.git("update-ref", ref, before[ref])
        else:
            ctx.out.action(f"delete branch {branch}")
            ctx.repo.git("update-ref", "-d", ref)
