"""The sync's plan as data: facts in, ops out (no git, no forge)."""

from __future__ import annotations

from dataclasses import replace

from prodfix.adapters.forge import PrState, PullRequest
from prodfix.policy.backmerge import Conflict, Prediction
from prodfix.types import BranchName, PrNumber, Sha
from prodfix.workflow.ops_forge import OpenPr
from prodfix.workflow.ops_git import CreateBranch, Push, Switch
from prodfix.workflow.ops_sync import CreateSyncMerge, MergeSyncForResolution, PublishSync
from prodfix.workflow.steps.sync import SyncFacts, body, message, plan
from prodfix.workflow.sync_preview import Incoming, Preview

D, M = Sha("d" * 40), Sha("e" * 40)
A, B, PR_MERGE = Sha("a" * 40), Sha("b" * 40), Sha("c" * 40)
HEAD = "sync/delivery-eeeeeee"
WHO = "Ada Tester <ada@example.com>"


def preview(*, conflicts: tuple[Conflict, ...] = ()) -> Preview:
    commits = (
        Incoming(A, "ada@example.com", "Ada", "direct", A, ("x.py",)),
        Incoming(B, "carol@example.com", "Carol", "pay", PR_MERGE, ("pay/a.py",), pr=7),
        Incoming(PR_MERGE, "mia@example.com", "Mia", "Merge PR #7", PR_MERGE, (), pr=7),
    )
    p = Prediction(D, M, (A, B, PR_MERGE), clean=not conflicts, conflicts=conflicts)
    return Preview(
        BranchName("delivery"),
        BranchName("master"),
        commits,
        p,
        ("ada@example.com", "carol@example.com", "mia@example.com", "@team-pay"),
        ".github/CODEOWNERS",
        {7: "Payments"},
    )


def facts(**kw: object) -> SyncFacts:
    base = SyncFacts(
        preview=preview(),
        who=WHO,
        reason="monthly sync",
        open_pr=None,
        remote_head=None,
        current_branch=BranchName("fix/other"),
        can_open=True,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def pr(head: str, number: int = 3) -> PullRequest:
    return PullRequest(
        PrNumber(number), "t", BranchName(head), BranchName("delivery"), Sha("f" * 40),
        PrState.OPEN, "u",
    )  # fmt: skip


MSG = (
    "Merge master into delivery (sync)\n\n"
    "Brings 3 commits of master (up to eeeeeee) into delivery: a planned sync prepared by "
    "prodfix.\n\n"
    f"Prodfix-Sync: {WHO} monthly sync\n"
)
PUBLISH = PublishSync(
    "delivery-eeeeeee", HEAD, "delivery", D, "master", M, "monthly sync"
)  # fmt: skip


def test_clean_sync_is_made_without_the_work_tree() -> None:
    f = facts()
    assert message(f) == MSG
    assert plan(f) == [
        CreateSyncMerge(HEAD, D, "master", M, MSG),
        Push(HEAD, "", ""),
        OpenPr(HEAD, "delivery", "Sync master into delivery (eeeeeee)", body(f), "sync_pr"),
        PUBLISH,
    ]


def test_conflicts_stop_on_the_sync_head_and_switch_back_at_the_end() -> None:
    f = facts(preview=preview(conflicts=(Conflict("x.py", A),)))
    assert plan(f) == [
        CreateBranch(HEAD, D),
        Switch(HEAD),
        MergeSyncForResolution("master", M, message(f)),
        Push(HEAD, "", ""),
        OpenPr(HEAD, "delivery", "Sync master into delivery (eeeeeee)", body(f), "sync_pr"),
        PUBLISH,
        Switch("fix/other"),
    ]
    assert "- `x.py` — first from aaaaaaa direct" in body(f)


def test_nothing_to_bring_proposed_already_or_another_sync_open() -> None:
    empty = replace(preview(), commits=())
    assert plan(facts(preview=empty)) == []
    assert plan(facts(open_pr=pr(HEAD))) == []
    other = facts(open_pr=pr("sync/delivery-1234567"))
    assert plan(other) == [] and other.blocked_by is not None and not other.proposed


def test_a_pushed_head_whose_pr_was_closed_is_proposed_again() -> None:
    f = facts(remote_head=Sha("9" * 40))
    assert plan(f) == [
        OpenPr(HEAD, "delivery", "Sync master into delivery (eeeeeee)", body(f), "sync_pr"),
        PUBLISH,
    ]


def test_without_forge_credentials_only_git_happens() -> None:
    assert [type(op).__name__ for op in plan(facts(can_open=False))] == [
        "CreateSyncMerge",
        "Push",
        "PublishSync",
    ]


def test_the_body_groups_by_pr_and_mentions_whom_to_ask() -> None:
    lines = body(facts()).splitlines()
    assert lines[3:8] == [
        "Changes:",
        "- aaaaaaa direct (ada@example.com)",
        "- PR #7 Payments",
        "  - bbbbbbb pay (carol@example.com)",
        "  - ccccccc Merge PR #7 (mia@example.com)",
    ]
    assert (
        "Please check these changes on your side: ada@example.com, carol@example.com, "
        "mia@example.com, @team-pay"
    ) in lines
