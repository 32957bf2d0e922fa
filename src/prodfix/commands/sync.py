"""`prodfix sync [--into BRANCH] [--reason TEXT] [--dry-run] [--json] [--no-fetch]`: the
coordinated sync of the mainline into a delivery branch, through a PR (docs/sync.md)."""

from __future__ import annotations

from prodfix.adapters import records
from prodfix.app import App
from prodfix.commands.common import context, require_remote
from prodfix.errors import Exit, ProdfixError
from prodfix.output import Reporter
from prodfix.types import short
from prodfix.workflow.context import Ctx
from prodfix.workflow.interpreter import execute, refuse_if_suspended
from prodfix.workflow.steps import sync
from prodfix.workflow.sync_preview import Preview


def run(
    app: App,
    *,
    into: str | None,
    reason: str | None,
    dry_run: bool,
    as_json: bool,
    fetch: bool = True,
) -> int:
    if as_json and not dry_run:
        raise ProdfixError("--json goes with --dry-run", hint="prodfix sync --dry-run --json")
    ctx = context(app, dry_run=dry_run)
    require_remote(ctx)
    refuse_if_suspended(ctx)
    if fetch:
        records.fetch(ctx.repo, ctx.remote)
    # --dry-run --no-fetch changes no ref at all: not even the forge's read of its PRs.
    offline = dry_run and not fetch
    with ctx.repo.looking():  # the branches listed for --into also give the tips
        delivery = pick_delivery(ctx, into)
        if as_json:  # the preview, nothing of this sync's state
            ctx.out.emit_json(sync.preview(ctx, delivery, offline=offline).to_json())
            return Exit.OK
        facts = sync.gather(ctx, delivery, reason=reason, offline=offline)
    p = facts.preview
    if not p.commits:
        ctx.out.say(f"nothing to sync: {delivery} has every commit of {p.mainline}")
        return Exit.OK
    show(ctx.out, p)
    if facts.proposed and facts.open_pr is not None:
        ctx.out.say(f"the sync PR is open: #{facts.open_pr.number} {facts.open_pr.url}")
        ctx.out.say(
            f"next: test {facts.head} on your side, then `prodfix next {facts.head} --merge`"
        )
        return Exit.OK
    if (other := facts.blocked_by) is not None:
        raise ProdfixError(
            f"another sync of {delivery} is open: PR #{other.number} ({other.head})",
            hint=f"merge it first (`prodfix next {other.head} --merge`) or close it, then "
            f"`prodfix sync --into {delivery}` again",
        )
    code = execute(ctx, "sync", sync.plan(facts))
    if dry_run or code != Exit.OK:
        return code
    number = ctx.vars.get("sync_pr")
    if number is not None:
        ctx.out.say(f"sync PR #{number} into {delivery}: {ctx.vars.get('sync_pr_url')}")
    elif (url := ctx.forge.compare_url(facts.delivery, facts.head)) is not None:
        ctx.out.say(f"open the sync PR: {url}")
    ctx.out.say(
        f"next: test it on your side (`git switch {facts.head}`, then `prodfix test`), "
        f"ask {', '.join(p.ask) or 'the authors'}, then `prodfix next {facts.head} --merge`"
    )
    return Exit.OK


def show(out: Reporter, p: Preview) -> None:
    """What the sync would bring, by merged PR, and whom to ask; the conflict prediction."""
    n = len(p.commits)
    out.say(f"{p.mainline} would bring {n} commit{'s' if n != 1 else ''} into {p.into}:")
    for pr, _, commits in p.groups():
        indent = "  "
        if pr is not None:
            out.say(f"  PR #{pr} {p.pr_titles.get(pr, '')}".rstrip())
            indent = "    "
        for c in commits:
            where = f"  [{', '.join(c.paths)}]" if c.paths else ""
            out.say(f"{indent}{short(c.sha)} {c.subject} ({c.author}){where}")
    if p.ask:
        owners = f" (CODEOWNERS: {p.owners_file})" if p.owners_file else ""
        out.say(f"ask before merging{owners}: {', '.join(p.ask)}")
    if p.clean:
        out.say("prediction: merges cleanly")
        return
    out.say(f"prediction: {len(p.prediction.conflicts)} conflicting path(s)")
    subjects = {c.sha: c.subject for c in p.commits}
    for conflict in p.prediction.conflicts:
        by = subjects.get(conflict.introduced_by, "")
        out.say(f"  {conflict.path}  (first from {short(conflict.introduced_by)} {by})".rstrip())


def pick_delivery(ctx: Ctx, into: str | None) -> str:
    """--into; else the only delivery branch on the remote (several: exit 2 listing them)."""
    cfg, remote = ctx.cfg, ctx.remote
    prefix = f"refs/remotes/{remote}/"
    names = sorted(
        r.removeprefix(prefix)
        for r in ctx.repo.refs(prefix)
        if not r.endswith("/HEAD") and cfg.is_delivery(r.removeprefix(prefix))
    )
    if into is not None:
        if not cfg.is_delivery(into):
            raise ProdfixError(
                f"{into!r} is not a delivery branch ({cfg.delivery}): a sync brings "
                f"{cfg.mainline} into a delivery branch",
                hint=f"name one with --into: {', '.join(names) or 'none found on ' + remote}",
            )
        if into not in names:
            raise ProdfixError(
                f"{remote} has no branch {into!r}",
                hint=f"delivery branches on {remote}: {', '.join(names) or 'none'}",
            )
        return into
    if len(names) == 1:
        return names[0]
    if not names:
        raise ProdfixError(
            f"no branch on {remote} matches the delivery pattern {cfg.delivery!r}",
            hint="push the delivery branch, or set `delivery` in .prodfix.toml",
        )
    raise ProdfixError(
        f"several delivery branches on {remote}: {', '.join(names)}",
        hint=f"choose the one to sync: `prodfix sync --into {names[-1]}`",
    )
