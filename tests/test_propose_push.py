"""`propose` pushes the fix branch, this clone's test results of its commits and the proposed
head in the fix's record in one atomic push, then opens the PR. Every clone sees all three or
none; a rerun after the push reached the remote finishes the step and undoes like an
uninterrupted run; someone else's test result or record change is kept, never overwritten.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from prodfix.adapters import records
from tests.cli import prodfix
from tests.gitfix import Sandbox
from tests.scenario import World, fix_committed, prs, remote_refs, run_states, service_world

FIX = "refs/prodfix/fixes/npe"


def _pushes(monkeypatch: pytest.MonkeyPatch, before: Any = None) -> list[list[str]]:
    """The refs of every atomic push prodfix makes; `before(n)` runs before the n-th push."""
    original = records.push
    seen: list[list[str]] = []

    def logged(repo: Any, remote: str, updates: Any) -> Any:
        seen.append(sorted(updates))
        if before is not None:
            before(len(seen))
        return original(repo, remote, updates)

    monkeypatch.setattr(records, "push", logged)
    return seen


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
    pushes = _pushes(monkeypatch)
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
    original = records.push

    def cut(repo: Any, remote: str, updates: Any) -> Any:
        monkeypatch.setattr(records, "push", original)
        original(repo, remote, updates)
        raise KeyboardInterrupt

    monkeypatch.setattr(records, "push", cut)
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

    pushes = _pushes(monkeypatch, race)
    w.ok("propose")
    assert pushes[:2] == [sorted(["refs/heads/fix/npe", FIX, tests]), ["refs/heads/fix/npe", FIX]]
    assert w.sb.g(w.sb.origin, "rev-parse", tests) == theirs[0]
    assert w.sb.g(w.sb.origin, "rev-parse", "refs/heads/fix/npe") == head
    assert remote_refs(w.sb, w.sb.origin)[FIX]["head"] == head


def test_a_fix_record_changed_meanwhile_is_read_again_and_both_changes_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, head = _tested_offline(tmp_path)

    def race(n: int) -> None:
        if n == 1:
            old = w.sb.g(w.sb.origin, "rev-parse", FIX)
            doc = json.loads(w.sb.g(w.sb.origin, "cat-file", "blob", f"{old}:record.json"))
            _someone(w, FIX, {**doc, "note": "theirs"}, parent=old)

    pushes = _pushes(monkeypatch, race)
    w.ok("propose")
    tests = f"refs/prodfix/tests/{head}"
    assert pushes[:2] == [sorted(["refs/heads/fix/npe", FIX, tests])] * 2
    record = remote_refs(w.sb, w.sb.origin)[FIX]
    assert (record["head"], record["note"]) == (head, "theirs")
    assert w.sb.g(w.sb.origin, "rev-parse", "refs/heads/fix/npe") == head
