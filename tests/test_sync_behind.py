"""How far each delivery branch is behind master, and when it was last synced: `status` (human
and JSON) and the measure itself, on real repositories with fixed dates."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from prodfix.adapters.git import Repo
from prodfix.workflow.behind import Behind, last_sync, measure
from tests.cli import prodfix
from tests.gitfix import EPOCH, Sandbox
from tests.scenario import FIXED_DATE, fixed_dates, service_world

DAY = 86_400
NOW = EPOCH + 5 * DAY


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    fixed_dates(monkeypatch)  # prodfix's own merges are dated FIXED_DATE
    monkeypatch.setenv("PRODFIX_NOW", str(NOW))


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_status_says_how_far_behind_and_when_synced(sandbox: Sandbox) -> None:
    w = service_world(sandbox)  # master: one commit (feature B, minutes after EPOCH) ahead
    seed = w.sb.root / "seed"
    w.sb.g(seed, "push", "-q", "origin", "master:delivery-2026.12")  # cut from master: level
    doc = json.loads(prodfix(w.work, "status", "--json").out)
    assert doc["deliveries"] == [
        {
            "path": str(w.work),
            "branch": "delivery",
            "behind_commits": 1,
            "behind_days": 4,
            "last_sync": None,
        },
        {
            "path": str(w.work),
            "branch": "delivery-2026.12",
            "behind_commits": 0,
            "behind_days": 0,
            "last_sync": None,
        },
    ]
    human = prodfix(w.work, "status").out.splitlines()
    assert human[-3:] == [
        "delivery: 1 commit behind master, oldest 4 days ago; never synced",
        "  next: prodfix sync --into delivery",
        "delivery-2026.12: has every commit of master; never synced",
    ]
    # the sync, tested, approved and merged: delivery is level, synced at the marked merge
    assert prodfix(w.work, "sync", "--into", "delivery").code == 0
    head = f"sync/delivery-{w.sb.g(w.sb.origin, 'rev-parse', '--short=7', 'master')}"
    w.sb.g(w.work, "switch", "-q", head)
    assert prodfix(w.work, "test").code == 0
    assert prodfix(w.work, "pr", "approve", "1").code == 0
    assert prodfix(w.work, "next", "--merge").code == 0
    after = json.loads(prodfix(w.work, "status", "--json").out)["deliveries"][0]
    synced = iso(int(FIXED_DATE.split()[0][1:]))
    assert after == {
        "path": str(w.work),
        "branch": "delivery",
        "behind_commits": 0,
        "behind_days": 0,
        "last_sync": synced,
    }
    assert (
        f"delivery: has every commit of master; last synced {synced[:10]}"
        in prodfix(w.work, "status").out
    )


def test_last_sync_needs_a_marked_merge(sandbox: Sandbox) -> None:
    sandbox.init_origin()
    w = sandbox.clone()
    sandbox.commit(w, "base")
    sandbox.g(w, "branch", "side")
    # a plain commit quoting the trailer is no sync; nor is a merge whose message only
    # mentions it inside a paragraph
    sandbox.g(w, "commit", "-q", "--allow-empty", "-m", "docs\n\nProdfix-Sync: ada why")
    sandbox.g(w, "switch", "-q", "side")
    sandbox.commit(w, "side work")
    sandbox.g(w, "switch", "-q", "master")
    sandbox.merge(
        w, "side", "Merge side\n\nProdfix-Sync: in the middle\nof a paragraph, then\n\nend"
    )
    repo = Repo(w)
    assert last_sync(repo, repo.head()) is None
    sandbox.g(w, "switch", "-q", "side")
    sandbox.commit(w, "more side work")
    sandbox.g(w, "switch", "-q", "master")
    marked = sandbox.merge(w, "side", "Merge side (sync)\n\nProdfix-Sync: Ada <a@x> monthly")
    when = int(sandbox.g(w, "log", "-1", "--format=%ct", marked))
    assert last_sync(repo, marked) == iso(when)
    assert last_sync(repo, marked) == iso(when)  # the second time from the cache


def test_measure_counts_every_commit_and_ages_the_oldest_landing(sandbox: Sandbox) -> None:
    sandbox.init_origin()
    w = sandbox.clone()
    sandbox.commit(w, "base")
    sandbox.g(w, "branch", "delivery")
    sandbox.g(w, "switch", "-q", "-c", "feature")
    sandbox.commit(w, "feature 1")
    sandbox.commit(w, "feature 2")
    sandbox.g(w, "switch", "-q", "master")
    sandbox.clock.tick(2 * DAY)
    merge = sandbox.merge(w, "feature", "Merge feature")
    landed = int(sandbox.g(w, "log", "-1", "--format=%ct", merge))
    repo = Repo(w)
    tips = {n: repo.out("rev-parse", n) for n in ("delivery", "master")}
    b = measure(
        repo,
        branch="delivery",
        delivery=tips["delivery"],
        mainline=tips["master"],
        now=landed + DAY,
    )
    # three commits (two on the branch and the merge), aged by the merge's landing: 1 day
    assert b == Behind("delivery", 3, 1, None)


def test_status_reads_no_more_of_git_for_it_once_the_tips_are_known(sandbox: Sandbox) -> None:
    """The refs come from the observation's own read, and what a pair of tips gives is cached:
    a second status spawns exactly the git processes it spawns without delivery branches."""
    import contextlib
    import io

    from prodfix.adapters import gitrun
    from prodfix.cli import main

    w = service_world(sandbox)

    def spawned(*args: str) -> int:
        before = gitrun.spawned
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            main(["-C", str(w.work), *args])
        return gitrun.spawned - before

    spawned("status", "--json")  # cold: the walks are made and remembered
    warm = spawned("status", "--json")
    (w.work / ".prodfix.toml").write_text(
        (w.work / ".prodfix.toml").read_text().replace('delivery = "delivery*"', 'delivery = "x*"')
    )
    without = spawned("status", "--json")  # no delivery branch matches: nothing to measure
    assert warm == without, (warm, without)
