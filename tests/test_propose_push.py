"""`propose` pushes the fix branch, this clone's test results of its commits and the proposed
head in the fix's record in one atomic push, then opens the PR. Every clone sees all three or
none; a rerun after the push reached the remote finishes the step and undoes like an
uninterrupted run. Someone else's test result is replaced only by a newer one (and every clone
shows the newer), someone else's change to the fix record is kept; two clones agree.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.cli import prodfix, prodfix_proc
from tests.gitfix import Sandbox
from tests.scenario import (
    World,
    fix_committed,
    interrupt_after_the_next_push,
    log_pushes,
    prs,
    remote_refs,
    run_states,
    service_world,
)
from tests.team import make_team, pr_list, steps

FIX = "refs/prodfix/fixes/npe"


def _tested_offline(tmp_path: Path) -> tuple[World, str]:
    """A committed fix whose test result stays in the clone: the remote was unreachable when
    `prodfix test` tried to share it."""
    w = service_world(Sandbox(tmp_path / "sb"))
    fix_committed(w)
    away = w.sb.origin.with_name("away.git")
    os.rename(w.sb.origin, away)
    r = w.ok("test")
    os.rename(away, w.sb.origin)
    assert "test result kept in this clone only" in r.err
    head = w.sb.g(w.work, "rev-parse", "HEAD")
    assert f"refs/prodfix/tests/{head}" not in w.sb.refs(w.sb.origin)
    return w, head


def _someone(w: World, ref: str, doc: dict[str, Any], parent: str | None = None) -> str:
    """Someone else's record at `ref` in the remote (a commit holding record.json)."""
    o = w.sb.origin
    blob = w.sb.g(o, "hash-object", "-w", "--stdin", input=json.dumps(doc) + "\n")
    tree = w.sb.g(o, "mktree", input=f"100644 blob {blob}\trecord.json\n")
    sha = w.sb.g(o, "commit-tree", tree, *(["-p", parent] if parent else []), input="theirs\n")
    w.sb.g(o, "update-ref", ref, sha, parent or "")
    return sha


def test_one_push_carries_the_branch_its_tests_and_the_proposed_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, head = _tested_offline(tmp_path)
    pushes = log_pushes(monkeypatch)
    r = w.ok("propose")
    assert f"push fix/npe ({head[:7]}), the test results of {head[:7]} and the proposed" in r.out
    tests = f"refs/prodfix/tests/{head}"
    assert pushes == [
        sorted(["refs/heads/fix/npe", FIX, tests]),
        ["refs/prodfix/pulls/1/head", "refs/prodfix/pulls/1/meta"],  # the PR (embedded forge)
    ]
    remote = remote_refs(w.sb, w.sb.origin)
    assert remote["refs/heads/fix/npe"] == head
    assert remote[FIX]["head"] == head
    assert remote[tests]["result"] == "passed"
    assert prs(w.sb, w.sb.origin)[1]["state"] == "open"
    # proposing again pushes nothing: the remote has all three
    pushes.clear()
    assert w.ok("propose") and pushes == []


