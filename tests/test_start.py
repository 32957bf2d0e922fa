from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.cli import prodfix, prodfix_proc
from tests.gitfix import Sandbox
from tests.repos import service_repo


def refs(sb: Sandbox, cwd: Path, pattern: str = "refs/heads/") -> dict[str, str]:
    out = sb.g(cwd, "for-each-ref", "--format=%(refname) %(objectname)", pattern)
    return dict(line.split(" ") for line in out.splitlines())


def test_start_one_delivery_branch_creates_branch_at_remote_tip(sandbox: Sandbox) -> None:
    work = service_repo(sandbox)
    tip = sandbox.g(sandbox.origin, "rev-parse", "delivery")
    r = prodfix(work, "start", "npe")
    assert r.code == 0, r.err
    assert sandbox.g(work, "rev-parse", "HEAD") == tip
    assert sandbox.g(work, "symbolic-ref", "--short", "HEAD") == "fix/npe"
    assert sandbox.g(work, "config", "branch.fix/npe.prodfix-delivery") == "delivery"
    # --no-track: a plain `git push` must never push into delivery
    assert sandbox.g(work, "config", "--get", "branch.fix/npe.merge", check=False) == ""
    assert "started fix 'npe'" in r.out


def test_start_uses_remote_tip_not_stale_local_delivery(sandbox: Sandbox) -> None:
    work = service_repo(sandbox)
    sandbox.g(work, "branch", "delivery", "origin/delivery")  # local copy, soon stale
    seed = sandbox.root / "seed"
    sandbox.checkout(seed, "delivery")
    new_tip = sandbox.commit(seed, "hotfix on delivery", {"hot.txt": "x\n"})
    sandbox.push(seed, "delivery")
    assert sandbox.g(work, "rev-parse", "delivery") != new_tip
    assert prodfix(work, "start", "x").code == 0
    assert sandbox.g(work, "rev-parse", "fix/x") == new_tip


def test_start_several_delivery_branches_lists_them(sandbox: Sandbox) -> None:
    work = service_repo(sandbox, ("delivery-2026.10", "delivery-2026.11"))
    r = prodfix(work, "start", "x")
    assert r.code == 2
    assert "delivery-2026.10, delivery-2026.11" in r.err
    assert "--from delivery-2026.11" in r.err
    assert "fix/x" not in refs(sandbox, work)


def test_start_from_named_delivery(sandbox: Sandbox) -> None:
    work = service_repo(sandbox, ("delivery-2026.10", "delivery-2026.11"))
    assert prodfix(work, "start", "x", "--from", "delivery-2026.10").code == 0
    assert sandbox.g(work, "config", "branch.fix/x.prodfix-delivery") == "delivery-2026.10"


def test_start_no_delivery_branch(sandbox: Sandbox) -> None:
    work = service_repo(sandbox, ())
    r = prodfix(work, "start", "x")
    assert r.code == 2
    assert "no branch on origin matches the delivery pattern 'delivery*'" in r.err
    assert "(branches: master)" in r.err


@pytest.mark.parametrize("source", ["master", "feature/foo"])
def test_start_from_non_delivery_is_refused_by_rule_1(sandbox: Sandbox, source: str) -> None:
    work = service_repo(sandbox)
    before = refs(sandbox, work)
    r = prodfix(work, "start", "x", "--from", source)
    assert r.code == 3
    assert "rule 1" in r.err and "never from master" in r.err
    assert refs(sandbox, work) == before


@pytest.mark.parametrize("name", ["a..b", "bad name", "x~1", "ends.lock", ""])
def test_start_invalid_name(sandbox: Sandbox, name: str) -> None:
    work = service_repo(sandbox)
    r = prodfix(work, "start", name)
    assert r.code == 2
    assert "invalid branch name" in r.err


def test_start_existing_branch_refused(sandbox: Sandbox) -> None:
    work = service_repo(sandbox)
    assert prodfix(work, "start", "x").code == 0
    sandbox.checkout(work, "master")
    r = prodfix(work, "start", "x")
    assert r.code == 2 and "already exists" in r.err


def test_start_carries_uncommitted_changes(sandbox: Sandbox) -> None:
    work = service_repo(sandbox)
    (work / "README").write_text("edited before start\n")
    assert prodfix(work, "start", "x").code == 0
    assert (work / "README").read_text() == "edited before start\n"
    assert sandbox.g(work, "status", "--porcelain") == "M README"


def test_start_not_a_repository(tmp_path: Path) -> None:
    r = prodfix(tmp_path, "start", "x")
    assert r.code == 2
    assert "not inside a git repository" in r.err and "next:" in r.err
    assert "Traceback" not in r.err


def test_start_dry_run_changes_nothing(sandbox: Sandbox) -> None:
    work = service_repo(sandbox)
    before = refs(sandbox, work)
    r = prodfix(work, "start", "x", "--dry-run")
    assert r.code == 0
    assert "would: create branch fix/x" in r.out
    assert refs(sandbox, work) == before


def test_undo_start_restores_repository_and_record(sandbox: Sandbox) -> None:
    work = service_repo(sandbox)
    before = refs(sandbox, work)
    assert prodfix(work, "start", "x").code == 0
    r = prodfix(work, "undo")
    assert r.code == 0, r.err
    assert refs(sandbox, work) == before
    assert sandbox.g(work, "symbolic-ref", "--short", "HEAD") == "master"
    assert sandbox.g(work, "config", "--get", "branch.fix/x.prodfix-delivery", check=False) == ""
    # what `start` published is withdrawn: no fix branch, no record on the remote
    assert refs(sandbox, sandbox.origin, "refs/heads/fix/") == {}
    assert refs(sandbox, sandbox.origin, "refs/prodfix/") == {}
    doc = json.loads(prodfix(work, "status", "--json").out)
    assert (doc["version"], doc["fixes"]) == (1, [])
    # a second undo has nothing left
    assert "nothing to undo" in prodfix(work, "undo").out


