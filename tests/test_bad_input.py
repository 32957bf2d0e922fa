"""Bad input: refused before any change, exit 2, one line of error + a `next:` hint,
never a traceback; the remote's refs are exactly as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import Run, prodfix
from tests.gitfix import Sandbox
from tests.scenario import (
    World,
    fix_committed,
    land_on_delivery,
    remote_refs,
    service_world,
)


def _refused(r: Run, *needles: str) -> None:
    assert r.code == 2, r.out + r.err
    assert "Traceback" not in r.err + r.out
    lines = r.err.strip().splitlines()
    assert len(lines) == 2, r.err
    assert lines[0].startswith("prodfix: error: ") and lines[1].strip().startswith("next: ")
    for n in needles:
        assert n in r.err, r.err


def _all_remote_refs(w: World) -> dict[str, object]:
    return {n: remote_refs(w.sb, b) for n, b in w.bares.items()}


@pytest.mark.parametrize("name", ["a..b", "bad name", "x~1", "x^y", "ends.lock", "a:b"])
def test_start_invalid_branch_name(sandbox: Sandbox, name: str) -> None:
    w = service_world(sandbox)
    before = _all_remote_refs(w)
    _refused(prodfix(w.work, "start", name), "invalid branch name")
    assert _all_remote_refs(w) == before
    assert sandbox.g(w.work, "for-each-ref", "--format=%(refname)", "refs/heads/") == (
        "refs/heads/master"
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--tag", "bad tag"), "bad tag"),
        # (`UPPER/x` is valid: Docker reads an upper-case first component as a registry host)
        (("--tag", "1.0", "--image", "x/UPPER"), "x/UPPER"),
        (("--tag", ""), "tag"),
        (("--tag", "x" * 200), "tag"),
    ],
)
def test_deploy_invalid_tag_or_image(sandbox: Sandbox, args: tuple[str, ...], needle: str) -> None:
    w = service_world(sandbox, deploy=True)
    before = _all_remote_refs(w)
    _refused(prodfix(w.work, "deploy", *args), needle)
    assert _all_remote_refs(w) == before


def _rebase_in_progress(w: World) -> None:
    sb = w.sb
    sb.g(w.work, "fetch", "-q", "origin")
    sb.commit(w.work, "mine", {"app.py": "def answer():\n    return 1\n"})
    sb.g(w.work, "rebase", _other(w), check=False)  # stops: master's app.py differs


def _merge_in_progress(w: World) -> None:
    sb = w.sb
    sb.g(w.work, "fetch", "-q", "origin")
    sb.commit(w.work, "mine", {"app.py": "def answer():\n    return 1\n"})
    sb.g(w.work, "merge", _other(w), check=False)


def _cherry_pick_in_progress(w: World) -> None:
    sb = w.sb
    sb.g(w.work, "fetch", "-q", "origin")
    sb.commit(w.work, "mine", {"app.py": "def answer():\n    return 1\n"})
    sb.g(w.work, "cherry-pick", _other(w), check=False)


def _other(w: World) -> str:
    """The branch whose app.py conflicts with the checked-out one's."""
    on = w.sb.g(w.work, "symbolic-ref", "--short", "HEAD")
    return "origin/master" if on.startswith("fix/") else "origin/delivery"


BUSY = {
    "rebase": (_rebase_in_progress, "rebase"),
    "merge": (_merge_in_progress, "a merge"),
    "cherry-pick": (_cherry_pick_in_progress, "a cherry-pick"),
}


def _busy_world(sb: Sandbox, command: str) -> World:
    # delivery changes app.py, so a rebase/merge/cherry-pick of it onto a local edit conflicts
    w = service_world(sb, conflict_on_master=True)
    land_on_delivery(w, {"app.py": "def answer():\n    return 42\n"})
    if command == "propose":
        w.sb.g(w.work, "fetch", "-q", "origin")
        assert prodfix(w.work, "start", "npe").code == 0
        w.sb.commit(w.work, "fix: note", {"note.txt": "n\n"})
    return w


@pytest.mark.parametrize("busy", list(BUSY))
@pytest.mark.parametrize(
    "args", [("start", "y"), ("propose",), ("backmerge", "--from", "delivery")], ids=str
)
def test_refused_in_the_middle_of_a_git_operation(
    sandbox: Sandbox, busy: str, args: tuple[str, ...]
) -> None:
    w = _busy_world(sandbox, args[0])
    make, word = BUSY[busy]
    make(w)
    marker = {"rebase": "rebase-merge", "merge": "MERGE_HEAD", "cherry-pick": "CHERRY_PICK_HEAD"}
    git_dir = w.work / ".git"
    assert (git_dir / marker[busy]).exists() or (git_dir / "rebase-apply").exists()
    before = _all_remote_refs(w)
    local = sandbox.g(w.work, "for-each-ref", "--format=%(refname) %(objectname)")
    r = prodfix(w.work, *args)
    _refused(r, "in the middle of", word, "finish or abort")
    assert _all_remote_refs(w) == before
    assert sandbox.g(w.work, "for-each-ref", "--format=%(refname) %(objectname)") == local


def test_shallow_clone(sandbox: Sandbox) -> None:
    w = service_world(sandbox)
    shallow = sandbox.root / "shallow"
    sandbox.g(sandbox.root, "clone", "-q", "--depth", "1", f"file://{sandbox.origin}", str(shallow))
    before = _all_remote_refs(w)
    r = prodfix(shallow, "backmerge", "--from", "delivery")
    _refused(r, "shallow")
    assert _all_remote_refs(w) == before


def test_detached_head_propose(sandbox: Sandbox) -> None:
    w = service_world(sandbox)
    fix_committed(w)
    sandbox.g(w.work, "switch", "-q", "--detach", "HEAD")
    before = _all_remote_refs(w)
    _refused(prodfix(w.work, "propose"), "detached HEAD")
    assert _all_remote_refs(w) == before


@pytest.mark.parametrize(
    "args", [("start", "y"), ("backmerge", "--from", "delivery"), ("status",)], ids=str
)
def test_missing_remote(tmp_path: Path, args: tuple[str, ...]) -> None:
    sb = Sandbox(tmp_path / "sb")
    w = service_world(sb)
    sb.g(w.work, "remote", "remove", "origin")
    r = prodfix(w.work, *args)
    if args[0] == "status":  # read-only, nothing in flight: nothing to complain about
        assert r.code == 0 and "Traceback" not in r.err
        return
    _refused(r, "origin")
