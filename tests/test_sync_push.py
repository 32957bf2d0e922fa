"""`sync` pushes the sync head and the sync's record in one atomic push, then opens the PR:
every clone sees the head with its record or neither. A rerun after the push reached the
remote finishes the step and undoes like an uninterrupted run; the undo deletes the head and
the record in one push, and never a head someone pushed on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli import prodfix, prodfix_proc
from tests.gitfix import Sandbox
from tests.scenario import (
    World,
    fixed_dates,
    interrupt_after_the_next_push,
    log_pushes,
    prs,
    remote_refs,
    run_states,
    service_world,
)
from tests.team import make_team, pr_list


@pytest.fixture(autouse=True)
def _dates(monkeypatch: pytest.MonkeyPatch) -> None:
    fixed_dates(monkeypatch)


def _names(w: World) -> tuple[str, str]:
    """(the sync head's ref, the sync record's ref) of syncing master into delivery."""
    name = f"delivery-{w.sb.g(w.sb.origin, 'rev-parse', 'master')[:7]}"
    return f"refs/heads/sync/{name}", f"refs/prodfix/syncs/{name}"


def _without_prs(refs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in refs.items() if not k.startswith("refs/prodfix/pulls/")}


def test_one_push_carries_the_sync_head_and_its_record(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = service_world(sandbox)
    head_ref, record_ref = _names(w)
    pushes = log_pushes(monkeypatch)
    r = w.ok("sync")
    assert "record the sync in the remote, in one push" in r.out
    assert pushes == [
        sorted([head_ref, record_ref]),
        ["refs/prodfix/pulls/1/head", "refs/prodfix/pulls/1/meta"],  # the PR (embedded forge)
    ]
    remote = remote_refs(w.sb, w.sb.origin)
    head = remote[head_ref]
    assert remote[record_ref]["head"] == head and not remote[record_ref].get("done_at")
    assert w.sb.g(w.work, "rev-parse", head_ref) == head  # the clone's branch, pushed
    assert w.sb.g(w.work, "rev-parse", f"refs/remotes/origin/{head_ref[11:]}") == head
    assert prs(w.sb, w.sb.origin)[1]["head"] == head_ref[11:]
    pushes.clear()
    again = w.ok("sync")
    assert "the sync PR is open: #1" in again.out and pushes == []


def test_a_rerun_after_the_push_reached_the_remote_ends_as_an_uninterrupted_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted right after the remote took the push, before prodfix knew it: `continue`
    runs the op again, finds the head and the record its push left, opens the PR; the remote
    is then as an uninterrupted run leaves it, and `undo` leaves it as before the sync."""
    plain = service_world(Sandbox(tmp_path / "plain"))
    plain.ok("sync")
    w = service_world(Sandbox(tmp_path / "cut"))
    head_ref, record_ref = _names(w)
    before = remote_refs(w.sb, w.sb.origin)
    interrupt_after_the_next_push(monkeypatch)
    r = prodfix(w.work, "sync")
    assert r.code == 130, r.out + r.err
    landed = remote_refs(w.sb, w.sb.origin)
    assert landed[record_ref]["head"] == landed[head_ref]  # both, in one push
    assert prs(w.sb, w.sb.origin) == {}
    (state,) = run_states()
    assert [op["op"] for op in state["remaining"]] == ["PushSync", "OpenPr"]
    w.ok("continue")
    assert run_states() == []
    assert remote_refs(w.sb, w.sb.origin) == remote_refs(plain.sb, plain.sb.origin)
    w.ok("undo")
    assert _without_prs(remote_refs(w.sb, w.sb.origin)) == before
    assert prs(w.sb, w.sb.origin)[1]["state"] == "closed"


