"""`prodfix propose [--draft]`: check, push, open the PR fix → its delivery branch."""

from __future__ import annotations

import webbrowser

from prodfix import output
from prodfix.cli import App
from prodfix.commands.common import context, current_fix, require_clean_state, require_remote
from prodfix.errors import Exit, ProdfixError, RuleRefusal
from prodfix.types import BranchName
from prodfix.workflow.context import Ctx
from prodfix.workflow.interpreter import execute
from prodfix.workflow.ops import Op
from prodfix.workflow.ops_forge import OpenPr
from prodfix.workflow.ops_git import Push


def pr_body(ctx: Ctx, branch: str, delivery: str, head: str) -> str:
    commits = list(
        ctx.repo.log_records("%h\x1f%s", f"{head}", f"^refs/remotes/{ctx.remote}/{delivery}")
    )
    lines = [f"Production fix `{ctx.fix}` into `{delivery}` (opened by prodfix).", "", "Commits:"]
    lines += [f"- {c[0]} {c[1]}" for c in commits]
    lines += [
        "",
        "Remaining steps:",
        "- [ ] review and merge",
        "- [ ] build on the delivery pipeline",
    ]
    if ctx.cfg["deploy.repo"]:
        lines.append("- [ ] pin the image tag in every DC of the deploy repository")
    lines.append(f"- [ ] back-merge `{delivery}` → `{ctx.cfg['mainline']}`")
    return "\n".join(lines)


def gate(ctx: Ctx, branch: str, delivery: str) -> None:
    """Run `check` on the branch first: an error finding refuses (exit 3), showing it."""
    from prodfix.policy.gate import check_repo

    report = check_repo(
        ctx.repo, ctx.cfg, ref=branch, into=delivery, fetch=False, recorded_delivery=delivery
    )
    errors = [f for f in report.findings if f.severity == "error" and f.rule != "missing-backmerge"]
    if errors:
        for f in errors:
            output.error(f"{f.rule}: {f.message}")
        raise RuleRefusal(
            f"{branch} breaks the rules ({', '.join(sorted({f.rule for f in errors}))})",
            hint=f"see `prodfix check {branch} --into {delivery}`; rebuild the branch from {delivery}",
        )


def plan(ctx: Ctx, *, branch: str, delivery: str, draft: bool) -> list[Op]:
    head = ctx.repo.resolve(f"refs/heads/{branch}")
    if head is None:
        raise ProdfixError(f"no local branch {branch}", hint="`prodfix status` shows the fix")
    remote_ref = f"refs/heads/{branch}"
    remote_now = ctx.repo.ls_remote(ctx.remote, remote_ref).get(remote_ref, "")
    if remote_now and remote_now != head and not ctx.repo.is_ancestor(remote_now, head):
        raise ProdfixError(
            f"{ctx.remote}/{branch} has commits that your {branch} does not",
            hint=f"integrate them first: git pull --rebase {ctx.remote} {branch}",
        )
    if ctx.repo.count(head, f"^refs/remotes/{ctx.remote}/{delivery}") == 0:
        raise ProdfixError(
            f"{branch} has no commits beyond {delivery}", hint="commit your fix first"
        )
    title = ctx.repo.out("log", "-1", "--format=%s", head)
    return [
        Push(branch, head, remote_now),
        OpenPr(
            branch, delivery, f"[fix] {title}", pr_body(ctx, branch, delivery, head), "pr", draft
        ),
    ]


def run(app: App, *, draft: bool, web: bool, dry_run: bool) -> int:
    ctx = context(app, dry_run=dry_run)
    require_clean_state(ctx)
    ctx.fix = current_fix(ctx)
    rec = ctx.store.fix_for_branch(ctx.path, ctx.repo.current_branch() or "")
    assert rec is not None and rec.branch and rec.delivery
    require_remote(ctx)
    ctx.repo.fetch(ctx.remote)
    gate(ctx, rec.branch, rec.delivery)
    if ctx.cfg["forge.type"] == "github" and not _has_token(ctx):
        return _compare_only(ctx, rec.branch, rec.delivery, web)
    code = execute(ctx, "propose", plan(ctx, branch=rec.branch, delivery=rec.delivery, draft=draft))
    if code == Exit.OK and not dry_run:
        url = ctx.store.idents(ctx.fix, ctx.path).get("pr_url")
        if web and url and url.startswith("http"):
            webbrowser.open(url)
        output.say("next: get it reviewed, then `prodfix next --merge`")
    return code


def _has_token(ctx: Ctx) -> bool:
    from prodfix.adapters.forge.github_config import has_token

    return has_token(ctx.repo, ctx.cfg)


def _compare_only(ctx: Ctx, branch: str, delivery: str, web: bool) -> int:
    """No token: push, then hand the user the compare page instead of failing (issue 5)."""
    head = ctx.repo.head()
    remote_ref = f"refs/heads/{branch}"
    remote_now = ctx.repo.ls_remote(ctx.remote, remote_ref).get(remote_ref, "")
    code = execute(ctx, "propose", [Push(branch, head, remote_now)])
    url = ctx.forge.compare_url(BranchName(delivery), BranchName(branch))
    from prodfix.adapters.forge.github_config import why_no_token

    missing = why_no_token(ctx.repo, ctx.cfg)
    output.warn(f"{missing.message}; {missing.hint}")
    output.say(f"no GitHub token found: open the PR yourself: {url}")
    if web and url:
        webbrowser.open(url)
    return code
