"""Every command's plan as data: facts in, operations out — no repository, no network.

The plans are pure functions (`workflow/steps/*.py`, `commands/pr.py`); the interpreter runs
what they return. Each case pins the exact program a situation gets.
"""

from __future__ import annotations

import pytest

from prodfix.adapters.forge import MergeBlocked, PrState, PullRequest
from prodfix.adapters.gitops.plan import DcPlan, DeployPlan, FileChange
from prodfix.commands.pr import plan_approve
from prodfix.errors import ProdfixError
from prodfix.policy.backmerge import Conflict, Prediction
from prodfix.types import BranchName, PrNumber, Sha
from prodfix.workflow.discover import FixSeed
from prodfix.workflow.evaluate import Step
from prodfix.workflow.facts import RepoFacts
from prodfix.workflow.observe import RepoView
from prodfix.workflow.ops_deploy import DeployCommit, DeployOpenPr, DeployPush
from prodfix.workflow.ops_forge import ApprovePr, ClosePr, MergePr, OpenPr, VerifyBackmerge
from prodfix.workflow.ops_git import CreateBranch, Push, Switch
from prodfix.workflow.ops_merge import MergeForResolution
from prodfix.workflow.ops_records import PushProposal, RecordImage
from prodfix.workflow.playbooks import State
from prodfix.workflow.reconcile import Failure, Waiting, decide
from prodfix.workflow.steps import backmerge, deploy, propose
from prodfix.workflow.steps.merge import merge_program, require_merge_method

A, B, C, D = (Sha(c * 40) for c in "abcd")


# -- propose ---------------------------------------------------------------------------------


def proposal(**kw: object) -> propose.ProposeFacts:
    base: dict[str, object] = {
        "fix": "npe",
        "branch": BranchName("fix/npe"),
        "delivery": BranchName("delivery"),
        "head": A,
        "remote_now": B,
        "title": "parser: handle a missing line",
        "commits": (("aaaaaaa", "parser: handle a missing line"),),
        "mainline": "master",
        "deploys": True,
        "can_open": True,
        "unshared_tests": (A,),
    }
    base.update(kw)
    return propose.ProposeFacts(**base)  # type: ignore[arg-type]


def test_propose_pushes_the_branch_tests_and_head_in_one_push_then_opens_the_pr() -> None:
    f = proposal()
    assert propose.plan(f) == [
        PushProposal("npe", "fix/npe", A, B, (A,)),
        OpenPr(
            "fix/npe", "delivery", "[fix] parser: handle a missing line", propose.pr_body(f), "pr"
        ),
    ]
    assert "- [ ] pin the image tag in every DC" in propose.pr_body(f)
    assert propose.pr_body(f).endswith("- [ ] back-merge `delivery` → `master`")


def test_propose_without_credentials_only_pushes() -> None:
    plan = propose.plan(proposal(can_open=False, unshared_tests=(), remote_now=None))
    assert plan == [PushProposal("npe", "fix/npe", A, "", ())]


def test_a_draft_is_opened_as_a_draft() -> None:
    (pr,) = [op for op in propose.plan(proposal(draft=True)) if isinstance(op, OpenPr)]
    assert pr.draft is True


# -- back-merge ------------------------------------------------------------------------------


def pr(number: int, head: str, head_sha: Sha, base: str = "master") -> PullRequest:
    return PullRequest(
        PrNumber(number), "t", BranchName(head), BranchName(base), head_sha, PrState.OPEN, "u"
    )


def bm(
    *,
    clean: bool = True,
    pending: bool = True,
    existing: PullRequest | None = None,
    plain: bool = False,
    current: str | None = "fix/npe",
) -> backmerge.BackmergeFacts:
    p = Prediction(
        mainline=A,
        delivery=B,
        commits=(C, B) if pending else (),
        clean=clean,
        conflicts=() if clean else (Conflict("app.py", C),),
    )
    return backmerge.BackmergeFacts(
        delivery=BranchName("delivery"),
        mainline=BranchName("master"),
        prediction=p,
        landings=(("bbbbbbb", "Merge pull request #1 from fix/npe"),),
        subjects={C: "fix: answer 42"},
        existing=existing,
        existing_plain=plain,
        current_branch=BranchName(current) if current else None,
    )


def test_nothing_to_back_merge_is_no_program() -> None:
    assert backmerge.plan(bm(pending=False)) == []


def test_a_clean_back_merge_pushes_a_throwaway_head_and_opens_the_pr() -> None:
    f = bm()
    head = "backmerge/delivery-bbbbbbb"
    assert backmerge.plan(f) == [
        Push(head, B, ""),
        OpenPr(
            head, "master", "Back-merge delivery into master", backmerge.body(f), "backmerge_pr"
        ),
    ]


def test_an_open_back_merge_pr_is_moved_forward_not_duplicated() -> None:
    old = pr(4, "backmerge/delivery-ccccccc", C)
    assert backmerge.plan(bm(existing=old, plain=True)) == [
        Push("backmerge/delivery-ccccccc", B, C)
    ]
    assert backmerge.plan(bm(existing=pr(4, "backmerge/delivery-bbbbbbb", B))) == []


def test_an_open_resolution_pr_that_is_out_of_date_is_replaced() -> None:
    old = pr(4, "backmerge/delivery-ccccccc", D)  # a resolution merge: not a delivery commit
    plan = backmerge.plan(bm(existing=old, plain=False))
    assert plan[0] == ClosePr(4)
    assert plan[1:] == [
        Push("backmerge/delivery-bbbbbbb", B, ""),
        OpenPr(
            "backmerge/delivery-bbbbbbb",
            "master",
            "Back-merge delivery into master",
            backmerge.body(bm(existing=old)),
            "backmerge_pr",
        ),
    ]


