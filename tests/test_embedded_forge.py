"""The embedded git forge on real repositories: a bare origin and two clones (alice, bob)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from prodfix.adapters.forge import HeadMoved, MergeBlocked, MergeMethod, PrState
from prodfix.adapters.forge.embedded.forge import BaseMoved, EmbeddedForge, find_landing
from prodfix.adapters.git import Repo
from prodfix.errors import Exit, ProdfixError
from prodfix.types import BranchName, PrNumber, Sha
from tests.gitfix import Sandbox, lines, seeded

ADA = "Ada Tester <ada@example.com>"
BOB = "Bob Reviewer <bob@example.com>"
WHEN = datetime(2026, 9, 21, 8, 30, tzinfo=UTC)
FIX, DELIVERY = BranchName("fix/npe"), BranchName("delivery")
BASE_TEXT = ["l1", "l2", "l3", "l4", "l5"]


@dataclass
class World:
    sb: Sandbox
    alice: Path
    bob: Path
    cut: str  # delivery's tip when fix/npe was branched
    fix: str  # fix/npe's tip

    def forge(self, who: str = "alice", *, approvals: int = 1) -> EmbeddedForge:
        repo = Repo(self.alice if who == "alice" else self.bob)
        ident = None if who == "alice" else BOB  # alice: from `git var` (conftest's env)
        return EmbeddedForge(repo, approvals_required=approvals, identity=ident, now=lambda: WHEN)

    def origin_refs(self, prefix: str = "") -> dict[str, str]:
        return {k: v for k, v in self.sb.remote_refs().items() if k.startswith(prefix)}

    def meta(self, n: int) -> dict[str, Any]:
        text = self.sb.g(self.sb.origin, "show", f"refs/prodfix/pulls/{n}/meta:pr.json")
        doc: dict[str, Any] = json.loads(text)
        return doc

    def meta_log(self, n: int) -> list[str]:
        out = self.sb.g(self.sb.origin, "log", "--format=%s", f"refs/prodfix/pulls/{n}/meta")
        return out.splitlines()

    def commit_on(self, clone: Path, branch: str, message: str, files: dict[str, str]) -> str:
        self.sb.g(clone, "fetch", "-q", "origin")
        self.sb.checkout(clone, "-B", branch, f"origin/{branch}")
        sha = self.sb.commit(clone, message, files)
        self.sb.push(clone, branch)
        return sha


def _seed(sb: Sandbox) -> tuple[str, str]:
    """The world of `w`; returns (cut, fix)."""
    sb.init_origin()
    alice = sb.clone("alice")
    sb.commit(alice, "initial", {"app.txt": lines(BASE_TEXT)})
    sb.push(alice, "master")
    sb.g(alice, "branch", "delivery")
    sb.push(alice, "delivery")
    cut = sb.g(alice, "rev-parse", "HEAD")
    sb.checkout(alice, "-b", "fix/npe", "delivery")
    fix = sb.commit(alice, "fix npe", {"app.txt": lines(["l1", "L2 fixed", "l3", "l4", "l5"])})
    sb.push(alice, "fix/npe")
    sb.clone("bob")
    return cut, fix


@pytest.fixture
def w(sandbox: Sandbox) -> World:
    """origin with master, delivery and fix/npe; alice's clone (on fix/npe) and bob's. Built
    once per test process, then copied (tests/gitfix.py `seeded`)."""
    cut, fix = seeded(sandbox, "embedded-forge-world", _seed)
    return World(sandbox, sandbox.root / "alice", sandbox.root / "bob", cut, fix)


def parents(w: World, sha: str) -> list[str]:
    return w.sb.g(w.sb.origin, "rev-list", "--parents", "-n1", sha).split()[1:]


# -- storage and visibility ----------------------------------------------------------------
def test_create_stores_head_and_meta_refs_and_a_second_clone_sees_the_pr(w: World) -> None:
    pr = w.forge().create_pr(FIX, DELIVERY, "Fix NPE", "parser crashed")

    assert (pr.number, pr.state, pr.head_sha) == (1, PrState.OPEN, w.fix)
    assert pr.url == f"git-pr://{w.sb.origin}#1"
    refs = w.origin_refs("refs/prodfix/")
    assert set(refs) == {"refs/prodfix/pulls/1/head", "refs/prodfix/pulls/1/meta"}
    assert refs["refs/prodfix/pulls/1/head"] == w.fix
    assert w.meta(1) == {
        "version": 1,
        "number": 1,
        "title": "Fix NPE",
        "body": "parser crashed",
        "head": "fix/npe",
        "base": "delivery",
        "head_sha": w.fix,
        "state": "open",
        "draft": False,
        "author": ADA,
        "approvals": [],
        "comments": [],
        "merge_commit": None,
        "merge_method": None,
        "created_at": "2026-09-21T08:30:00+00:00",
        "updated_at": "2026-09-21T08:30:00+00:00",
    }
    # The metadata commit has no work-tree footprint: its tree is exactly pr.json.
    assert w.sb.g(w.sb.origin, "ls-tree", "--name-only", "refs/prodfix/pulls/1/meta") == "pr.json"

    seen = w.forge("bob").get_pr(PrNumber(1))
    assert (seen.title, seen.head, seen.base, seen.head_sha) == ("Fix NPE", FIX, DELIVERY, w.fix)
    assert seen.blockers == ("needs 1 approval",)
    assert seen.mergeable is False
    assert [p.number for p in w.forge("bob").list_prs()] == [1]


def test_create_is_idempotent_for_an_open_pr_with_the_same_head_and_base(w: World) -> None:
    first = w.forge().create_pr(FIX, DELIVERY, "Fix NPE", "")
    before = w.origin_refs()
    again = w.forge("bob").create_pr(FIX, DELIVERY, "Another title", "")
    assert again.number == first.number == 1
    assert again.title == "Fix NPE"
    assert w.origin_refs() == before


def test_create_refuses_an_unpushed_head_and_an_empty_proposal(w: World) -> None:
    with pytest.raises(ProdfixError, match="fix/nope is not on origin") as exc:
        w.forge().create_pr(BranchName("fix/nope"), DELIVERY, "t", "")
    assert exc.value.code == Exit.USAGE
    w.sb.g(w.alice, "push", "-q", "origin", f"{w.cut}:refs/heads/fix/empty")
    with pytest.raises(ProdfixError, match="nothing to propose") as exc:
        w.forge().create_pr(BranchName("fix/empty"), DELIVERY, "t", "")
    assert exc.value.code == Exit.FAILED
    assert w.origin_refs("refs/prodfix/") == {}


def test_two_clones_creating_at_once_get_distinct_numbers(w: World) -> None:
    per_clone = 4
    for who, clone in (("a", w.alice), ("b", w.bob)):
        for i in range(per_clone):
            w.sb.g(clone, "push", "-q", "origin", f"{w.fix}:refs/heads/fix/{who}{i}")
    barrier = threading.Barrier(2)
    made: dict[str, list[int]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def create(who: str) -> None:
        forge = w.forge("alice" if who == "a" else "bob")
        barrier.wait()
        try:
            for i in range(per_clone):
                pr = forge.create_pr(BranchName(f"fix/{who}{i}"), DELIVERY, f"{who}{i}", "")
                made[who].append(pr.number)
        except BaseException as exc:  # surfaced below: threads swallow exceptions
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(who,)) for who in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sorted(made["a"] + made["b"]) == list(range(1, 2 * per_clone + 1))
    metas = {k for k in w.origin_refs("refs/prodfix/") if k.endswith("/meta")}
    assert metas == {f"refs/prodfix/pulls/{n}/meta" for n in range(1, 2 * per_clone + 1)}
    for who in ("a", "b"):
        for i, n in enumerate(made[who]):
            assert (w.meta(n)["head"], w.meta(n)["title"]) == (f"fix/{who}{i}", f"{who}{i}")


# -- approvals and merge -------------------------------------------------------------------
def test_approve_then_merge_writes_a_merge_commit_and_records_it(w: World) -> None:
    alice = w.forge()
    alice.create_pr(FIX, DELIVERY, "Fix NPE", "")
    approved = w.forge("bob").approve(PrNumber(1), "looks good")
    assert [a.who for a in approved.approvals] == [BOB]
    assert approved.blockers == () and approved.mergeable is True
    alice_head = w.sb.g(w.alice, "rev-parse", "HEAD")

    merged = alice.merge(PrNumber(1), method=MergeMethod.MERGE, expected_head=Sha(w.fix))

    tip = w.origin_refs()["refs/heads/delivery"]
    assert (merged.state, merged.merge_commit) == (PrState.MERGED, tip)
    assert parents(w, tip) == [w.cut, w.fix]
    assert w.sb.g(w.sb.origin, "log", "-1", "--format=%B", tip) == (
        "Merge pull request #1 from fix/npe\n\nFix NPE"
    )
    assert w.sb.g(w.sb.origin, "log", "-1", "--format=%an <%ae>|%cn <%ce>", tip) == f"{ADA}|{ADA}"
    meta = w.meta(1)
    assert (meta["state"], meta["merge_commit"], meta["merge_method"]) == ("merged", tip, "merge")
    assert meta["approvals"] == [
        {"who": BOB, "when": "2026-09-21T08:30:00+00:00", "head_sha": w.fix}
    ]
    assert meta["comments"] == [
        {"who": BOB, "when": "2026-09-21T08:30:00+00:00", "body": "looks good"}
    ]
    assert w.meta_log(1) == [
        f"PR #1 merged (merge) by {ADA}",
        f"PR #1 approved by {BOB}",
        f"PR #1 opened by {ADA}",
    ]
    # No work tree was used: alice's checkout, index and HEAD are as they were.
    assert w.sb.g(w.alice, "rev-parse", "HEAD") == alice_head
    assert w.sb.g(w.alice, "status", "--porcelain") == ""
    # Merging again is a no-op that reports the merge.
    again = alice.merge(PrNumber(1), method=MergeMethod.MERGE, expected_head=Sha(w.fix))
    assert again.merge_commit == tip and w.origin_refs()["refs/heads/delivery"] == tip


def test_merge_refused_without_approval_and_allowed_when_none_required(w: World) -> None:
    w.forge().create_pr(FIX, DELIVERY, "Fix NPE", "")
    before = w.origin_refs()
    with pytest.raises(MergeBlocked) as exc:
        w.forge().merge(PrNumber(1), method=MergeMethod.MERGE, expected_head=Sha(w.fix))
    assert exc.value.reasons == ["needs 1 approval"]
    assert exc.value.code == Exit.FAILED
    assert w.origin_refs() == before

    merged = w.forge(approvals=0).merge(
        PrNumber(1), method=MergeMethod.MERGE, expected_head=Sha(w.fix)
    )
    assert merged.state is PrState.MERGED
    assert parents(w, w.origin_refs()["refs/heads/delivery"]) == [w.cut, w.fix]


def test_authors_cannot_approve_their_own_pr(w: World) -> None:
    """As on GitHub: with one approval required, a self-approval would make review mean
    nothing. A reviewer's approval counts once, however often it is given."""
    w.forge().create_pr(FIX, DELIVERY, "Fix NPE", "")
    meta_before = w.origin_refs()["refs/prodfix/pulls/1/meta"]
    with pytest.raises(ProdfixError, match="authors cannot approve their own pull requests") as e:
        w.forge().approve(PrNumber(1))
    assert e.value.code == 1
    assert w.origin_refs()["refs/prodfix/pulls/1/meta"] == meta_before  # nothing recorded
    pr = w.forge("bob").approve(PrNumber(1))
    assert [a.who for a in pr.approvals] == [BOB]
    assert w.forge("bob").approve(PrNumber(1)).approvals == pr.approvals  # not counted twice
    assert w.forge(approvals=2).get_pr(PrNumber(1)).blockers == ("needs 1 approval",)


