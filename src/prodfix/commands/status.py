"""`prodfix status [NAME] [--all] [--json]`: every fix in flight (or one), observed now.

The fixes come from the remotes (fix records, fix branches, pull requests), so every clone on
every machine lists the same fixes with the same states. Inside a repository: its fixes, and
the other clones on this machine those fixes touch. Outside one: every clone this machine has
started a fix in. Exit 1 when a shown step failed, 4 when a repository could not be read.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from prodfix.adapters.store import Store
from prodfix.app import App
from prodfix.commands.common import context
from prodfix.errors import Exit, ProdfixError
from prodfix.output import Reporter, cell_width
from prodfix.types import Sha
from prodfix.workflow import behind
from prodfix.workflow.behind import Behind
from prodfix.workflow.context import Ctx
from prodfix.workflow.observe import RepoView, by_fix, observe_all, related_clones, repo_ctx
from prodfix.workflow.playbooks import State

MARK = {
    State.DONE: "done",
    State.READY: "ready",
    State.WAITING: "waiting",
    State.PENDING: "pending",
    State.FAILED: "FAILED",
    State.SKIPPED: "skipped",
}
JSON_VERSION = 1


def run(app: App, *, name: str | None, all_: bool, as_json: bool) -> int:
    ctxs = _repositories(app, name)
    seen: dict[str, Mapping[str, Sha]] = {}
    fixes = gather(app, name=name, include_finished=all_, ctxs=ctxs, seen=seen)
    lag = deliveries(ctxs, seen)
    if as_json:
        app.out.emit_json(document(fixes, lag))
    elif not fixes:
        if name is not None:
            raise ProdfixError(
                f"no fix named {name!r} in this repository's remote",
                hint="`prodfix status --all` lists every fix, finished ones too",
            )
        app.out.say("no fixes in flight — start one with `prodfix start NAME`")
    else:
        for fix, views in fixes.items():
            render(app.out, fix, views)
    render_deliveries(app.out, ctxs, lag)
    unreadable = {v.path: v.facts.error for vs in fixes.values() for v in vs if v.unreadable}
    for path, why in unreadable.items():
        app.out.error(
            f"cannot read {path}: {why}",
            "check the network and the remote; this is safe to retry",
        )
    return exit_code(fixes)


def deliveries(ctxs: list[Ctx], seen: Mapping[str, Mapping[str, Sha]]) -> list[Behind]:
    """How far each delivery branch of the repositories shown is behind the mainline, from the
    refs the observation read (`seen`, by path); a repository that could not be read shows
    none (its fixes say why)."""
    out: list[Behind] = []
    for ctx in ctxs:
        if ctx.path not in seen:
            continue
        try:
            out += behind.deliveries(ctx.repo, ctx.cfg, now=ctx.clock.now(), refs=seen[ctx.path])
        except ProdfixError:
            continue
    return out


def render_deliveries(out: Reporter, ctxs: list[Ctx], lag: list[Behind]) -> None:
    mainline = {str(c.repo.path): c.cfg.mainline for c in ctxs}
    several = len({b.path for b in lag}) > 1
    for b in lag:
        where = f"{Path(b.path).name}: " if several else ""
        out.say(f"{where}{b.describe(mainline.get(b.path, 'master'))}")
        if b.behind_commits:
            out.say(f"  next: prodfix sync --into {b.branch}")


def gather(
    app: App,
    *,
    name: str | None,
    include_finished: bool,
    ctxs: list[Ctx] | None = None,
    seen: dict[str, Mapping[str, Sha]] | None = None,
) -> dict[str, list[RepoView]]:
    """The fixes to show: observed in this repository (and the clones they touch), or — run
    outside a repository — in every clone this machine knows. `seen` receives the refs read
    per repository of `ctxs`."""
    if ctxs is None:
        ctxs = _repositories(app, name)
    names = [name] if name else None
    views = observe_all(ctxs, names=names, seen=seen)
    here = by_fix(views)
    if ctxs and name is None:
        # The same fixes in the other clones this machine has started them in.
        others = related_clones(ctxs[0], here) if len(ctxs) == 1 else []
        if others:
            here = by_fix(views + observe_all(others, names=list(here)))
    return {
        fix: vs
        for fix, vs in here.items()
        if include_finished or name is not None or not _finished(vs)
    }


def _finished(views: list[RepoView]) -> bool:
    return all(v.done for v in views) and not any(v.unreadable for v in views)


def _repositories(app: App, name: str | None) -> list[Ctx]:
    try:
        ctx = context(app)
    except ProdfixError as exc:
        if "not inside a git repository" not in exc.message:
            raise
        store = Store()
        app.on_close(store.close)
        paths = sorted({r.path for f in store.fixes() for r in store.repos(f)})
        if not paths:
            return []
        base = None
        out: list[Ctx] = []
        for p in paths:
            if not Path(p).is_dir():
                continue
            try:
                if base is None:
                    base = context(app.at(Path(p)))
                    out.append(base)
                else:
                    out.append(repo_ctx(base, p))
            except ProdfixError:
                continue
        return out
    return [ctx]


def document(
    fixes: dict[str, list[RepoView]], lag: list[Behind] | None = None
) -> dict[str, object]:
    """The `status --json` document (version 1); `deliveries` says per delivery branch how far
    it is behind the mainline and when it was last synced."""
    return {
        "version": JSON_VERSION,
        "fixes": [
            {"name": fix, "done": _finished(vs), "repos": [v.to_json() for v in vs]}
            for fix, vs in fixes.items()
        ],
        "deliveries": [b.to_json() for b in lag or []],
    }


def exit_code(fixes: dict[str, list[RepoView]]) -> int:
    views = [v for vs in fixes.values() for v in vs]
    if any(v.unreadable for v in views):
        return Exit.SERVICE
    if any(v.failed for v in views):
        return Exit.FAILED
    return Exit.OK


def render(out: Reporter, fix: str, views: list[RepoView]) -> None:
    step_ids: list[str] = []
    for v in views:
        step_ids += [s.id for s in v.steps if s.id not in step_ids]
    rows = []
    for v in views:
        by_id = {s.id: s for s in v.steps}
        rows.append([v.name, *(MARK[by_id[i].state] if i in by_id else "" for i in step_ids)])
    done = _finished(views)
    what = fix if views[0].seed.kind == "sync" else f"fix {fix}"  # `sync/…` says what it is
    out.table(what + (" — done" if done else ""), ["repository", *step_ids], rows)
    width = max(cell_width(v.name) for v in views)
    for v in views:
        for s in v.steps:
            if s.detail and s.state != State.PENDING:
                pad = " " * (width - cell_width(v.name))
                out.say(f"  {v.name}{pad} {s.id}: {MARK[s.state]} — {s.detail}")
    out.say("")