START_OPS = 5


@pytest.mark.parametrize("point", range(1, START_OPS))
def test_kill_at_every_boundary_then_continue(sandbox: Sandbox, point: int) -> None:
    work = service_repo(sandbox)
    killed = prodfix_proc(work, "start", "x", env={"PRODFIX_DIE_AFTER": str(point)})
    assert killed.code == -9
    runs = list((Path(os.environ["PRODFIX_HOME"]) / "runs").glob("*.json"))
    assert len(runs) == 1
    assert stat.S_IMODE(runs[0].stat().st_mode) == 0o600
    state = json.loads(runs[0].read_text())
    assert len(state["done"]) == point and len(state["remaining"]) == START_OPS - point
    # the same fix is refused while its run is suspended; another fix is not blocked
    blocked = prodfix(work, "start", "x")
    assert blocked.code == 2 and "prodfix continue" in blocked.err
    assert prodfix(work, "start", "y").code == 0
    assert prodfix(work, "continue").code == 0
    assert sandbox.g(work, "symbolic-ref", "--short", "HEAD") == "fix/x"
    assert sandbox.g(work, "rev-parse", "fix/x") == sandbox.g(
        sandbox.origin, "rev-parse", "delivery"
    )
    assert sandbox.g(work, "config", "branch.fix/x.prodfix-delivery") == "delivery"
    assert not runs[0].exists()


@pytest.mark.parametrize("point", range(1, START_OPS))
def test_kill_at_every_boundary_then_abort(sandbox: Sandbox, point: int) -> None:
    work = service_repo(sandbox)
    before = refs(sandbox, work)
    assert prodfix_proc(work, "start", "x", env={"PRODFIX_DIE_AFTER": str(point)}).code == -9
    r = prodfix(work, "abort")
    assert r.code == 0, r.err
    assert refs(sandbox, work) == before
    assert sandbox.g(work, "symbolic-ref", "--short", "HEAD") == "master"
    assert sandbox.g(work, "config", "--get", "branch.fix/x.prodfix-delivery", check=False) == ""


def test_continue_with_nothing_suspended(sandbox: Sandbox) -> None:
    work = service_repo(sandbox)
    r = prodfix(work, "continue")
    assert r.code == 2 and "nothing to continue" in r.err


def test_every_op_module_is_known_to_the_loader() -> None:
    """A `continue` in a fresh process deserialises ops of any module (regression: MergePr)."""
    import pkgutil

    import prodfix.workflow as wf
    from prodfix.workflow.ops import OP_MODULES

    found = {
        f"prodfix.workflow.{m.name}"
        for m in pkgutil.iter_modules(wf.__path__)
        if m.name.startswith("ops_")
    }
    assert found == set(OP_MODULES)


def test_merge_tree_with_merge_base_needs_git_2_40(sandbox: Sandbox) -> None:
    from prodfix.adapters import git
    from prodfix.errors import ProdfixError

    work = service_repo(sandbox)
    repo = git.Repo(work)
    if git.version() >= (2, 40):
        head = sandbox.g(work, "rev-parse", "HEAD")
        assert repo.merge_tree(head, head, merge_base=head).clean
    else:
        with pytest.raises(ProdfixError, match=r"git 2\.40 or newer"):
            repo.merge_tree("HEAD", "HEAD", merge_base="HEAD")


def test_a_fix_name_taken_between_the_read_and_the_push_names_who_took_it(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bob starts `npe` after Alice's `start npe` read the remote and before it pushed: her
    push (which requires the record not to exist) is refused, nothing of hers is left on the
    remote, and the error says who has the name — read again from the remote, since her own
    read did not know."""
    from prodfix.adapters import records

    work = service_repo(sandbox)
    bob = sandbox.clone("bob")
    original = records.push
    raced: list[int] = []

    def racing(repo: object, remote: str, updates: dict[str, tuple[str, str | None]]) -> object:
        if not raced:
            raced.append(1)
            bob_env = {
                "GIT_AUTHOR_NAME": "Bob Builder",
                "GIT_AUTHOR_EMAIL": "bob@example.com",
                "GIT_COMMITTER_NAME": "Bob Builder",
                "GIT_COMMITTER_EMAIL": "bob@example.com",
                "PRODFIX_HOME": str(sandbox.root / "bob-home"),
            }
            r = prodfix(bob, "start", "npe", env=bob_env)
            assert r.code == 0, r.err
        return original(repo, remote, updates)  # type: ignore[arg-type]

    monkeypatch.setattr(records, "push", racing)
    r = prodfix(work, "start", "npe")
    assert r.code == 2, r.out + r.err
    assert "a fix named 'npe' already exists on origin by Bob Builder at " in r.err
    theirs = sandbox.g(sandbox.origin, "rev-parse", "refs/heads/fix/npe")
    assert theirs == sandbox.g(bob, "rev-parse", "fix/npe")
    doc = json.loads(sandbox.g(sandbox.origin, "show", "refs/prodfix/fixes/npe:record.json"))
    assert doc["started_by"] == "Bob Builder <bob@example.com>"
