"""Propose: push the fix branch and open (or find) its PR into the delivery branch."""

from __future__ import annotations

from dataclasses import dataclass

from prodfix.adapters import records
from prodfix.errors import ProdfixError
from prodfix.types import BranchName, Sha
from prodfix.workflow.context import Ctx
from prodfix.workflow.fixrecords import TESTS, test_updates
from prodfix.workflow.ops import Op
from prodfix.workflow.ops_forge import OpenPr
from prodfix.workflow.ops_records import PushProposal


@dataclass(frozen=True)
class ProposeFacts:
    fix: str
    branch: BranchName
    delivery: BranchName
    head: Sha
    remote_now: Sha | None  # the remote fix branch as read (None: not pushed yet)
    title: str
    commits: tuple[tuple[str, str], ...]  # (short sha, subject), newest first
    mainline: str
    deploys: bool  # the service has a deploy step (the PR body lists it)
    can_open: bool  # the forge can open PRs with the credentials found
    unshared_tests: tuple[Sha, ...]  # the branch's commits tested here, not shared as such
    draft: bool = False


def gather(ctx: Ctx, *, fix: str, branch: str, delivery: str, draft: bool = False) -> ProposeFacts:
    """After a fetch: everything the plan needs; refuses what cannot be proposed."""
    repo = ctx.repo
    remote_now = repo.resolve(ctx.tracking(branch))
    # Someone else's fix picked up here may exist on the remote only: propose what it has.
    head = repo.resolve(f"refs/heads/{branch}") or remote_now
    if head is None:
        raise ProdfixError(f"no branch {branch}", hint="`prodfix status` shows the fix")
    if remote_now and remote_now != head and not repo.is_ancestor(remote_now, head):
        raise ProdfixError(
            f"{ctx.remote}/{branch} has commits that your {branch} does not",
            hint=f"integrate them first: git pull --rebase {ctx.remote} {branch}",
        )
    commits = tuple(
        (c[0], c[1]) for c in repo.log_records("%h\x1f%s", head, f"^{ctx.tracking(delivery)}")
    )
    if not commits:
        raise ProdfixError(
            f"{branch} has no commits beyond {delivery}", hint="commit your fix first"
        )
    branch_shas = repo.rev_list(head, f"^{ctx.tracking(delivery)}")
    sharing = test_updates(repo, ctx.remote, list(branch_shas))
    unshared = tuple(sha for sha in branch_shas if records.ref(TESTS, sha) in sharing)
    return ProposeFacts(
        fix=fix,
        branch=BranchName(branch),
        delivery=BranchName(delivery),
        head=head,
        remote_now=remote_now,
        title=repo.out("log", "-1", "--format=%s", head),
        commits=commits,
        mainline=ctx.cfg.mainline,
        deploys=ctx.cfg.deploy.configured,
        can_open=ctx.forge.has_credentials(),
        unshared_tests=unshared,
        draft=draft,
    )


def pr_body(f: ProposeFacts) -> str:
    lines = [f"Production fix `{f.fix}` into `{f.delivery}` (opened by prodfix).", "", "Commits:"]
    lines += [f"- {sha} {subject}" for sha, subject in f.commits]
    lines += [
        "",
        "Remaining steps:",
        "- [ ] review and merge",
        "- [ ] build on the delivery pipeline",
    ]
    if f.deploys:
        lines.append("- [ ] pin the image tag in every DC of the deploy repository")
    lines.append(f"- [ ] back-merge `{f.delivery}` → `{f.mainline}`")
    return "\n".join(lines)


def plan(f: ProposeFacts) -> list[Op]:
    """Pure: facts → program. Without credentials for the forge only the push happens (the
    command then prints the compare page to open the PR by hand)."""
    program: list[Op] = [
        PushProposal(f.fix, f.branch, f.head, f.remote_now or "", f.unshared_tests)
    ]
    if f.can_open:
        program.append(OpenPr(f.branch, f.delivery, f"[fix] {f.title}", pr_body(f), "pr", f.draft))
    return program
