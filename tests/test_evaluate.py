"""Step states as data: facts in, steps out (no git, no network)."""

from __future__ import annotations

from prodfix.adapters.build import Build, BuildState
from prodfix.adapters.forge import Approval, PrState, PullRequest
from prodfix.types import BranchName, PrNumber, Sha
from prodfix.workflow.discover import FixSeed
from prodfix.workflow.evaluate import evaluate
from prodfix.workflow.facts import RepoFacts
from prodfix.workflow.fixrecords import TestRecord

BASE, HEAD, LAND, TIP = (Sha(c * 40) for c in "abcd")


def facts(kind: str = "python", **kw: object) -> RepoFacts:
    seed = FixSeed("x", BranchName("fix/x"), BranchName("delivery"), BASE, kind)
    f = RepoFacts(seed, local_head=HEAD, delivery_tip=TIP, mainline_tip=TIP, ahead=1)
    for k, v in kw.items():
        setattr(f, k, v)
    return f


def pr(
    state: PrState = PrState.OPEN,
    blockers: tuple[str, ...] = (),
    approvals: int = 0,
    merge_commit: Sha | None = None,
) -> PullRequest:
    return PullRequest(
        PrNumber(7),
        "t",
        BranchName("fix/x"),
        BranchName("delivery"),
        HEAD,
        state,
        "git-pr://o#7",
        approvals=tuple(Approval("ada", "now") for _ in range(approvals)),
        blockers=blockers,
        merge_commit=merge_commit,
    )


def states(f: RepoFacts) -> dict[str, str]:
    return {s.id: s.state.value for s in evaluate(f)}


def test_fresh_fix_tests_are_ready_the_rest_pending() -> None:
    steps = evaluate(facts())
    assert [s.id for s in steps] == [
        "branch",
        "test",
        "propose",
        "merge",
        "build",
        "deploy",
        "backmerge",
    ]
    assert [s.state.value for s in steps] == [
        "done",
        "ready",
        "pending",
        "pending",
        "skipped",
        "skipped",
        "pending",
    ]
    assert steps[4].detail == "no [build] configured"
    assert steps[5].detail == "no [deploy] configured"


def test_go_order_puts_backmerge_before_deploy() -> None:
    assert [s.id for s in evaluate(facts("go"))][-2:] == ["backmerge", "deploy"]


def test_nothing_committed_waits_for_you() -> None:
    steps = evaluate(facts(ahead=0, local_head=BASE))
    assert steps[1].state.value == "waiting" and steps[1].who == "you"


def run_of(result: str, reason: str = "") -> TestRecord:
    return TestRecord(
        HEAD, result, reason, "Ada Tester <ada@example.com>", "2026-11-29T10:00:00Z", "local"
    )


def test_failed_test_stops_the_flow() -> None:
    f = facts(test=run_of("failed", "exit 1: boom"))
    assert states(f)["test"] == "failed"
    assert states(f)["propose"] == "pending"


def test_review_wait_then_ready_to_merge() -> None:
    passed = run_of("passed")
    waiting = evaluate(facts(test=passed, pr=pr(blockers=("needs 1 approval",))))
    assert waiting[3].state.value == "waiting" and "needs 1 approval" in waiting[3].detail
    assert waiting[3].who == "reviewers"
    ready = evaluate(facts(test=passed, pr=pr(approvals=1)))
    assert ready[3].state.value == "ready" and "PR #7 approved" in ready[3].detail
    unreviewed = evaluate(facts(test=passed, pr=pr()))
    assert "PR #7 mergeable" in unreviewed[3].detail


def test_closed_pr_sends_the_fix_back_to_propose() -> None:
    f = facts(test=run_of("passed"), pr=pr(PrState.CLOSED))
    steps = evaluate(f)
    assert (steps[2].state.value, steps[2].detail) == ("ready", "PR #7 was closed; propose again")
    assert (steps[2].pr, steps[2].url) == (7, "git-pr://o#7")
    assert steps[3].state.value == "pending"


