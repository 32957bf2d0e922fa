"""Interruption: kill -9 after every op of every multi-op command, then `continue` ends
where an uninterrupted run ends, and `abort` puts everything back where the command started.

`start` has its own matrix in test_start.py. Each case below is a list of steps a user takes;
the ops are counted across the steps (`continue` counts on from the ops already done), so point
N is "right after the command's N-th op". The last point + 1 must not kill: that proves the
points cover every boundary, and the run state at each point must say done == N.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from tests.cli import prodfix, prodfix_proc, sigint_default
from tests.gitfix import Sandbox
from tests.scenario import (
    World,
    fix_committed,
    fix_proposed_and_approved,
    fixed_dates,
    heads,
    land_on_delivery,
    prs,
    remote_refs,
    run_states,
    service_world,
    snapshot,
)


@dataclass(frozen=True)
class Step:
    args: tuple[str, ...]  # prodfix arguments
    code: int  # its exit code in an uninterrupted run
    ops: int  # ops it completes in an uninterrupted run
    before: Callable[[World], None] | None = None  # what the user does first (resolve…)
    repo: str = "service"  # the clone it runs in


@dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[Sandbox], World]
    steps: tuple[Step, ...]
    # After `continue` finishes the interrupted program: what the user runs to finish the step
    # (the `next` loop's later programs are re-observed by running `next` again).
    rerun_after_continue: bool = False
    state_repo: str = "service"  # where the run state lives: `continue`/`abort` run there
    # a command of the same scope (the same fix, or the repository) that must be refused
    # while the run is suspended
    blocked: tuple[str, ...] = ("backmerge", "--from", "delivery")

    @property
    def total(self) -> int:
        return sum(s.ops for s in self.steps)


def _propose_world(sb: Sandbox) -> World:
    w = service_world(sb)
    fix_committed(w)
    w.ok("test")
    return w


def _backmerge_clean_world(sb: Sandbox) -> World:
    w = service_world(sb)
    land_on_delivery(w, {"hot.txt": "hot\n"})
    return w


def _backmerge_conflict_world(sb: Sandbox) -> World:
    w = service_world(sb, conflict_on_master=True)
    land_on_delivery(w, {"app.py": "def answer():\n    return 42\n"})
    return w


def _resolve(w: World) -> None:
    (w.work / "app.py").write_text("def answer():\n    return 42  # and 43 on master\n")
    w.sb.g(w.work, "add", "app.py")


def _deploy_world(sb: Sandbox) -> World:
    return service_world(sb, deploy=True)


def _sync_clean_world(sb: Sandbox) -> World:
    return service_world(sb)


def _sync_conflict_world(sb: Sandbox) -> World:
    """master and delivery both changed app.py: the sync stops for a resolution."""
    return _backmerge_conflict_world(sb)


def _next_world(sb: Sandbox) -> World:
    w = service_world(sb)
    fix_proposed_and_approved(w)
    return w


CASES = {
    c.name: c
    for c in (
        # push the branch, its test result and the proposed head (one push), open the PR
        Case("propose", _propose_world, (Step(("propose",), 0, 2),), blocked=("propose",)),
        Case(
            "backmerge-clean",
            _backmerge_clean_world,
            (Step(("backmerge", "--from", "delivery"), 0, 2),),
        ),
        Case(
            "backmerge-conflict",
            _backmerge_conflict_world,
            (
                Step(("backmerge", "--from", "delivery"), 1, 2),
                # commit the resolution, push, open the PR, switch back where the user was
                Step(("continue",), 0, 4, before=_resolve),
            ),
        ),
        Case(
            "deploy",
            _deploy_world,
            (Step(("deploy", "--tag", "2.0.0"), 0, 3),),
            blocked=("deploy", "--tag", "2.0.0"),
        ),
        # the marked merge (plumbing), push the sync head with its record (one push), open the PR
        Case("sync-clean", _sync_clean_world, (Step(("sync",), 0, 3),), blocked=("sync",)),
        Case(
            "sync-conflict",
            _sync_conflict_world,
            (
                Step(("sync",), 1, 2),  # cut the sync head from delivery, switch to it
                # commit the marked resolution, push with the record, open the PR, switch back
                Step(("continue",), 0, 4, before=_resolve),
            ),
            blocked=("sync",),
        ),
        # merge the fix PR, build it (build.type = command), open the back-merge PR
        Case(
            "next-merge",
            _next_world,
            (Step(("next", "--merge"), 0, 4),),
            rerun_after_continue=True,
            blocked=("next", "--merge"),
        ),
    )
}
POINTS = [(name, p) for name, c in CASES.items() for p in range(1, c.total + 1)]


@pytest.fixture(autouse=True)
def _dates(monkeypatch: pytest.MonkeyPatch) -> None:
    fixed_dates(monkeypatch)


def _run(w: World, step: Step, env: dict[str, str] | None = None) -> int:
    if step.before:
        step.before(w)
    cwd = w.clones[step.repo]
    if env:
        return prodfix_proc(cwd, *step.args, env=env).code
    r = prodfix(cwd, *step.args)
    assert r.code == step.code, f"{step.args}: {r.code}\n{r.out}\n{r.err}"
    return r.code


def _reference(
    case: Case, root: Path, monkeypatch: pytest.MonkeyPatch, shared: Path
) -> dict[str, Any]:
    """The uninterrupted run, in its own sandbox and PRODFIX_HOME (SHAs do not depend on it),
    made once per test session and case: the first worker to need it writes it as JSON under
    `shared` (a lock keeps the others waiting), the rest read it."""
    import fcntl
    import os

    done = shared / f"{case.name}.json"
    with (shared / f"{case.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            home = os.environ["PRODFIX_HOME"]
            monkeypatch.setenv("PRODFIX_HOME", str(root / "ref-home"))
            try:
                w = case.setup(Sandbox(root / "ref"))
                for step in case.steps:
                    _run(w, step)
                done.write_text(json.dumps(snapshot(w)))
            finally:
                monkeypatch.setenv("PRODFIX_HOME", home)
    found: dict[str, Any] = json.loads(done.read_text())
    return found


@pytest.fixture(scope="session")
def references(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every worker of this session shares: under pytest-xdist, the parent of the
    workers' temp roots (made anew per session); run alone, this session's own temp root."""
    import os

    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "kill-references"
    shared.mkdir(exist_ok=True)
    return shared