def test_a_rerun_after_the_push_reached_the_remote_ends_as_an_uninterrupted_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted right after the remote took the push, before prodfix knew it: `continue`
    runs the op again, finds its own push, opens the PR; the remote is then exactly as an
    uninterrupted run leaves it, and `undo` puts the branch back where `start` left it."""
    plain, _ = _tested_offline(tmp_path / "plain")
    plain.ok("propose")
    w, head = _tested_offline(tmp_path / "cut")
    base = w.sb.g(w.sb.origin, "rev-parse", "refs/heads/fix/npe")
    interrupt_after_the_next_push(monkeypatch)
    r = prodfix(w.work, "propose")
    assert r.code == 130, r.out + r.err
    assert w.sb.g(w.sb.origin, "rev-parse", "refs/heads/fix/npe") == head
    assert prs(w.sb, w.sb.origin) == {}
    (state,) = run_states()
    assert state["done"] == [] and state["remaining"][0]["op"] == "PushProposal"
    w.ok("continue")
    assert run_states() == []
    assert remote_refs(w.sb, w.sb.origin) == remote_refs(plain.sb, plain.sb.origin)
    w.ok("undo")
    assert w.sb.g(w.sb.origin, "rev-parse", "refs/heads/fix/npe") == base
    assert prs(w.sb, w.sb.origin)[1]["state"] == "closed"


def test_a_test_result_someone_shared_first_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, head = _tested_offline(tmp_path)
    tests = f"refs/prodfix/tests/{head}"
    theirs: list[str] = []

    def race(n: int) -> None:
        if n == 1:
            doc = {"version": 1, "sha": head, "result": "passed", "by": "Bob", "where": "local"}
            theirs.append(_someone(w, tests, doc))

    pushes = log_pushes(monkeypatch, race)
    w.ok("propose")
    assert pushes[:2] == [sorted(["refs/heads/fix/npe", FIX, tests]), ["refs/heads/fix/npe", FIX]]
    assert w.sb.g(w.sb.origin, "rev-parse", tests) == theirs[0]
    assert w.sb.g(w.sb.origin, "rev-parse", "refs/heads/fix/npe") == head
    assert remote_refs(w.sb, w.sb.origin)[FIX]["head"] == head


@pytest.mark.parametrize(
    ("theirs_at", "ours_shared"),
    [("2000-01-01T00:00:00Z", True), ("2999-01-01T00:00:00Z", False)],
    ids=["theirs-older", "theirs-newer"],
)
def test_a_shared_result_is_replaced_only_by_a_newer_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, theirs_at: str, ours_shared: bool
) -> None:
    """The remote already has someone's result for the commit when `propose` looks: this
    clone's result goes out only if it is newer (a re-run here), and the clone shows the newer
    of the two, as every other clone does."""
    w, head = _tested_offline(tmp_path)
    tests = f"refs/prodfix/tests/{head}"
    doc = {"version": 1, "sha": head, "result": "passed", "reason": "", "where": "local"}
    theirs = _someone(w, tests, {**doc, "by": "Bob Engineer <bob@example.com>", "at": theirs_at})
    pushes = log_pushes(monkeypatch)
    w.ok("propose")
    assert pushes[0] == sorted(["refs/heads/fix/npe", FIX, *([tests] if ours_shared else [])])
    assert (w.sb.g(w.sb.origin, "rev-parse", tests) != theirs) == ours_shared
    (entry,) = json.loads(w.ok("status", "--json").out)["fixes"]
    (test,) = [s for s in entry["repos"][0]["steps"] if s["id"] == "test"]
    who = "Ada Tester" if ours_shared else "Bob Engineer"
    assert (test["state"], test["detail"]) == ("done", f"passed for {head[:7]} ({who})")


def test_a_fix_record_changed_meanwhile_is_read_again_and_both_changes_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, head = _tested_offline(tmp_path)

    def race(n: int) -> None:
        if n == 1:
            old = w.sb.g(w.sb.origin, "rev-parse", FIX)
            doc = json.loads(w.sb.g(w.sb.origin, "cat-file", "blob", f"{old}:record.json"))
            _someone(w, FIX, {**doc, "note": "theirs"}, parent=old)

    pushes = log_pushes(monkeypatch, race)
    w.ok("propose")
    tests = f"refs/prodfix/tests/{head}"
    assert pushes[:2] == [sorted(["refs/heads/fix/npe", FIX, tests])] * 2
    record = remote_refs(w.sb, w.sb.origin)[FIX]
    assert (record["head"], record["note"]) == (head, "theirs")
    assert w.sb.g(w.sb.origin, "rev-parse", "refs/heads/fix/npe") == head


def test_two_clones_a_teammates_test_result_shared_during_the_push_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alice and Bob, each with a clone and a PRODFIX_HOME of their own. Alice tested her fix
    while the remote was unreachable; Bob picks the branch up and runs `prodfix test` (in a
    process of his own) between Alice's look at the remote and her push. Bob's result stays,
    Alice's branch and proposed head land, and every clone's status agrees."""
    team = make_team(tmp_path / "team")
    alice, bob = team.alice, team.bob
    team.ok(alice, "start", "x")
    head = team.commit(alice, "fix x", {"x.py": "X = 1\n"})
    team.git(alice.svc, "push", "-q", "origin", "fix/x")
    away = team.service.with_name("away.git")
    os.rename(team.service, away)
    assert "kept in this clone only" in team.ok(alice, "test").err
    os.rename(away, team.service)
    team.pull(bob, "fix/x")
    tests = f"refs/prodfix/tests/{head}"

    def bob_tests(n: int) -> None:
        if n == 1:
            r = prodfix_proc(bob.svc, "test", env=bob.env)
            assert r.code == 0, r.err

    pushes = log_pushes(monkeypatch, bob_tests)
    team.ok(alice, "propose")
    fix = "refs/prodfix/fixes/x"
    # the branch was pushed by hand: the record and the test result, then the record alone
    assert pushes[:2] == [sorted([fix, tests]), [fix]]
    assert team.docs(team.service, "refs/prodfix/tests/", "record.json")[tests]["by"].startswith(
        "Bob Engineer"
    )
    assert team.tip("fix/x") == head
    assert team.docs(team.service, "refs/prodfix/fixes/", "record.json")[fix]["head"] == head
    assert (steps(team.agreed(), "x")["propose"], pr_list(team)[1][2]) == ("done", "open")