def test_undo_never_deletes_a_sync_head_someone_pushed_on(sandbox: Sandbox) -> None:
    """A colleague pushed a commit on the sync head (a fix-up for its review): the undo closes
    the PR and withdraws the record as before, and refuses to delete their work."""
    w = service_world(sandbox)
    head_ref, record_ref = _names(w)
    w.ok("sync")
    branch = head_ref[len("refs/heads/") :]
    other = w.sb.root / "colleague"
    w.sb.g(w.sb.root, "clone", "-q", str(w.sb.origin), str(other))
    w.sb.checkout(other, branch)
    theirs = w.sb.commit(other, "sync: keep the old default", {"review.txt": "reviewed\n"})
    w.sb.push(other, branch)
    r = prodfix(w.work, "undo")
    assert r.code != 0, r.out + r.err
    assert f"remote branch {branch} moved to {theirs[:7]}: not deleting someone's work" in r.err
    assert f"git push origin --delete {branch}" in r.err and "Traceback" not in r.err
    remote = w.sb.refs(w.sb.origin)
    assert remote[head_ref] == theirs
    assert record_ref not in remote
    assert prs(w.sb, w.sb.origin)[1]["state"] == "closed"


def test_a_sync_head_someone_pushed_first_is_left_as_theirs(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A colleague's sync of the same mainline commit reached the remote between this
    command's fetch and its push: nothing of this attempt lands, neither head nor record."""
    w = service_world(sandbox)
    head_ref, record_ref = _names(w)
    branch = head_ref[len("refs/heads/") :]
    other = w.sb.root / "colleague"
    w.sb.g(w.sb.root, "clone", "-q", str(w.sb.origin), str(other))
    w.sb.checkout(other, "-b", branch, "origin/delivery")
    theirs = w.sb.commit(other, "their sync head", {"theirs.txt": "theirs\n"})
    log_pushes(monkeypatch, before=lambda n: n == 1 and w.sb.push(other, branch))
    r = prodfix(w.work, "sync")
    assert r.code == 4, r.out + r.err
    assert f"another {branch} reached origin first (at {theirs[:7]}): the same sync" in r.err
    assert "`prodfix abort` drops this attempt" in r.err
    remote = w.sb.refs(w.sb.origin)
    assert remote[head_ref] == theirs and record_ref not in remote
    assert prs(w.sb, w.sb.origin) == {}
    w.ok("abort")
    assert w.sb.g(w.work, "branch", "--list", branch) == ""  # this attempt's head, gone
    assert w.sb.refs(w.sb.origin) == remote and run_states() == []


def test_two_people_sync_at_once_one_sync_lands_and_every_clone_agrees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alice and Bob, each with a clone and a PRODFIX_HOME of their own, sync the same mainline
    commit: Bob's `sync` (a process of his own) runs between Alice's look at the remote and her
    push. Bob's head, record and PR land whole; nothing of Alice's does, she is told to abort;
    every clone's status then shows Bob's sync alone, and after Bob's `undo` no sync at all."""
    team = make_team(tmp_path / "team")
    alice, bob = team.alice, team.bob
    tip = team.git(alice.svc, "rev-parse", "origin/master")
    head = f"sync/delivery-{tip[:7]}"

    def bob_syncs(n: int) -> None:
        if n == 1:
            r = prodfix_proc(bob.svc, "sync", env=bob.env)
            assert r.code == 0, r.out + r.err

    log_pushes(monkeypatch, bob_syncs)
    r = team.run(alice, "sync")
    assert r.code == 4, r.out + r.err
    assert f"another {head} reached origin first" in r.err
    record = team.docs(team.service, "refs/prodfix/syncs/", "record.json")
    assert list(record) == [f"refs/prodfix/syncs/delivery-{tip[:7]}"]
    (doc,) = record.values()
    assert doc["started_by"].startswith("Bob Engineer") and doc["head"] == team.tip(head)
    assert [(h, state) for h, _, state in pr_list(team).values()] == [(head, "open")]
    team.ok(alice, "abort")
    assert team.git(alice.svc, "branch", "--list", head) == ""
    syncs = [f["name"] for f in team.agreed()["fixes"] if f["repos"][0]["kind"] == "sync"]
    assert syncs == [head]
    team.ok(bob, "undo")
    assert not team.refs_of(team.service, "refs/prodfix/syncs/")
    assert f"refs/heads/{head}" not in team.refs_of(team.service, "refs/heads/")
    assert all(f["repos"][0]["kind"] != "sync" for f in team.agreed()["fixes"])
