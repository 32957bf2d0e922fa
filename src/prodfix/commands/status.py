"""`prodfix status [NAME] [--json]`: every fix in flight (or one), observed now."""

from __future__ import annotations

from prodfix.adapters.store import Store
from prodfix.cli import App
from prodfix.errors import Exit, ProdfixError
from prodfix.output import Reporter
from prodfix.workflow.observe import RepoView, observe_fixes
from prodfix.workflow.playbooks import State

MARK = {
    State.DONE: "done",
    State.READY: "ready",
    State.WAITING: "waiting",
    State.PENDING: "pending",
    State.FAILED: "FAILED",
    State.SKIPPED: "skipped",
}


def run(app: App, *, name: str | None, as_json: bool) -> int:
    store = Store()
    fixes = store.fixes()
    if name is not None:
        if name not in fixes:
            raise ProdfixError(
                f"no fix named {name!r}",
                hint=f"fixes: {', '.join(fixes) or 'none yet — `prodfix start NAME`'}",
            )
        fixes = [name]
    views = observe_fixes(store, fixes)
    if as_json:
        app.out.emit_json(
            {
                "fixes": [
                    {"name": fix, "repos": [v.to_json() for v in vs]} for fix, vs in views.items()
                ]
            }
        )
        return Exit.OK
    if not fixes:
        app.out.say("no fixes in flight — start one with `prodfix start NAME`")
        return Exit.OK
    for fix, vs in views.items():
        render(app.out, fix, vs)
    return Exit.OK


def render(out: Reporter, fix: str, views: list[RepoView]) -> None:
    if not views:
        out.say(f"fix {fix}: no repositories")
        return
    step_ids: list[str] = []
    for v in views:
        step_ids += [s.id for s in v.steps if s.id not in step_ids]
    rows = []
    for v in views:
        by_id = {s.id: s for s in v.steps}
        rows.append(
            [_repo_name(v), *(MARK[by_id[i].state] if i in by_id else "" for i in step_ids)]
        )
    done = all(v.done for v in views)
    out.table(f"fix {fix}" + (" — done" if done else ""), ["repository", *step_ids], rows)
    for v in views:
        for s in v.steps:
            if s.detail and s.state != State.PENDING:
                out.say(f"  {_repo_name(v)} {s.id}: {MARK[s.state]} — {s.detail}")
    out.say("")


def _repo_name(v: RepoView) -> str:
    return v.rec.path.rstrip("/").rsplit("/", 1)[-1]
