"""`prodfix start NAME [--from BRANCH]`: the fix branch, at the remote delivery tip (rule 1)."""

from __future__ import annotations

from dataclasses import dataclass

from prodfix.adapters import records
from prodfix.app import App
from prodfix.commands.common import context, require_clean_state
from prodfix.errors import Exit, ProdfixError, RuleRefusal
from prodfix.types import BranchName, Sha
from prodfix.workflow.context import Ctx
from prodfix.workflow.fixrecords import FIXES
from prodfix.workflow.interpreter import execute, refuse_if_suspended
from prodfix.workflow.ops import Op
from prodfix.workflow.ops_git import CreateBranch, RecordFix, SetBranchConfig, Switch
from prodfix.workflow.ops_records import PublishFix
from prodfix.workflow.snapshot import DELIVERY_KEY

MAX_NAME = 100  # characters: a branch name is a file name in .git/refs, and people read it


@dataclass(frozen=True)
class StartFacts:
    name: str
    branch: BranchName
    delivery: BranchName
    delivery_tip: Sha
    kind: str


def gather(ctx: Ctx, name: str, from_: str | None) -> StartFacts:
    cfg, repo, remote = ctx.cfg, ctx.repo, ctx.remote
    branch = cfg.fix_branch(name)
    if len(name) > MAX_NAME:
        raise ProdfixError(
            f"the fix name is {len(name)} characters long; at most {MAX_NAME}",
            hint="use a short name people can say, e.g. `prodfix start npe-in-parser`",
        )
    if not name.strip() or not repo.check_ref_format(branch):
        raise ProdfixError(
            f"{name!r} makes an invalid branch name {branch!r}",
            hint="use letters, digits, '-', '_' and '/', e.g. `prodfix start npe-in-parser`",
        )
    if repo.remote_url(remote) is None:
        raise ProdfixError(
            f"this repository has no remote {remote!r}",
            hint=f"add it (git remote add {remote} URL) or set `remote` in .prodfix.toml",
        )
    if from_ is not None and not cfg.is_delivery(from_):
        raise RuleRefusal(
            f"refusing to start a fix from {from_!r}: rule 1 — a production fix starts from a "
            f"delivery branch ({cfg.delivery}), never from {cfg.mainline}",
            hint="start from the delivery branch that runs in production: "
            f"`prodfix start {name} --from <delivery branch>`",
        )
    records.fetch(repo, remote)
    tracking = {
        ref.removeprefix(f"refs/remotes/{remote}/"): sha
        for ref, sha in repo.refs(f"refs/remotes/{remote}/").items()
        if not ref.endswith("/HEAD")
    }
    if cfg.mainline not in tracking:
        raise cfg.missing_mainline(tracking)
    deliveries = sorted(b for b in tracking if cfg.is_delivery(b))
    if from_ is not None:
        if from_ not in tracking:
            raise ProdfixError(
                f"{remote} has no branch {from_!r}",
                hint=f"delivery branches on {remote}: {', '.join(deliveries) or 'none'}",
            )
        delivery = from_
    elif len(deliveries) == 1:
        delivery = deliveries[0]
    elif not deliveries:
        raise ProdfixError(
            f"no branch on {remote} matches the delivery pattern {cfg.delivery!r} "
            f"(branches: {', '.join(sorted(tracking)) or 'none'})",
            hint="push the delivery branch, or set `delivery` in .prodfix.toml",
        )
    else:
        raise ProdfixError(
            f"several delivery branches on {remote}: {', '.join(deliveries)}",
            hint=f"choose the one that runs the code to fix: `prodfix start {name} --from {deliveries[-1]}`",
        )
    known = records.names(repo.refs(f"{records.mirror(remote)}/{FIXES}/"), remote, FIXES)
    if name in known or branch in tracking:
        rec = records.current(repo, remote, FIXES, name) if name in known else None
        doc = rec.doc if rec else {}
        who = (
            f" (started by {str(doc.get('started_by', '')).split(' <')[0]} at {doc.get('started_at')})"
            if doc
            else ""
        )
        raise ProdfixError(
            f"fix {name!r} already exists on {remote}{who}",
            hint=f"pick it up: `git switch {branch}` then `prodfix next {name}` "
            "(`prodfix status` shows where it stands), or choose another name",
        )
    if repo.resolve(f"refs/heads/{branch}"):
        raise ProdfixError(
            f"branch {branch} already exists in this clone",
            hint=f"pick another name, or delete the branch: git branch -D {branch}",
        )
    return StartFacts(name, branch, BranchName(delivery), tracking[delivery], cfg.kind)


def plan(f: StartFacts) -> list[Op]:
    """Pure: facts → program."""
    return [
        CreateBranch(f.branch, f.delivery_tip),
        SetBranchConfig(f.branch, DELIVERY_KEY, f.delivery),
        RecordFix(f.name, "service", f.kind, f.delivery, f.branch, f.delivery_tip),
        PublishFix(f.name, f.branch, f.delivery, f.delivery_tip, f.kind),
        Switch(f.branch),
    ]


def run(app: App, *, name: str, from_: str | None, dry_run: bool) -> int:
    ctx = context(app, dry_run=dry_run, fix=name)
    require_clean_state(ctx)
    refuse_if_suspended(ctx)
    facts = gather(ctx, name, from_)
    code = execute(ctx, "start", plan(facts))
    if not dry_run and code == Exit.OK:
        ctx.out.say(
            f"started fix {name!r}: {facts.branch} from {ctx.remote}/{facts.delivery} "
            f"at {facts.delivery_tip[:7]}"
        )
        ctx.out.say("next: commit your fix, then `prodfix test` and `prodfix propose`")
    return code
