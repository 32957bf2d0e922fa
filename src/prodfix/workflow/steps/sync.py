"""The coordinated sync of the mainline into a delivery branch — never part of a fix.

A throwaway head `sync/<delivery>-<short mainline sha>` is cut from delivery and the mainline
merged into it by a merge commit whose message ends with the trailer
`Prodfix-Sync: <who> <why>`; the head is pushed and proposed into delivery by a PR. Merged with
a merge commit (`next --merge`, or the forge's button), delivery's history then holds the
marked merge, which the policy accepts as the planned sync (docs/sync.md). On conflicts the
merge is prepared in the work tree on the sync head and the command stops for the user, as a
back-merge does; `continue` commits the resolution with the same marked message.
"""

from __future__ import annotations

from dataclasses import dataclass

from prodfix.adapters import records
from prodfix.adapters.forge import PullRequest
from prodfix.errors import ProdfixError
from prodfix.policy.facts import SYNC_TRAILER
from prodfix.types import BranchName, Sha, short
from prodfix.workflow import sync_preview
from prodfix.workflow.context import Ctx
from prodfix.workflow.fixrecords import SYNC_PREFIX
from prodfix.workflow.ops import Op
from prodfix.workflow.ops_forge import OpenPr
from prodfix.workflow.ops_git import CreateBranch, Switch
from prodfix.workflow.ops_sync import (
    CreateSyncMerge,
    MergeSyncForResolution,
    PublishSync,
    PushSync,
)
from prodfix.workflow.sync_preview import Preview


def record_name(delivery: str, mainline_tip: str) -> str:
    return f"{delivery}-{short(mainline_tip)}"


def head_for(delivery: str, mainline_tip: str) -> BranchName:
    return BranchName(f"{SYNC_PREFIX}{record_name(delivery, mainline_tip)}")


@dataclass(frozen=True)
class SyncFacts:
    preview: Preview
    who: str  # "Name <email>": the trailer's <who>
    reason: str  # the trailer's <why>
    open_pr: PullRequest | None  # an open sync PR into this delivery branch (any sync head)
    remote_head: Sha | None  # this sync's head on the remote already (an earlier attempt)
    current_branch: BranchName | None
    can_open: bool  # the forge can open PRs with the credentials found

    @property
    def delivery(self) -> BranchName:
        return self.preview.into

    @property
    def head(self) -> BranchName:
        return head_for(self.preview.into, self.preview.mainline_tip)

    @property
    def name(self) -> str:
        return record_name(self.preview.into, self.preview.mainline_tip)

    @property
    def proposed(self) -> bool:
        """This very sync is proposed already: nothing to do."""
        return self.open_pr is not None and self.open_pr.head == self.head

    @property
    def blocked_by(self) -> PullRequest | None:
        """Another sync of this delivery branch is open: one at a time."""
        return None if self.open_pr is None or self.proposed else self.open_pr


def default_reason(p: Preview) -> str:
    return f"planned sync of {p.mainline} at {short(p.mainline_tip)} into {p.into}"


def preview(ctx: Ctx, delivery: str, *, offline: bool = False) -> Preview:
    """After a fetch: what merging the mainline into `delivery` would bring. `offline`
    (--dry-run --no-fetch): the forge is not asked — its read would fetch — so PRs stay
    unknown. All that `sync --dry-run --json` reads."""
    repo, mainline = ctx.repo, ctx.cfg.mainline
    m_tip, d_tip = repo.resolve(ctx.tracking(mainline)), repo.resolve(ctx.tracking(delivery))
    if m_tip is None or d_tip is None:
        missing = mainline if m_tip is None else delivery
        raise ProdfixError(
            f"{ctx.remote}/{missing} is not here",
            hint=f"fetch it (`git fetch {ctx.remote}`), or check `mainline`/`delivery` in "
            ".prodfix.toml",
        )
    asking = not offline and ctx.forge.has_credentials()
    return sync_preview.read(
        repo,
        into=delivery,
        mainline=mainline,
        delivery_tip=d_tip,
        mainline_tip=m_tip,
        merged_prs=(lambda since: ctx.forge.merged_prs(mainline, since=since)) if asking else None,
    )