def _kill_at(case: Case, w: World, point: int) -> Step:
    """Run the steps up to the one holding op `point`; kill that one right after the op."""
    before = 0
    for step in case.steps:
        if before + step.ops < point:
            _run(w, step)
            before += step.ops
            continue
        killed = _run(w, step, env={"PRODFIX_DIE_AFTER": str(point)})
        assert killed == -9, f"no kill at op {point}: exit {killed}"
        return step
    raise AssertionError(f"{case.name} has no op {point}")


def _state_at_kill(case: Case, point: int) -> dict[str, Any]:
    states = run_states()
    assert len(states) == 1, states
    st = states[0]
    if not case.rerun_after_continue:
        # one program: its ops are the command's ops
        assert len(st["done"]) == point
        assert len(st["done"]) + len(st["remaining"]) == case.total
    return st


@pytest.mark.parametrize(("name", "point"), POINTS, ids=[f"{n}-{p}" for n, p in POINTS])
def test_kill_then_continue_ends_like_an_uninterrupted_run(
    name: str, point: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, references: Path
) -> None:
    case = CASES[name]
    expected = _reference(case, tmp_path, monkeypatch, references)
    w = case.setup(Sandbox(tmp_path / "kill"))
    step = _kill_at(case, w, point)
    _state_at_kill(case, point)
    state_cwd = w.clones[case.state_repo]
    blocked = prodfix(w.work, *case.blocked)
    assert blocked.code == 2 and "prodfix continue" in blocked.err, blocked.err
    r = prodfix(state_cwd, "continue")
    assert r.code == step.code, r.out + r.err
    later = case.steps[case.steps.index(step) + 1 :]
    if case.rerun_after_continue:
        later = (step, *later)
    for s in later:
        _run(w, s)
    assert run_states() == []
    assert json.loads(json.dumps(snapshot(w))) == expected  # as the reference was kept