def test_conflicts_prepare_a_resolution_branch_and_come_back_where_the_user_was() -> None:
    f = bm(clean=False)
    head = "backmerge/delivery-bbbbbbb"
    message = "Merge delivery into master\n\nBack-merge prepared by prodfix."
    assert backmerge.plan(f) == [
        CreateBranch(head, A),
        Switch(head),
        MergeForResolution("delivery", B, message),
        Push(head, "", ""),
        OpenPr(
            head, "master", "Back-merge delivery into master", backmerge.body(f), "backmerge_pr"
        ),
        Switch("fix/npe"),
    ]
    assert "- `app.py` — first from ccccccc fix: answer 42" in backmerge.body(f)
    assert backmerge.needs_work_tree(f) and not backmerge.needs_work_tree(bm())


# -- merge -----------------------------------------------------------------------------------


def test_merges_are_true_merges_and_back_merges_are_verified() -> None:
    assert merge_program(7, A, backmerge=False) == [MergePr(7, "merge", A)]
    assert merge_program(8, B, backmerge=True) == [MergePr(8, "merge", B), VerifyBackmerge(8)]
    assert merge_program(9, C, backmerge=False, method="squash") == [MergePr(9, "squash", C)]
    with pytest.raises(ProdfixError, match="refusing to squash a back-merge") as exc:
        require_merge_method("squash", backmerge=True)
    assert exc.value.code == 2


def test_pr_approve_plans_one_approval_of_the_head_seen() -> None:
    assert plan_approve(pr(3, "fix/npe", A, base="delivery")) == [ApprovePr(3, A)]
    closed = PullRequest(
        PrNumber(3), "t", BranchName("fix/npe"), BranchName("delivery"), A, PrState.CLOSED, "u"
    )
    with pytest.raises(ProdfixError, match="cannot approve PR #3: it is closed"):
        plan_approve(closed)


def test_pr_merge_refuses_an_unapproved_pr_before_anything_runs() -> None:
    from prodfix.commands.pr import plan_merge

    blocked = PullRequest(
        PrNumber(3),
        "t",
        BranchName("fix/npe"),
        BranchName("delivery"),
        A,
        PrState.OPEN,
        "u",
        blockers=("needs 1 approval",),
    )
    with pytest.raises(MergeBlocked, match="needs 1 approval") as exc:
        plan_merge(None, blocked, None)  # type: ignore[arg-type]
    assert exc.value.code == 1


# -- deploy ----------------------------------------------------------------------------------


def deployment(
    *, changed: bool = True, built: Sha | None = A, unrecorded: bool = False
) -> deploy.DeployFacts:
    d = deploy.Deploy("registry.example.com/team/svc", "delivery-3", ["us1", "eu1"], wave=0)
    dcs = tuple(
        DcPlan(dc, f"apps/{dc}", "change" if changed else "already", ("delivery-2",), (), ())
        for dc in ("us1", "eu1")
    )
    changes = (FileChange("apps/us1/k.yaml", b"a", b"b", ()),) if changed else ()
    return deploy.DeployFacts(
        deploy=d,
        plan=DeployPlan(d.image, d.tag, dcs, changes),
        target="master",
        path_template="apps/{dc}",
        fix="npe",
        remote_branch="",
        built=built,
        unrecorded=unrecorded,
    )


def test_deploy_commits_pushes_and_opens_the_pr_for_the_dcs_that_change() -> None:
    f = deployment()
    spec = (
        "deploy/svc/delivery-3",
        "master",
        f.deploy.image,
        "delivery-3",
        ("us1", "eu1"),
        "apps/{dc}",
        "npe",
    )
    plan = deploy.plan(f)
    assert plan[:2] == [DeployCommit(*spec, False), DeployPush(*spec, False, "")]
    (open_pr,) = plan[2:]
    assert isinstance(open_pr, DeployOpenPr)
    assert (open_pr.head, open_pr.base, open_pr.title) == (
        "deploy/svc/delivery-3",
        "master",
        "Deploy svc:delivery-3 to us1, eu1",
    )
    assert f"Built from delivery commit {A}" in open_pr.body


def test_deploy_records_where_a_tag_came_from_when_only_ci_knew() -> None:
    assert deploy.plan(deployment(unrecorded=True))[0] == RecordImage("delivery-3", A)


def test_nothing_to_deploy_is_no_program() -> None:
    assert deploy.plan(deployment(changed=False)) == []


# -- the reconciler's decisions that need no reads -----------------------------------------


def view(step: Step) -> RepoView:
    seed = FixSeed("npe", BranchName("fix/npe"), BranchName("delivery"), A, "python")
    return RepoView(seed, RepoFacts(seed), [step], None)


def test_a_failed_build_is_a_failure_with_the_rebuild_hint() -> None:
    step = Step("build", State.FAILED, "build #1 failure")
    decision = decide(view(step), step, merge=True, rebuild=False)
    assert isinstance(decision, Failure)
    assert "`prodfix next --rebuild`" in decision.remedy


def test_a_wait_names_who_can_unblock_it() -> None:
    step = Step("merge", State.WAITING, "PR #1 waiting: needs 1 approval", who="reviewers")
    decision = decide(view(step), step, merge=True, rebuild=False)
    assert isinstance(decision, Waiting)
    assert decision.note == "PR #1 waiting: needs 1 approval (who: reviewers)"