def test_deleted_delivery_branch_fails_merge_with_what_to_do() -> None:
    f = facts(test=run_of("passed"), pr=pr(blockers=("needs 1 approval",)), delivery_tip=None)
    merge = evaluate(f)[3]
    assert merge.state.value == "failed"
    assert "delivery is gone from the remote: re-target the PR" in merge.detail


def test_landed_by_hand_counts_as_proposed_and_merged() -> None:
    s = states(facts(landing=LAND))
    assert (s["test"], s["propose"], s["merge"], s["backmerge"]) == (
        "done",
        "done",
        "done",
        "ready",
    )


def test_build_states() -> None:
    def with_build(state: BuildState) -> dict[str, str]:
        b = Build("local-1", state, number=1, url="http://ci/1", image_tag=None)
        return states(facts(landing=LAND, build_configured=True, build=b))

    assert with_build(BuildState.RUNNING)["build"] == "waiting"
    assert with_build(BuildState.FAILURE)["build"] == "failed"
    assert with_build(BuildState.SUCCESS)["build"] == "done"
    assert states(facts(landing=LAND, build_configured=True))["build"] == "ready"


def test_backmerge_done_when_landing_is_in_master() -> None:
    s = states(facts(landing=LAND, backmerged=True))
    assert set(s.values()) <= {"done", "skipped"}


def test_backmerge_pr_of_an_earlier_fix_is_brought_up_to_date_before_review() -> None:
    """A back-merge PR opened for an earlier fix of the branch does not bring this one: the
    step is ready (prodfix moves the PR's head forward), not waiting on a review that would
    have to be given again after the update."""
    open_pr = pr(blockers=("needs 1 approval",))
    behind = evaluate(facts(landing=LAND, backmerge_pr=open_pr))[-1]
    assert (behind.state.value, behind.detail, behind.pr) == (
        "ready",
        f"bring {LAND[:7]} into back-merge PR #7",
        7,
    )
    mine = evaluate(facts(landing=LAND, backmerge_pr=open_pr, backmerge_pr_has_fix=True))[-1]
    assert (mine.state.value, mine.detail) == ("waiting", "PR #7 waiting: needs 1 approval")


def test_failed_backmerge_verification() -> None:
    f = facts(landing=LAND, backmerged=True, backmerge_problems=["lost-fix: a fix is missing"])
    assert states(f)["backmerge"] == "failed"


def test_unreadable_repository_fails_every_step_with_the_reason() -> None:
    steps = evaluate(facts(error="/r is gone"))
    assert {s.state.value for s in steps} == {"failed"}
    assert {s.detail for s in steps} == {"/r is gone"}


def test_details_name_the_configured_mainline() -> None:
    done = evaluate(facts(landing=LAND, backmerged=True, mainline="main"))[-1]
    assert done.detail == f"{LAND[:7]} is in main"
    ready = evaluate(facts(landing=LAND, mainline="trunk"))[-1]
    assert ready.detail == "open the back-merge PR delivery → trunk"


def test_every_step_carries_the_json_fields() -> None:
    b = Build(
        "local-3",
        BuildState.SUCCESS,
        sha=LAND,
        number=3,
        url=None,
        image_tag="d-3",
        started_at="2026-11-29T10:05:00Z",
    )
    f = facts(
        test=run_of("passed"),
        pr=pr(PrState.MERGED, merge_commit=LAND),
        landing=LAND,
        build_configured=True,
        build=b,
        tag="d-3",
    )
    f.since = {"branch": "2026-11-29T09:00:00Z", "test": "2026-11-29T10:00:00Z"}
    doc = {s.id: s.to_json() for s in evaluate(f)}
    for step in doc.values():
        assert set(step) == {"id", "state", "detail", "pr", "url", "sha", "tag", "since"}
    assert doc["branch"]["sha"] == BASE and doc["branch"]["since"] == "2026-11-29T09:00:00Z"
    assert doc["test"]["sha"] == HEAD
    assert (doc["merge"]["pr"], doc["merge"]["sha"]) == (7, LAND)
    assert (doc["build"]["tag"], doc["build"]["since"]) == ("d-3", "2026-11-29T10:05:00Z")
    assert doc["backmerge"]["pr"] is None