def test_an_approval_stops_counting_when_the_head_moves(w: World) -> None:
    w.forge().create_pr(FIX, DELIVERY, "Fix NPE", "")
    w.forge("bob").approve(PrNumber(1))
    new_head = w.commit_on(w.alice, "fix/npe", "more", {"more.txt": "x\n"})

    pr = w.forge().get_pr(PrNumber(1))
    assert (pr.head_sha, pr.approvals, pr.blockers) == (new_head, (), ("needs 1 approval",))
    with pytest.raises(MergeBlocked, match="needs 1 approval"):
        w.forge().merge(PrNumber(1), method=MergeMethod.MERGE, expected_head=Sha(new_head))
    # The next update records the new head, and the PR's head ref keeps its commits.
    w.forge().comment(PrNumber(1), "pushed a test")
    assert w.meta(1)["head_sha"] == new_head
    assert w.origin_refs()["refs/prodfix/pulls/1/head"] == new_head


def test_merge_raises_head_moved_when_the_branch_moved_after_review(w: World) -> None:
    w.forge().create_pr(FIX, DELIVERY, "Fix NPE", "")
    w.forge("bob").approve(PrNumber(1))
    moved = w.commit_on(w.bob, "fix/npe", "sneaky", {"sneaky.txt": "x\n"})
    before = w.origin_refs()
    with pytest.raises(HeadMoved) as exc:
        w.forge().merge(PrNumber(1), method=MergeMethod.MERGE, expected_head=Sha(w.fix))
    assert exc.value.code == Exit.SERVICE
    assert f"to {moved[:7]}" in exc.value.message
    assert w.origin_refs() == before