@pytest.mark.parametrize(("name", "point"), POINTS, ids=[f"{n}-{p}" for n, p in POINTS])
def test_kill_then_abort_restores_the_start(
    name: str, point: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = CASES[name]
    w = case.setup(Sandbox(tmp_path / "kill"))
    start = snapshot(w)
    _kill_at(case, w, point)
    at_kill = snapshot(w)
    st = _state_at_kill(case, point)
    r = prodfix(w.clones[case.state_repo], "abort")
    assert r.code == 0, r.out + r.err
    assert run_states() == []
    now = snapshot(w)
    if case.rerun_after_continue:
        _assert_next_aborted(w, st, at_kill, now)
        return
    _assert_restored(start, now)


def _assert_restored(start: dict[str, Any], now: dict[str, Any]) -> None:
    """Remote branches as at the start; PRs that existed unchanged, PRs it opened closed;
    local branches, HEAD, status and files as before."""
    for repo, refs in start["remotes"].items():
        after = now["remotes"][repo]
        assert heads(after) == heads(refs), repo
        for ref, value in after.items():
            if ref.endswith("/meta"):
                if ref in refs:
                    assert value == refs[ref]
                else:
                    assert value["state"] == "closed", (ref, value)
    assert now["clones"] == start["clones"]


def _assert_next_aborted(
    w: World, st: dict[str, Any], at_kill: dict[str, Any], now: dict[str, Any]
) -> None:
    """`next` ran several programs; abort reverses only the interrupted one. A merge and a
    build are past (delivery is never rewritten); a back-merge branch it pushed is deleted and
    a back-merge PR it opened is closed."""
    done = [d["op"]["op"] for d in st["done"]]
    svc_kill, svc_now = at_kill["remotes"]["service"], now["remotes"]["service"]
    expect = dict(heads(svc_kill))
    if "Push" in done:
        gone = [k for k in expect if k.startswith("refs/heads/backmerge/")]
        assert len(gone) == 1
        del expect[gone[0]]
    assert heads(svc_now) == expect
    assert prs(w.sb, w.bares["service"])[1]["state"] == "merged"
    back = prs(w.sb, w.bares["service"]).get(2)
    assert (back is None) == ("OpenPr" not in done)
    if back is not None:
        assert back["state"] == "closed"
    assert now["clones"] == at_kill["clones"]
    assert now["builds"] == at_kill["builds"]


@pytest.mark.parametrize("name", list(CASES))
def test_points_cover_every_boundary(name: str, tmp_path: Path) -> None:
    """One op past the last point never kills: the matrix hits every boundary there is."""
    case = CASES[name]
    w = case.setup(Sandbox(tmp_path / "sb"))
    for step in case.steps:
        code = _run(w, step, env={"PRODFIX_DIE_AFTER": str(case.total + 1)})
        assert code == step.code
        if step.before is None and step is case.steps[0] and step.code != 0:
            st = run_states()[0]
            assert len(st["done"]) == step.ops
    assert run_states() == []


def test_matrix_size() -> None:
    sizes = {n: c.total for n, c in CASES.items()}
    assert sizes == {
        "propose": 2,
        "backmerge-clean": 2,
        "backmerge-conflict": 6,
        "deploy": 3,
        "next-merge": 4,
        "sync-clean": 3,
        "sync-conflict": 6,
    }
    assert len(POINTS) == 26


# -- races --------------------------------------------------------------------------------


def _someone_pushes(w: World, branch: str, files: dict[str, str]) -> str:
    """Another developer's clone pushes a commit on `branch` (created from delivery if new)."""
    other = w.sb.root / "other"
    if not other.exists():
        w.sb.g(w.sb.root, "clone", "-q", str(w.sb.origin), str(other))
    w.sb.g(other, "fetch", "-q", "origin")
    remote = w.sb.g(other, "ls-remote", "origin", f"refs/heads/{branch}")
    w.sb.g(
        other, "checkout", "-q", "-B", branch, f"origin/{branch}" if remote else "origin/delivery"
    )
    sha = w.sb.commit(other, f"someone else on {branch}", files)
    w.sb.push(other, f"{branch}:{branch}")
    return sha


def _racing_merges(
    w: World, monkeypatch: pytest.MonkeyPatch, races: int
) -> tuple[list[str], list[bool]]:
    """Someone pushes to delivery right before each of the first `races` merge pushes. Returns
    their commits, and per merge push whether its plan reused the command's earlier fetch."""
    from prodfix.adapters.forge.embedded.forge import EmbeddedForge

    original = EmbeddedForge.execute_merge
    theirs: list[str] = []
    reused: list[bool] = []

    def racing(self: EmbeddedForge, plan: Any) -> Any:
        reused.append(self._store.reused)
        if len(theirs) < races:
            n = len(theirs)
            theirs.append(_someone_pushes(w, "delivery", {f"theirs{n}.txt": f"theirs {n}\n"}))
        return original(self, plan)

    monkeypatch.setattr(EmbeddedForge, "execute_merge", racing)
    return theirs, reused


def test_race_push_to_delivery_between_read_and_merge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded forge's merge push leases delivery. The first plan reuses what the command
    read before (`pr merge` looked at the PR): a push that slipped in since is kept and the
    merge planned again on a fresh fetch; a push that slips in between that fresh read and the
    push is kept too, the merge exits 4, and running it again merges on top."""
    from prodfix.adapters.forge.embedded.forge import EmbeddedForge

    w = service_world(Sandbox(tmp_path / "sb"))
    fix_proposed_and_approved(w)
    original = EmbeddedForge.execute_merge
    theirs, reused = _racing_merges(w, monkeypatch, races=2)
    r = prodfix(w.work, "pr", "merge", "1")
    assert r.code == 4, r.out + r.err
    assert reused == [True, False]
    assert w.sb.g(w.sb.origin, "rev-parse", "refs/heads/delivery") == theirs[1]
    assert w.sb.g(w.sb.origin, "rev-parse", f"{theirs[1]}^") == theirs[0]  # both kept
    assert prs(w.sb, w.sb.origin)[1]["state"] == "open"
    monkeypatch.setattr(EmbeddedForge, "execute_merge", original)
    # nothing had happened: no run is left to continue; the merge again plans on the new tip
    assert run_states() == []
    assert "run the command again" in r.err
    again = prodfix(w.work, "pr", "merge", "1")
    assert again.code == 0, again.out + again.err
    tip = w.sb.g(w.sb.origin, "rev-parse", "refs/heads/delivery")
    assert w.sb.g(w.sb.origin, "rev-parse", f"{tip}^1") == theirs[1]  # on top, nothing lost
    assert prs(w.sb, w.sb.origin)[1]["state"] == "merged"


def test_a_push_since_the_commands_read_is_kept_and_merged_on_top(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One push to delivery after `pr merge` read the PR and before the merge push: the lease
    keeps it, the merge is planned again on a fresh fetch and lands on top of it."""
    w = service_world(Sandbox(tmp_path / "sb"))
    fix_proposed_and_approved(w)
    theirs, reused = _racing_merges(w, monkeypatch, races=1)
    r = prodfix(w.work, "pr", "merge", "1")
    assert r.code == 0, r.out + r.err
    assert reused == [True, False]
    tip = w.sb.g(w.sb.origin, "rev-parse", "refs/heads/delivery")
    assert w.sb.g(w.sb.origin, "rev-list", "--parents", "-n1", tip).split()[1:] == [
        theirs[0],
        w.sb.g(w.sb.origin, "rev-parse", "refs/prodfix/pulls/1/head"),
    ]
    assert prs(w.sb, w.sb.origin)[1]["state"] == "merged"


def test_race_push_to_fix_branch_between_propose_read_and_push(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """propose planned on the fix branch as `start` pushed it; someone pushes to it first: the
    lease rejects the whole atomic push, exit 4, their commit is never overwritten and the fix's
    record keeps no proposed head."""
    from prodfix.adapters import records

    w = service_world(Sandbox(tmp_path / "sb"))
    fix_committed(w)
    original = records.push
    theirs: list[str] = []

    def racing(repo: Any, remote: str, updates: Any) -> Any:
        if not theirs:
            theirs.append(_someone_pushes(w, "fix/npe", {"theirs.txt": "theirs\n"}))
        return original(repo, remote, updates)

    monkeypatch.setattr(records, "push", racing)
    r = prodfix(w.work, "propose")
    assert r.code == 4, r.out + r.err
    assert "someone else pushed" in r.err
    assert w.sb.g(w.sb.origin, "rev-parse", "refs/heads/fix/npe") == theirs[0]
    assert prs(w.sb, w.sb.origin) == {}
    assert remote_refs(w.sb, w.sb.origin)["refs/prodfix/fixes/npe"]["head"] is None
    monkeypatch.setattr(records, "push", original)
    assert run_states() == []  # the push was the first op: nothing to continue or abort
    again = prodfix(w.work, "propose")
    assert again.code == 2 and "has commits that your fix/npe does not" in again.err
    assert w.sb.g(w.sb.origin, "rev-parse", "refs/heads/fix/npe") == theirs[0]


def test_race_two_processes_on_one_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second prodfix waits for the lock (PRODFIX_LOCK_WAIT), then exits 2 naming the
    holder's pid."""
    import os
    import subprocess
    import sys
    import time

    from tests.scenario import service_toml

    w = service_world(Sandbox(tmp_path / "sb"), toml=service_toml(test="sleep 9"))
    holder = subprocess.Popen(
        [sys.executable, "-m", "prodfix", "-C", str(w.work), "test"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        locks = Path(os.environ["PRODFIX_HOME"]) / "locks"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if any(p.read_text().strip() == str(holder.pid) for p in locks.glob("*.lock")):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the holder never took the lock")
        before = heads(snapshot(w)["remotes"]["service"])
        monkeypatch.setenv("PRODFIX_LOCK_WAIT", "0.5")
        began = time.monotonic()
        r = prodfix(w.work, "start", "y")
        waited = time.monotonic() - began
        assert r.code == 2, r.out + r.err
        assert f"another prodfix process (pid {holder.pid})" in r.err and "next:" in r.err
        assert 0.5 <= waited < 5  # it waited for the lock as long as told, then gave up
        assert w.sb.g(w.work, "symbolic-ref", "--short", "HEAD") == "master"
        assert heads(snapshot(w)["remotes"]["service"]) == before
    finally:
        holder.kill()
        holder.communicate()


@pytest.mark.slow
def test_race_pr_merged_by_someone_else_while_next_waits(tmp_path: Path) -> None:
    """`next --wait` is polling; a colleague merges the PR with plain git: next sees it merged
    and goes on to the build (then waits for the back-merge PR's approval: Ctrl-C there)."""
    import signal
    import subprocess
    import sys

    w = service_world(Sandbox(tmp_path / "sb"))
    fix_proposed_and_approved(w)
    argv = [sys.executable, "-m", "prodfix", "-C", str(w.work), "next", "--wait"]
    # The waiter's progress lines on stderr drive the test (no fixed sleeps); the timeout only
    # bounds a waiter that never sees the merge (its stderr then ends and the test fails).
    waiter = subprocess.Popen(
        [*argv, "--interval", "1", "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=sigint_default,
    )
    assert waiter.stderr is not None
    seen = [_line_with(waiter.stderr, "… waiting for PR #1")]  # polling at the merge
    other = w.sb.root / "colleague"
    w.sb.g(w.sb.root, "clone", "-q", str(w.sb.origin), str(other))
    w.sb.checkout(other, "delivery")
    w.sb.g(other, "merge", "-q", "--no-ff", "-m", "merged by hand", "origin/fix/npe")
    w.sb.push(other, "delivery")
    seen.append(_line_with(waiter.stderr, "… waiting for PR #2"))  # built, back-merge opened
    waiter.send_signal(signal.SIGINT)
    out, err = waiter.communicate(timeout=60)
    err = "".join(seen) + err
    assert "waiting at merge" in out
    assert "work: build" in out, out + err  # it acted on the merge it observed
    shown = prodfix(w.work, "pr", "show", "1", "--json")
    assert json.loads(shown.out)["state"] == "merged", shown.out
    status = prodfix(w.work, "status", "--json")
    merge = [s for s in _steps(status.out) if s["id"] == "merge"]
    assert merge and merge[0]["state"] == "done", status.out


def _line_with(stream: IO[str], text: str) -> str:
    """The lines read from `stream` up to and including the first one containing `text`."""
    read = ""
    for line in stream:
        read += line
        if text in line:
            return read
    raise AssertionError(f"the process ended without printing {text!r}:\n{read}")


def _steps(text: str) -> list[dict[str, Any]]:
    doc = json.loads(text)
    return [s for f in doc["fixes"] for r in f["repos"] for s in r["steps"]]
