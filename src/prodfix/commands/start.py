"""`prodfix start NAME [--from BRANCH]`: the fix branch, at the remote delivery tip (rule 1)."""

from __future__ import annotations

from dataclasses import dataclass

from prodfix.cli import App
from prodfix.commands.common import context, require_clean_state
from prodfix.errors import Exit, ProdfixError, RuleRefusal
from prodfix.types import Sha
from prodfix.workflow.context import Ctx
from prodfix.workflow.interpreter import execute
from prodfix.workflow.ops import Op
from prodfix.workflow.ops_git import CreateBranch, RecordFix, SetBranchConfig, Switch

DELIVERY_KEY = "prodfix-delivery"  # git config branch.<fix>.prodfix-delivery; `check` reads it


@dataclass(frozen=True)
class StartFacts:
    name: str
    branch: str
    delivery: str
    delivery_tip: Sha
    kind: str


def gather(ctx: Ctx, name: str, from_: str | None) -> StartFacts:
    cfg, repo, remote = ctx.cfg, ctx.repo, ctx.remote
    branch = cfg.fix_branch(name)
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
    repo.fetch(remote)
    tracking = {
        ref.removeprefix(f"refs/remotes/{remote}/"): sha
        for ref, sha in repo.refs(f"refs/remotes/{remote}/").items()
        if not ref.endswith("/HEAD")
    }
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
    if repo.resolve(f"refs/heads/{branch}") or branch in tracking:
        raise ProdfixError(
            f"branch {branch} already exists" + (f" on {remote}" if branch in tracking else ""),
            hint="pick another name, or continue that fix: `prodfix status`",
        )
    return StartFacts(name, branch, delivery, tracking[delivery], cfg.kind)


def plan(f: StartFacts) -> list[Op]:
    """Pure: facts → program."""
    return [
        CreateBranch(f.branch, f.delivery_tip),
        SetBranchConfig(f.branch, DELIVERY_KEY, f.delivery),
        RecordFix(f.name, "service", f.kind, f.delivery, f.branch, f.delivery_tip),
        Switch(f.branch),
    ]


def run(app: App, *, name: str, from_: str | None, dry_run: bool) -> int:
    ctx = context(app, dry_run=dry_run, fix=name)
    require_clean_state(ctx)
    facts = gather(ctx, name, from_)
    code = execute(ctx, "start", plan(facts))
    if not dry_run and code == Exit.OK:
        ctx.out.say(
            f"started fix {name!r}: {facts.branch} from {ctx.remote}/{facts.delivery} "
            f"at {facts.delivery_tip[:7]}"
        )
        ctx.out.say("next: commit your fix, then `prodfix test` and `prodfix propose`")
    return code
