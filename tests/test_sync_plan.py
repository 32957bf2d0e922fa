"""The sync as data: its plan (facts in, ops out) and its steps (facts in, states out) — no
git, no forge."""

from __future__ import annotations

from dataclasses import replace

from prodfix.adapters.forge import PrState, PullRequest
from prodfix.policy.backmerge import Conflict, Prediction
from prodfix.types import BranchName, PrNumber, Sha
from prodfix.workflow.discover import FixSeed
from prodfix.workflow.evaluate import evaluate
from prodfix.workflow.facts import RepoFacts
from prodfix.workflow.fixrecords import TestRecord
from prodfix.workflow.ops import from_json
from prodfix.workflow.ops_forge import OpenPr
from prodfix.workflow.ops_git import CreateBranch, Switch
from prodfix.workflow.ops_sync import (
    CreateSyncMerge,
    MergeSyncForResolution,
    PublishSync,
    PushSync,
    UnpublishSync,
)
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
RECORD = ("delivery-eeeeeee", HEAD, "delivery", D, "master", M, "monthly sync")


def test_clean_sync_is_made_without_the_work_tree() -> None:
    f = facts()
    assert message(f) == MSG
    assert plan(f) == [
        CreateSyncMerge(HEAD, D, "master", M, MSG),
        PushSync(*RECORD),  # the head and the sync's record in one push
        OpenPr(HEAD, "delivery", "Sync master into delivery (eeeeeee)", body(f), "sync_pr"),
    ]


def test_conflicts_stop_on_the_sync_head_and_switch_back_at_the_end() -> None:
    f = facts(preview=preview(conflicts=(Conflict("x.py", A),)))
    assert plan(f) == [
        CreateBranch(HEAD, D),
        Switch(HEAD),
        MergeSyncForResolution("master", M, message(f)),
        PushSync(*RECORD),
        OpenPr(HEAD, "delivery", "Sync master into delivery (eeeeeee)", body(f), "sync_pr"),
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
        PublishSync(*RECORD),  # the head is there already: its record only
    ]


def test_without_forge_credentials_only_git_happens() -> None:
    assert [type(op).__name__ for op in plan(facts(can_open=False))] == [
        "CreateSyncMerge",
        "PushSync",
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


# -- the sync's steps as data (evaluate: facts in, steps out) ----------------------------------


def sync_facts(**kw: object) -> RepoFacts:
    seed = FixSeed(HEAD, BranchName(HEAD), BranchName("delivery"), D, "sync")
    f = RepoFacts(seed, local_head=Sha("9" * 40), delivery_tip=D, mainline_tip=M, ahead=1)
    for k, v in kw.items():
        setattr(f, k, v)
    return f


def steps(f: RepoFacts) -> list[tuple[str, str]]:
    return [(s.id, s.state.value) for s in evaluate(f)]


def sync_pr(state: PrState, merge_commit: Sha | None = None) -> PullRequest:
    return PullRequest(
        PrNumber(3), "t", BranchName(HEAD), BranchName("delivery"), Sha("9" * 40), state, "u",
        merge_commit=merge_commit,
    )  # fmt: skip


def test_a_fresh_sync_is_prepared_and_waits_for_its_tests() -> None:
    f = sync_facts(pr=sync_pr(PrState.OPEN))
    assert steps(f) == [
        ("prepare", "done"),
        ("test", "ready"),
        ("propose", "done"),
        ("merge", "pending"),
        ("build", "skipped"),
        ("deploy", "skipped"),
        ("backmerge", "skipped"),
    ]
    assert evaluate(f)[-1].detail == "a sync needs no back-merge"


def test_a_pushed_sync_without_a_pr_waits_for_you() -> None:
    tested = TestRecord(Sha("9" * 40), "passed", "", "Ada", "2026-11-29T10:00:00Z", "local")
    [_, _, propose, *_] = evaluate(sync_facts(test=tested))
    assert (propose.state.value, propose.who) == ("waiting", "you")
    assert propose.detail == "open its PR into delivery: `prodfix sync --into delivery`"


def test_a_closed_pr_abandons_what_is_left_a_merged_one_does_not() -> None:
    closed = sync_facts(pr=sync_pr(PrState.CLOSED))
    assert steps(closed) == [
        ("prepare", "done"),
        *((s, "skipped") for s in ("test", "propose", "merge", "build", "deploy", "backmerge")),
    ]
    assert evaluate(closed)[3].detail == "abandoned: PR #3 was closed without merging"
    landed = sync_facts(pr=sync_pr(PrState.MERGED, Sha("7" * 40)), landing=Sha("7" * 40))
    assert dict(steps(landed))["merge"] == "done"


def test_a_gone_sync_head_fails_prepare() -> None:
    [prepare, *_] = evaluate(sync_facts(local_head=None))
    assert (prepare.state.value, prepare.detail) == (
        "failed",
        f"{HEAD} is gone locally and on the remote",
    )


def test_an_undo_journal_written_before_pushsync_still_reads() -> None:
    """A record-only undo saved by an earlier prodfix (no `head`) reads as one that leaves the
    head alone; PushSync's undo round-trips with its head."""
    old = {"op": "UnpublishSync", "name": RECORD[0], "branch": HEAD, "delivery": "delivery",
           "record_sha": "9" * 40}  # fmt: skip
    assert from_json(old) == UnpublishSync(RECORD[0], HEAD, "delivery", Sha("9" * 40), "")
    new = UnpublishSync(RECORD[0], HEAD, "delivery", Sha("9" * 40), "8" * 40)
    assert from_json(new.to_json()) == new
    assert new.describe().startswith(f"delete {HEAD} and withdraw its sync record")
