"""The workflow's `build` step on Jenkins, and the fix-job clean-up when the fix is done.

A whole fix through the CLI: embedded forge (PRs as refs in the bare origin), the fake Jenkins
building from that origin (tests/test_ci_e2e.py), deploy not configured (skipped).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from prodfix.adapters.build import jenkins_xml as jx
from tests.gitfix import Sandbox
from tests.test_ci_e2e import FIX, SENTINEL, THEIRS, World, _fast_polls, make_world

__all__ = ["_fast_polls"]  # the autouse fixture: short Jenkins polls in-process


@pytest.fixture
def world(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from make_world(sandbox, "freestyle", monkeypatch)


@pytest.fixture(params=["freestyle", "multibranch"])
def any_world(
    sandbox: Sandbox, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    yield from make_world(sandbox, request.param, monkeypatch)


def last_pr(w: World) -> str:
    r = w.run("pr", "list", "--json")
    assert r.code == 0, r.err
    return str(json.loads(r.out)[-1]["number"])


def approved_fix(w: World) -> str:
    """start, commit, test --ci, propose, approve: the fix PR is ready to merge. Its SHA."""
    assert w.run("start", "npe").code == 0
    sha = w.commit_fix()
    assert w.run("test", "--ci").code == 0
    r = w.run("propose")
    assert r.code == 0, r.err
    assert w.run("pr", "approve", last_pr(w)).code == 0
    return sha


def test_fix_reaching_done_removes_our_branch_from_the_job(any_world: World) -> None:
    w = any_world
    approved_fix(w)
    old, new = THEIRS[w.shape]
    w.job.config = w.job.config.replace(old, new)  # someone adds a pattern meanwhile
    r = w.run("next", "--merge")
    assert r.code == 0, r.err
    landing = w.sb.remote_refs()["refs/heads/delivery"]
    (build,) = w.delivery_job.builds
    assert (build.branch, build.sha, build.result) == ("delivery", landing, "SUCCESS")
    steps = w.steps()
    url = f"{w.fake.url}job/app-delivery/1/"
    assert {k: steps["build"][k] for k in ("id", "state", "detail", "sha", "tag", "url")} == {
        "id": "build",
        "state": "done",
        "detail": "build #1 → image tag delivery-1",
        "sha": landing,
        "tag": "delivery-1",
        "url": url,
    }
    assert steps["deploy"]["state"] == "skipped"
    assert steps["backmerge"]["state"] == "waiting"
    assert w.job.config != w.start_config.replace(old, new)  # not done yet: still listed
    assert w.run("pr", "approve", last_pr(w)).code == 0
    done = w.run("next", "--merge")
    assert done.code == 0, done.err
    assert f"remove {FIX} from the to-be-built branches of Jenkins job {w.job.name}" in done.out
    assert "fix npe is done" in done.out
    assert w.job.config == w.start_config.replace(old, new)  # ours gone, theirs kept
    assert len(w.delivery_job.builds) == 1  # status/next re-observed it, never built again
    assert {s["state"] for s in w.steps().values()} <= {"done", "skipped"}
    again = w.run("next")  # done stays done: nothing left to remove, no second POST
    assert again.code == 0, again.err
    posts = len(w.fake.config_posts)
    assert w.run("next").code == 0 and len(w.fake.config_posts) == posts


@pytest.mark.slow
def test_build_waits_for_ci_then_next_wait_polls_the_same_build(world: World) -> None:
    w = world
    w.delivery_job.build_polls = 4  # GETs of the build before it finishes
    approved_fix(w)
    r = w.run("next", "--merge")
    assert r.code == 0, r.err
    url = f"{w.fake.url}job/app-delivery/1/"
    assert f"waiting at build: build #1 running {url} (who: CI)" in r.out
    build = w.steps()["build"]  # status re-observes the recorded build by its id (a queue URL)
    assert (build["state"], build["detail"]) == ("waiting", f"build #1 running {url}")
    r = w.run("next", "--wait", "--interval", "1", "--timeout", "3")
    assert r.code == 4  # the build finished; now the back-merge PR waits for its review
    assert r.out.count("waiting at build: build #1 running") == 1
    assert "work: backmerge" in r.out and "still waiting after 3s" in r.err
    assert len(w.delivery_job.builds) == 1  # polled by id, never triggered twice
    steps = w.steps()
    assert steps["build"]["detail"] == "build #1 → image tag delivery-1"
    assert steps["backmerge"]["state"] == "waiting"


def test_failing_delivery_build_is_a_failed_step_with_the_url(world: World) -> None:
    w = world
    approved_fix(w)
    w.fake.fail_next_build = True
    r = w.run("next", "--merge")
    assert r.code == 1
    url = f"{w.fake.url}job/app-delivery/1/"
    assert f"step build failed: build #1 failure {url}: Finished: FAILURE" in r.err
    assert "`prodfix next --rebuild`" in r.err
    steps = w.steps(code=1)
    assert steps["build"]["state"] == "failed"
    assert steps["build"]["detail"] == f"build #1 failure {url}: Finished: FAILURE"
    assert steps["backmerge"]["state"] == "pending"
    assert w.run("next").code == 1  # still failed: not silently rebuilt
    assert len(w.delivery_job.builds) == 1
    # `--rebuild` retries it (a flaky build): a second build of the same commit
    again = w.run("next", "--rebuild")
    assert again.code == 0, again.err
    assert [b.result for b in w.delivery_job.builds] == ["FAILURE", "SUCCESS"]
    assert w.steps()["build"]["detail"] == "build #2 → image tag delivery-2"


def test_a_later_delivery_commit_after_a_failed_build_is_built_again(world: World) -> None:
    w = world
    approved_fix(w)
    w.fake.fail_next_build = True
    assert w.run("next", "--merge").code == 1
    # The build is fixed by a commit on delivery (its own reviewed fix): prodfix builds again.
    seed = w.sb.root / "seed"
    w.sb.g(seed, "fetch", "-q")
    w.sb.g(seed, "switch", "-q", "-C", "delivery", "origin/delivery")
    tip = w.sb.commit(seed, "build: pin the base image", {"Dockerfile": "FROM base:1\n"})
    w.sb.push(seed, "delivery")
    r = w.run("next")
    assert r.code == 0, r.err
    assert [(b.sha, b.result) for b in w.delivery_job.builds][1:] == [(tip, "SUCCESS")]
    assert w.steps()["build"]["detail"] == "build #2 → image tag delivery-2"


def test_sentinel_token_in_no_output_and_no_state_file(world: World) -> None:
    w = world
    approved_fix(w)
    assert w.run("next", "--merge").code == 0
    home = w.sb.root.parent / "prodfix-home"
    files = [f for f in home.rglob("*") if f.is_file()]
    assert files
    for f in files:
        assert SENTINEL.encode() not in f.read_bytes(), f
    assert jx.branches(w.job.config)[1][-1] == f"refs/heads/{FIX}"