def test_a_push_to_the_base_between_plan_and_push_is_never_overwritten(w: World) -> None:
    forge = w.forge(approvals=0)
    forge.create_pr(FIX, DELIVERY, "Fix NPE", "")
    plan = forge.plan_merge(PrNumber(1), method=MergeMethod.MERGE, expected_head=Sha(w.fix))
    assert plan is not None and plan.base_old == w.cut
    theirs = w.commit_on(w.bob, "delivery", "other fix", {"other.txt": "x\n"})
    meta_before = w.origin_refs()["refs/prodfix/pulls/1/meta"]

    with pytest.raises(BaseMoved) as exc:
        forge.execute_merge(plan)

    assert exc.value.code == Exit.SERVICE
    assert w.origin_refs()["refs/heads/delivery"] == theirs
    assert w.origin_refs()["refs/prodfix/pulls/1/meta"] == meta_before
    assert w.meta(1)["state"] == "open"
    # Re-running merges onto the new tip.
    merged = forge.merge(PrNumber(1), method=MergeMethod.MERGE, expected_head=Sha(w.fix))
    assert parents(w, str(merged.merge_commit)) == [theirs, w.fix]


def test_a_comment_racing_a_merge_is_kept_and_the_merge_replanned(w: World) -> None:
    forge = w.forge(approvals=0)
    forge.create_pr(FIX, DELIVERY, "Fix NPE", "")
    plan = forge.plan_merge(PrNumber(1), method=MergeMethod.MERGE, expected_head=Sha(w.fix))
    assert plan is not None
    w.forge("bob").comment(PrNumber(1), "wait, one thing")
    assert forge.execute_merge(plan) is None  # only the metadata moved: plan again
    assert w.origin_refs()["refs/heads/delivery"] == w.cut

    merged = forge.merge(PrNumber(1), method=MergeMethod.MERGE, expected_head=Sha(w.fix))
    assert merged.state is PrState.MERGED
    assert [c["body"] for c in w.meta(1)["comments"]] == ["wait, one thing"]


