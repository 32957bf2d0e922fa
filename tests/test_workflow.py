"""The reconciler and the back-merge command on real repositories with the embedded forge."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli import prodfix
from tests.gitfix import Sandbox
from tests.repos import service_repo


def steps(work: Path, fix: str = "x") -> dict[str, tuple[str, str]]:
    doc = json.loads(prodfix(work, "status", fix, "--json").out)
    [repo] = doc["fixes"][0]["repos"]
    return {s["id"]: (s["state"], s["detail"]) for s in repo["steps"]}


def started(sb: Sandbox) -> Path:
    work = service_repo(sb)
    assert prodfix(work, "start", "x").code == 0
    sb.commit(work, "fix: off by one", {"app.py": "def answer():\n    return 42\n"})
    return work


def remote(sb: Sandbox, ref: str) -> str:
    return sb.g(sb.origin, "rev-parse", "--verify", "--quiet", ref, check=False)


def test_fix_advanced_by_hand_is_picked_up(sandbox: Sandbox) -> None:
    work = started(sandbox)
    assert prodfix(work, "test", "--skip", "no pytest here").code == 0
    # pushed by hand, merged by hand into delivery (no PR at all)
    sandbox.g(work, "push", "-q", "origin", "fix/x")
    seed = sandbox.root / "seed"
    sandbox.g(seed, "fetch", "-q", "origin")
    sandbox.checkout(seed, "-B", "delivery", "origin/delivery")
    landing = sandbox.merge(seed, "origin/fix/x", "Merge fix/x by hand")
    sandbox.push(seed, "delivery")
    s = steps(work)
    assert s["propose"] == ("done", f"landed without a PR as {landing[:7]}")
    assert s["merge"] == ("done", f"on delivery as {landing[:7]}")
    assert s["backmerge"][0] == "ready"
    # next opens the back-merge PR from a throwaway head, never from delivery itself
    r = prodfix(work, "next")
    assert r.code == 0, r.err
    head = f"backmerge/delivery-{landing[:7]}"
    assert remote(sandbox, f"refs/heads/{head}") == landing
    assert steps(work)["backmerge"][0] == "waiting"
    listed = json.loads(prodfix(work, "pr", "list", "--json").out)
    assert [(p["head"], p["base"], p["state"]) for p in listed] == [(head, "master", "open")]
    assert prodfix(work, "pr", "approve", str(listed[0]["number"])).code == 0
    r = prodfix(work, "next", "--merge")
    assert r.code == 0, r.err
    assert "verified: a true merge" in r.out
    master = remote(sandbox, "refs/heads/master")
    assert sandbox.g(sandbox.origin, "rev-parse", f"{master}^2") == landing
    assert {v[0] for v in steps(work).values()} <= {"done", "skipped"}
    assert "is done" in prodfix(work, "next").out


def test_squash_merge_by_hand_is_recognised(sandbox: Sandbox) -> None:
    work = started(sandbox)
    seed = sandbox.root / "seed"
    sandbox.g(seed, "fetch", "-q", "origin")
    sandbox.checkout(seed, "-B", "delivery", "origin/delivery")
    sandbox.commit(seed, "other fix first", {"other.txt": "o\n"})
    squash = sandbox.commit(
        seed, "squashed: off by one", {"app.py": "def answer():\n    return 42\n"}
    )
    sandbox.push(seed, "delivery")
    assert steps(work)["merge"] == ("done", f"on delivery as {squash[:7]}")


def test_undo_propose_closes_the_pr_and_puts_the_branch_back(sandbox: Sandbox) -> None:
    work = started(sandbox)
    before = remote(sandbox, "refs/heads/fix/x")
    assert before == remote(sandbox, "refs/heads/delivery")  # `start` published the branch
    assert prodfix(work, "test", "--skip", "no tests in this sandbox").code == 0
    r = prodfix(work, "propose")
    assert r.code == 0, r.err
    assert remote(sandbox, "refs/heads/fix/x") == sandbox.g(work, "rev-parse", "HEAD")
    assert json.loads(prodfix(work, "pr", "list", "--json").out)[0]["state"] == "open"
    # a second propose finds the same PR: idempotent
    again = prodfix(work, "propose")
    assert again.code == 0 and "found PR #1" in again.out
    r = prodfix(work, "undo")
    assert r.code == 0, r.err
    assert remote(sandbox, "refs/heads/fix/x") == before
    prs = json.loads(prodfix(work, "pr", "list", "--all", "--json").out)
    assert [(p["number"], p["state"]) for p in prs] == [(1, "closed")]
    # Back at propose, not "merge: FAILED — closed without merging".
    s = steps(work)
    assert s["propose"] == ("ready", "PR #1 was closed; propose again")
    assert s["merge"] == ("pending", "")


def test_propose_refuses_a_branch_carrying_master(sandbox: Sandbox) -> None:
    work = started(sandbox)
    sandbox.merge(work, "origin/master", "merge master into the fix")
    before = remote(sandbox, "refs/heads/fix/x")
    r = prodfix(work, "propose")
    assert r.code == 3
    assert "branched-from-master" in r.err
    assert remote(sandbox, "refs/heads/fix/x") == before


def conflicting(sb: Sandbox) -> tuple[Path, str]:
    """delivery carries a fix to app.py that master rewrote differently."""
    work = service_repo(sb)
    seed = sb.root / "seed"
    sb.checkout(seed, "master")
    sb.commit(seed, "master: refactor answer", {"app.py": "def answer():\n    return 40 + 1\n"})
    sb.push(seed, "master")
    sb.checkout(seed, "-B", "delivery", "origin/delivery")
    fix = sb.commit(seed, "delivery: fix answer", {"app.py": "def answer():\n    return 42\n"})
    sb.push(seed, "delivery")
    sb.g(work, "fetch", "-q", "origin")
    return work, fix


def test_backmerge_prediction_json(sandbox: Sandbox) -> None:
    work, fix = conflicting(sandbox)
    r = prodfix(work, "backmerge", "--from", "delivery", "--dry-run", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out) == {
        "delivery": "delivery",
        "clean": False,
        "commits": [fix],
        "conflicts": [{"path": "app.py", "introduced_by": fix}],
    }


def test_backmerge_conflicts_stop_then_continue(sandbox: Sandbox) -> None:
    work, fix = conflicting(sandbox)
    r = prodfix(work, "backmerge", "--from", "delivery")
    assert r.code == 1
    assert "back-merge conflicts in: app.py" in r.err and "prodfix continue" in r.err
    head = f"backmerge/delivery-{fix[:7]}"
    assert sandbox.g(work, "symbolic-ref", "--short", "HEAD") == head
    # markers still there: refused
    sandbox.g(work, "add", "app.py")
    r = prodfix(work, "continue")
    assert r.code == 1 and "conflict markers" in r.err
    (work / "app.py").write_text("def answer():\n    return 42  # 40 + 2\n")
    sandbox.g(work, "add", "app.py")
    r = prodfix(work, "continue")
    assert r.code == 0, r.err
    tip = remote(sandbox, f"refs/heads/{head}")
    parents = sandbox.g(sandbox.origin, "rev-list", "--parents", "-n1", tip).split()[1:]
    assert parents == [remote(sandbox, "refs/heads/master"), fix]
    # the planned message, verbatim (no "# Conflicts:" lines git would add)
    message = sandbox.g(sandbox.origin, "log", "-1", "--format=%B", tip)
    assert message == "Merge delivery into master\n\nBack-merge prepared by prodfix."
    prs = json.loads(prodfix(work, "pr", "list", "--json").out)
    assert [(p["head"], p["base"]) for p in prs] == [(head, "master")]
    # back where the user was: on the fix... here, where the command started (master)
    assert sandbox.g(work, "symbolic-ref", "--short", "HEAD") == "master"


def test_backmerge_conflicts_then_abort_restores(sandbox: Sandbox) -> None:
    work, _ = conflicting(sandbox)
    before = sandbox.g(work, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/")
    remote_before = sandbox.remote_refs()
    assert prodfix(work, "backmerge", "--from", "delivery").code == 1
    r = prodfix(work, "abort")
    assert r.code == 0, r.err
    assert sandbox.g(work, "symbolic-ref", "--short", "HEAD") == "master"
    assert sandbox.g(work, "status", "--porcelain") == ""
    assert (
        sandbox.g(work, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/")
        == before
    )
    assert sandbox.remote_refs() == remote_before


def test_nothing_to_backmerge(sandbox: Sandbox) -> None:
    work = service_repo(sandbox)
    r = prodfix(work, "backmerge", "--from", "delivery")
    assert r.code == 0 and "nothing to back-merge" in r.out