def gather(ctx: Ctx, delivery: str, *, reason: str | None, offline: bool = False) -> SyncFacts:
    """After a fetch: the preview and the state of this sync (`offline`: as for `preview`)."""
    repo = ctx.repo
    pv = preview(ctx, delivery, offline=offline)
    can_open = ctx.forge.has_credentials()
    prs = ctx.forge.list_prs(state="open") if can_open and not offline else []
    mine = [p for p in prs if p.head.startswith(f"{SYNC_PREFIX}{delivery}-") and p.base == delivery]
    head = head_for(delivery, pv.mainline_tip)
    facts = SyncFacts(
        preview=pv,
        who=_who(ctx),
        reason=" ".join((reason or "").split()) or default_reason(pv),
        open_pr=max(mine, key=lambda p: int(p.number)) if mine else None,
        remote_head=repo.resolve(ctx.tracking(head)),
        current_branch=repo.current_branch(),
        can_open=can_open,
    )
    if needs_work_tree(facts):
        if busy := repo.in_progress():
            raise ProdfixError(
                f"{repo.path} is in the middle of {busy}",
                hint=f"finish or abort {busy} first (`git status` says how)",
            )
        if repo.is_dirty():
            raise ProdfixError(
                "the sync has conflicts to resolve in your work tree, which has uncommitted "
                "changes",
                hint="commit or stash them, then run `prodfix sync` again",
            )
    return facts


def _who(ctx: Ctx) -> str:
    """The trailer's <who>: git's identity. A preview needs none (a CI job may have none)."""
    try:
        return records.who(ctx.repo)
    except ProdfixError:
        if ctx.dry_run:
            return "<your git identity>"
        raise


def needs_work_tree(f: SyncFacts) -> bool:
    return bool(plan(f)) and not f.preview.clean and f.remote_head is None


def message(f: SyncFacts) -> str:
    """The marked merge's message: the trailer is its last paragraph (one line)."""
    p = f.preview
    n = len(p.commits)
    return (
        f"Merge {p.mainline} into {p.into} (sync)\n\n"
        f"Brings {n} commit{'s' if n != 1 else ''} of {p.mainline} (up to "
        f"{short(p.mainline_tip)}) into {p.into}: a planned sync prepared by prodfix.\n\n"
        f"{SYNC_TRAILER}: {f.who} {f.reason}\n"
    )


def title(f: SyncFacts) -> str:
    p = f.preview
    return f"Sync {p.mainline} into {p.into} ({short(p.mainline_tip)})"


def body(f: SyncFacts) -> str:
    p = f.preview
    lines = [
        f"Brings `{p.mainline}` (up to {short(p.mainline_tip)}) into `{p.into}`: a planned "
        "sync, prepared by prodfix.",
        "Merge it with a merge commit — never squash or rebase: the marked merge "
        f"(`{SYNC_TRAILER}:`) must reach `{p.into}`'s history.",
        "",
        "Changes:",
    ]
    for pr, _, commits in p.groups():
        indent = ""
        if pr is not None:
            lines.append(f"- PR #{pr} {p.pr_titles.get(pr, '')}".rstrip())
            indent = "  "
        lines += [f"{indent}- {short(c.sha)} {c.subject} ({c.author})" for c in commits]
    if p.prediction.conflicts:
        lines += ["", "Conflicts (resolved on this branch):"]
        subjects = {c.sha: c.subject for c in p.commits}
        for c in p.prediction.conflicts:
            by = subjects.get(c.introduced_by, "")
            lines.append(f"- `{c.path}` — first from {short(c.introduced_by)} {by}".rstrip())
    if p.ask:
        lines += ["", f"Please check these changes on your side: {', '.join(p.ask)}"]
    lines += [
        "",
        f"Test it before merging: `git switch {f.head}`, then `prodfix test` "
        "(or `prodfix test --ci`).",
    ]
    return "\n".join(lines)


def plan(f: SyncFacts) -> list[Op]:
    """Pure: facts → program. The head and the sync's record are pushed together (PushSync),
    then the PR is opened."""
    p = f.preview
    if not p.commits or f.open_pr is not None:
        return []  # nothing to bring, proposed already, or another sync is open
    record = (f.name, f.head, f.delivery, p.delivery_tip, p.mainline, p.mainline_tip, f.reason)
    propose: list[Op] = (
        [OpenPr(f.head, f.delivery, title(f), body(f), "sync_pr")] if f.can_open else []
    )
    if f.remote_head is not None:
        return [*propose, PublishSync(*record)]  # pushed by an earlier attempt, PR closed
    if p.clean:
        return [
            CreateSyncMerge(f.head, p.delivery_tip, p.mainline, p.mainline_tip, message(f)),
            PushSync(*record),
            *propose,
        ]
    program: list[Op] = [
        CreateBranch(f.head, p.delivery_tip),
        Switch(f.head),
        MergeSyncForResolution(p.mainline, p.mainline_tip, message(f)),
        PushSync(*record),
        *propose,
    ]
    if f.current_branch and f.current_branch != f.head:
        program.append(Switch(f.current_branch))  # back where the user was
    return program