def test_concurrent_comments_from_two_clones_are_all_kept(w: World) -> None:
    w.forge().create_pr(FIX, DELIVERY, "Fix NPE", "")
    barrier = threading.Barrier(2)

    def talk(who: str) -> None:
        forge = w.forge(who)
        barrier.wait()
        for i in range(3):
            forge.comment(PrNumber(1), f"{who} {i}")

    threads = [threading.Thread(target=talk, args=(who,)) for who in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bodies = sorted(c["body"] for c in w.meta(1)["comments"])
    assert bodies == sorted(f"{who} {i}" for who in ("alice", "bob") for i in range(3))
    assert len(w.meta_log(1)) == 7  # opened + 6 comments, each one link of the chain


def test_a_conflicting_pr_is_reported_and_refused(w: World) -> None:
    w.commit_on(
        w.bob, "delivery", "other l2", {"app.txt": lines(["l1", "L2 other", "l3", "l4", "l5"])}
    )
    w.forge().create_pr(FIX, DELIVERY, "Fix NPE", "")
    w.forge("bob").approve(PrNumber(1))
    pr = w.forge().get_pr(PrNumber(1))
    assert pr.blockers == ("conflicts in: app.txt",) and pr.mergeable is False
    before = w.origin_refs()
    with pytest.raises(MergeBlocked) as exc:
        w.forge().merge(PrNumber(1), method=MergeMethod.MERGE, expected_head=Sha(w.fix))
    assert exc.value.reasons == ["conflicts in: app.txt"]
    assert w.origin_refs() == before


def test_draft_blocks_the_merge(w: World) -> None:
    w.forge().create_pr(FIX, DELIVERY, "Fix NPE", "", draft=True)
    pr = w.forge(approvals=0).get_pr(PrNumber(1))
    assert (pr.draft, pr.blockers) == (True, ("draft",))
    with pytest.raises(MergeBlocked, match="draft"):
        w.forge(approvals=0).merge(PrNumber(1), method=MergeMethod.MERGE, expected_head=Sha(w.fix))


def test_squash_makes_one_commit_with_the_merged_tree(w: World) -> None:
    second = w.commit_on(w.alice, "fix/npe", "fix npe 2", {"b.txt": "b\n"})
    other = w.commit_on(w.bob, "delivery", "other", {"other.txt": "o\n"})
    forge = w.forge(approvals=0)
    forge.create_pr(FIX, DELIVERY, "Fix NPE", "")

    pr = forge.merge(PrNumber(1), method=MergeMethod.SQUASH, expected_head=Sha(second))

    tip = w.origin_refs()["refs/heads/delivery"]
    assert pr.merge_commit == tip and parents(w, tip) == [other]
    expected_tree = w.sb.g(w.alice, "merge-tree", "--write-tree", other, second)
    assert w.sb.g(w.sb.origin, "rev-parse", f"{tip}^{{tree}}") == expected_tree
    assert w.sb.g(w.sb.origin, "log", "-1", "--format=%B", tip) == (
        "Fix NPE (#1)\n\n* fix npe\n* fix npe 2"
    )
    assert w.meta(1)["merge_method"] == "squash"


def test_rebase_replays_each_commit_keeping_authors(w: World) -> None:
    second = w.commit_on(w.alice, "fix/npe", "fix npe 2", {"b.txt": "b\n"})
    other = w.commit_on(w.bob, "delivery", "other", {"app.txt": lines([*BASE_TEXT, "l6"])})
    forge = w.forge(approvals=0, who="bob")
    forge.create_pr(FIX, DELIVERY, "Fix NPE", "")

    pr = forge.merge(PrNumber(1), method=MergeMethod.REBASE, expected_head=Sha(second))

    tip = w.origin_refs()["refs/heads/delivery"]
    log = w.sb.g(w.sb.origin, "log", "--format=%s|%an|%cn", f"{other}..{tip}").splitlines()
    assert log == ["fix npe 2|Ada Tester|Bob Reviewer", "fix npe|Ada Tester|Bob Reviewer"]
    assert parents(w, tip) == [w.sb.g(w.sb.origin, "rev-parse", f"{tip}~1")]
    assert w.sb.g(w.sb.origin, "rev-parse", f"{tip}~2") == other
    assert w.sb.g(w.sb.origin, "show", f"{tip}:app.txt") == "l1\nL2 fixed\nl3\nl4\nl5\nl6"
    assert w.sb.g(w.sb.origin, "show", f"{tip}:b.txt") == "b"
    assert (pr.state, pr.merge_commit, w.meta(1)["merge_method"]) == (PrState.MERGED, tip, "rebase")


def test_rebase_stops_at_a_conflicting_commit(w: World) -> None:
    w.commit_on(
        w.bob, "delivery", "other l2", {"app.txt": lines(["l1", "L2 other", "l3", "l4", "l5"])}
    )
    w.forge().create_pr(FIX, DELIVERY, "Fix NPE", "")
    with pytest.raises(MergeBlocked, match=rf"rebase stops at {w.fix[:7]}: conflicts in: app.txt"):
        w.forge(approvals=0).merge(PrNumber(1), method=MergeMethod.REBASE, expected_head=Sha(w.fix))


# -- merges done elsewhere -----------------------------------------------------------------
def test_a_hand_merge_into_the_base_is_detected_as_merged(w: World) -> None:
    w.forge().create_pr(FIX, DELIVERY, "Fix NPE", "")
    w.commit_on(w.bob, "delivery", "other", {"other.txt": "o\n"})
    by_hand = w.sb.merge(w.bob, "origin/fix/npe", "Merge fix/npe by hand")
    w.sb.push(w.bob, "delivery")

    pr = w.forge().get_pr(PrNumber(1))
    assert (pr.state, pr.merge_commit) == (PrState.MERGED, by_hand)
    assert w.meta(1)["state"] == "open"  # reads never write …
    w.forge().comment(PrNumber(1), "merged by hand, thanks")
    meta = w.meta(1)  # … the next update records what it observed
    assert (meta["state"], meta["merge_commit"], meta["merge_method"]) == ("merged", by_hand, None)
    assert w.forge().find_pr(FIX, DELIVERY) is None
    found = w.forge().find_pr(FIX, DELIVERY, open_only=False)
    assert found is not None and found.number == 1


def test_a_fast_forward_by_hand_lands_on_the_head_itself(w: World) -> None:
    w.forge().create_pr(FIX, DELIVERY, "Fix NPE", "")
    w.sb.g(w.bob, "push", "-q", "origin", f"{w.fix}:refs/heads/delivery")
    assert w.forge().get_pr(PrNumber(1)).merge_commit == w.fix


def test_a_hand_squash_is_detected_by_patch_id(w: World) -> None:
    second = w.commit_on(w.alice, "fix/npe", "fix npe 2", {"b.txt": "b\n"})
    w.forge().create_pr(FIX, DELIVERY, "Fix NPE", "")
    w.sb.g(w.bob, "fetch", "-q", "origin")
    w.sb.checkout(w.bob, "-B", "delivery", "origin/delivery")
    w.sb.g(w.bob, "merge", "-q", "--squash", "origin/fix/npe")
    w.sb.g(w.bob, "commit", "-q", "-m", "Fix NPE (squashed by hand)")
    squash = w.sb.g(w.bob, "rev-parse", "HEAD")
    after = w.sb.commit(w.bob, "later fix", {"later.txt": "l\n"})
    w.sb.push(w.bob, "delivery")

    pr = w.forge().get_pr(PrNumber(1))
    assert (pr.state, pr.merge_commit, pr.head_sha) == (PrState.MERGED, squash, second)
    assert find_landing(Repo(w.alice), after, second) == squash
    assert find_landing(Repo(w.alice), after, w.fix) is None  # a prefix of the branch is not it
    assert find_landing(Repo(w.alice), after, second, patch_equivalent=False) is None


def test_interrupted_merge_base_pushed_meta_still_open_reads_as_merged(w: World) -> None:
    forge = w.forge(approvals=0)
    forge.create_pr(FIX, DELIVERY, "Fix NPE", "")
    plan = forge.plan_merge(PrNumber(1), method=MergeMethod.MERGE, expected_head=Sha(w.fix))
    assert plan is not None
    # What a server without atomic pushes, or a kill between two pushes, leaves behind.
    w.sb.g(w.alice, "push", "-q", "origin", f"{plan.base_new}:refs/heads/delivery")
    assert w.meta(1)["state"] == "open"

    pr = w.forge("bob").get_pr(PrNumber(1))
    assert (pr.state, pr.merge_commit) == (PrState.MERGED, plan.base_new)
    again = forge.merge(PrNumber(1), method=MergeMethod.MERGE, expected_head=Sha(w.fix))
    assert again.merge_commit == plan.base_new
    assert w.origin_refs()["refs/heads/delivery"] == plan.base_new  # no second merge
    w.forge().comment(PrNumber(1), "merged")  # the next update records the observed merge
    assert (w.meta(1)["state"], w.meta(1)["merge_commit"]) == ("merged", plan.base_new)


# -- close, comments, lists ----------------------------------------------------------------
def test_close_and_comment(w: World) -> None:
    w.forge().create_pr(FIX, DELIVERY, "Fix NPE", "")
    w.forge("bob").comment(PrNumber(1), "why not in master first?")
    w.forge().comment(PrNumber(1), "rule 1: delivery first")
    closed = w.forge().close(PrNumber(1))

    assert closed.state is PrState.CLOSED and closed.mergeable is False
    meta = w.meta(1)
    assert meta["state"] == "closed"
    assert [(c["who"], c["body"]) for c in meta["comments"]] == [
        (BOB, "why not in master first?"),
        (ADA, "rule 1: delivery first"),
    ]
    with pytest.raises(ProdfixError, match="cannot merge PR #1: it is closed"):
        w.forge(approvals=0).merge(PrNumber(1), method=MergeMethod.MERGE, expected_head=Sha(w.fix))
    with pytest.raises(ProdfixError, match="cannot approve PR #1: it is closed"):
        w.forge().approve(PrNumber(1))
    assert w.origin_refs()["refs/heads/delivery"] == w.cut


def test_list_find_and_unknown_numbers(w: World) -> None:
    forge = w.forge()
    forge.create_pr(FIX, DELIVERY, "first", "")
    forge.close(PrNumber(1))
    forge.create_pr(FIX, DELIVERY, "second", "")
    w.sb.g(w.alice, "push", "-q", "origin", f"{w.fix}:refs/heads/fix/other")
    forge.create_pr(BranchName("fix/other"), DELIVERY, "third", "")

    assert [p.number for p in forge.list_prs()] == [2, 3]
    assert [(p.number, p.state) for p in forge.list_prs(state="all")] == [
        (1, PrState.CLOSED),
        (2, PrState.OPEN),
        (3, PrState.OPEN),
    ]
    found = forge.find_pr(FIX, DELIVERY)
    assert found is not None and found.title == "second"
    assert forge.find_pr(FIX, BranchName("master")) is None
    assert forge.compare_url(DELIVERY, FIX) is None
    with pytest.raises(ProdfixError, match="there is no PR #9 on origin"):
        forge.get_pr(PrNumber(9))
    with pytest.raises(ProdfixError, match="unknown PR state filter"):
        forge.list_prs(state="merged")


def test_the_pr_keeps_its_commits_when_the_head_branch_is_deleted(w: World) -> None:
    forge = w.forge(approvals=0)
    forge.create_pr(FIX, DELIVERY, "Fix NPE", "")
    w.sb.g(w.alice, "push", "-q", "origin", ":refs/heads/fix/npe")
    pr = forge.get_pr(PrNumber(1))
    assert pr.head_sha == w.fix
    merged = forge.merge(PrNumber(1), method=MergeMethod.MERGE, expected_head=Sha(w.fix))
    assert parents(w, str(merged.merge_commit)) == [w.cut, w.fix]


# -- a write's first try reuses the command's fetch -----------------------------------------


def _fetches(forge: EmbeddedForge, calls: list[str]) -> None:
    """Count the full fetches `forge` makes into `calls`."""
    original = forge.repo.fetch

    def fetch(remote: str, *refspecs: str, prune: bool = True) -> None:
        calls.append(remote)
        original(remote, *refspecs, prune=prune)

    forge.repo.fetch = fetch  # type: ignore[method-assign]


def test_writes_after_a_read_reuse_its_fetch(w: World) -> None:
    """A read fetched: creating, approving and merging after it fetch nothing more (each push
    leases what it changes), and a read after our own push reads our copies, not the remote."""
    mine, calls = w.forge(), []
    _fetches(mine, calls)
    assert mine.list_prs() == []
    pr = mine.create_pr(FIX, DELIVERY, "fix npe", "")
    w.forge("bob").approve(pr.number)  # bob's own command, his own fetch
    assert calls == ["origin"]
    mine.repo.fetched.clear()  # a new command of alice's
    mine.get_pr(pr.number)
    merged = mine.merge(pr.number, method=MergeMethod.MERGE, expected_head=Sha(w.fix))
    assert (merged.state, calls) == (PrState.MERGED, ["origin", "origin"])
    assert mine.get_pr(pr.number).state is PrState.MERGED and len(calls) == 2
    assert w.origin_refs("refs/heads/delivery")["refs/heads/delivery"] == merged.merge_commit


def test_a_number_taken_since_the_read_is_retried_on_a_fresh_fetch(w: World) -> None:
    """Bob opens PR #1 after alice's read: alice's first try (on her read) loses #1 to the
    lease and takes #2 on a fresh fetch; her number never overwrites his."""
    w.sb.g(w.bob, "push", "-q", "origin", f"{w.fix}:refs/heads/fix/bob")
    mine, calls = w.forge(), []
    _fetches(mine, calls)
    mine.list_prs()
    theirs = w.forge("bob").create_pr(BranchName("fix/bob"), DELIVERY, "bob's", "")
    pr = mine.create_pr(FIX, DELIVERY, "fix npe", "")
    assert (theirs.number, pr.number, calls) == (1, 2, ["origin", "origin"])
    assert (w.meta(1)["head"], w.meta(2)["head"]) == ("fix/bob", "fix/npe")


def test_a_pr_opened_since_the_read_is_approved_after_a_fresh_fetch(w: World) -> None:
    """Alice's read does not know PR #1 (opened after it): approving it is not refused on
    that read ("there is no PR #1") but done on a fresh one."""
    reviewer, calls = w.forge("bob"), []
    _fetches(reviewer, calls)
    reviewer.list_prs()
    pr = w.forge().create_pr(FIX, DELIVERY, "fix npe", "")
    approved = reviewer.approve(pr.number)
    assert [a.who for a in approved.approvals] == [BOB] and calls == ["origin", "origin"]


def test_a_refusal_is_judged_on_a_fresh_fetch(w: World) -> None:
    """A write whose first try refuses on the command's earlier read asks the remote again
    before it says so: the refusal stands on what the remote has now."""
    mine, calls = w.forge(), []
    _fetches(mine, calls)
    pr = mine.create_pr(FIX, DELIVERY, "fix npe", "")
    with pytest.raises(ProdfixError, match="authors cannot approve"):
        mine.approve(pr.number)
    assert calls == ["origin", "origin"]
