"""The promises of docs/concepts.md ("What prodfix promises"), read from the remote's reflog
after a scenario of two fixes (one back-merged through a conflict resolution, one cleanly),
every step done with prodfix on the embedded forge:

* master and delivery only ever moved forward (every new value descends from the old one);
* no merge reachable from delivery brings mainline-only commits (master never into delivery);
* every back-merge on master is a merge commit whose second parent is a delivery tip (or the
  resolution merge whose second parent is one).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import prodfix
from tests.gitfix import Sandbox, seeded
from tests.scenario import World, fixed_dates, prs, service_world

ZERO = "0" * 40


def _ok(w: World, *args: str) -> None:
    r = prodfix(w.work, *args)
    assert r.code == 0, f"{args}: {r.out}{r.err}"


def _fix_through_delivery(w: World, name: str, files: dict[str, str], pr: int) -> None:
    _ok(w, "start", name)
    w.sb.commit(w.work, f"fix: {name}", files)
    _ok(w, "test")
    _ok(w, "propose")
    _ok(w, "pr", "approve", str(pr))
    _ok(w, "pr", "merge", str(pr))
    w.sb.g(w.work, "switch", "-q", "master")


def _backmerge(w: World, pr: int, *, conflict: bool) -> None:
    r = prodfix(w.work, "backmerge", "--from", "delivery")
    if conflict:
        assert r.code == 1 and "conflicts" in r.err, r.out + r.err
        (w.work / "app.py").write_text("def answer():\n    return 42  # 43 on master\n")
        w.sb.g(w.work, "add", "app.py")
        _ok(w, "continue")
    else:
        assert r.code == 0, r.out + r.err
    _ok(w, "pr", "approve", str(pr))
    _ok(w, "pr", "merge", str(pr))


def _scenario(sb: Sandbox) -> None:
    w = service_world(sb, conflict_on_master=True, reflogs=True)
    _fix_through_delivery(w, "npe", {"app.py": "def answer():\n    return 42\n"}, 1)
    _backmerge(w, 2, conflict=True)
    _fix_through_delivery(w, "two", {"two.py": "TWO = 2\n"}, 3)
    _backmerge(w, 4, conflict=False)


@pytest.fixture
def world(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> tuple[World, str]:
    """The remotes after the scenario (played once per test process, then copied: the tests
    only read them); `cut` is where delivery was cut from master."""
    fixed_dates(monkeypatch)
    seeded(sandbox, "invariants", _scenario)
    w = World(sandbox, sandbox.root / "work", {"service": sandbox.origin})
    created, cut = _reflog(sandbox, "delivery")[0]
    assert created == ZERO
    return w, cut


def _reflog(sb: Sandbox, branch: str) -> list[tuple[str, str]]:
    log = sb.origin / "logs" / "refs" / "heads" / branch
    assert log.exists(), f"no reflog for {branch}: core.logAllRefUpdates not in effect"
    return [tuple(line.split(" ", 2)[:2]) for line in log.read_text().splitlines()]  # type: ignore[misc]


def _is_ancestor(sb: Sandbox, a: str, b: str) -> bool:
    return sb.g(sb.origin, "rev-list", "-1", a, f"^{b}") == ""  # nothing of a outside b


def _rev_list(sb: Sandbox, *args: str) -> list[str]:
    return sb.g(sb.origin, "rev-list", *args).split()


def test_master_and_delivery_only_move_forward(world: tuple[World, str]) -> None:
    w, _ = world
    for branch in ("master", "delivery"):
        moves = _reflog(w.sb, branch)
        assert len(moves) >= 3, (branch, moves)  # created, then moved by the merges
        for old, new in moves:
            assert new != ZERO, f"{branch} was deleted"
            if old != ZERO:
                assert _is_ancestor(w.sb, old, new), f"{branch} rewritten: {old} → {new}"


def test_master_never_merged_into_delivery(world: tuple[World, str]) -> None:
    w, cut = world
    mainline_only = set(_rev_list(w.sb, "--first-parent", "master", f"^{cut}"))
    assert len(mainline_only) >= 3  # master's own commit and both back-merges
    merges = _rev_list(w.sb, "--merges", "delivery")
    assert len(merges) == 2  # the two fix PRs
    for m in merges:
        brought = set(_rev_list(w.sb, f"{m}^2", f"^{m}^1"))
        assert not brought & mainline_only, f"merge {m} brought master's commits into delivery"


def test_every_backmerge_is_a_merge_of_a_delivery_tip(world: tuple[World, str]) -> None:
    w, cut = world
    tips = {new for _, new in _reflog(w.sb, "delivery")}
    delivery_history = set(_rev_list(w.sb, "delivery", f"^{cut}"))
    found = 0
    for c in _rev_list(w.sb, "--first-parent", "master", f"^{cut}"):
        parents = w.sb.g(w.sb.origin, "rev-list", "--parents", "-1", c).split()[1:]
        brought = set(_rev_list(w.sb, c, *(f"^{p}" for p in parents[:1])))
        if not brought & delivery_history:
            continue  # master's own work
        found += 1
        assert len(parents) == 2, f"{c} brought delivery commits without a merge commit"
        second = parents[1]
        if second not in tips:  # the resolution merge: master + delivery tip, made by prodfix
            inner = w.sb.g(w.sb.origin, "rev-list", "--parents", "-1", second).split()[1:]
            assert len(inner) == 2 and inner[1] in tips, f"{c}: second parent is no delivery tip"
    assert found == 2
    back = [p for p in prs(w.sb, w.sb.origin).values() if p["head"].startswith("backmerge/")]
    assert [p["state"] for p in back] == ["merged", "merged"]
    assert all(p["base"] == "master" for p in back)
    # nothing of delivery is missing from master
    assert _rev_list(w.sb, "delivery", "^master") == []


def test_the_reflog_check_catches_a_rewrite(tmp_path: Path) -> None:
    """The detector itself: a force-push to delivery shows up as a non-descendant move."""
    sb = Sandbox(tmp_path / "sb")
    service_world(sb, reflogs=True)
    seed = sb.root / "seed"
    sb.checkout(seed, "delivery")
    sb.commit(seed, "one", {"one.txt": "1\n"})
    sb.push(seed, "delivery")
    sb.g(seed, "reset", "-q", "--hard", "HEAD~1")
    sb.commit(seed, "other", {"other.txt": "2\n"})
    sb.g(seed, "push", "-q", "--force", "origin", "delivery")
    moves = [(o, n) for o, n in _reflog(sb, "delivery") if o != ZERO]
    assert any(not _is_ancestor(sb, o, n) for o, n in moves)
