"""The workflow's deploy step: `next` pins the tag the build recorded, wave by wave, and with
Argo CD configured the step is done only when every DC's app runs it (the fake Argo CD)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from prodfix.demo.sandbox import IMAGE_PY
from prodfix.workflow import argocd_step
from tests.cli import Run, prodfix
from tests.fakes.argocd import DEGRADED, FakeArgoCd
from tests.test_deploy_cmd import World, make_world

TAG = "delivery-1"  # ci/build.sh prints "$PRODFIX_DELIVERY-$PRODFIX_BUILD_NUMBER"
TOKEN = "argo-secret-token-123"
BUILD = 'type = "command"\ncommand = "sh ci/build.sh"'


def deploy_step(world: World) -> tuple[str, str]:
    r = prodfix(world.service, "status", "--all", "--json")
    assert r.code in (0, 1), r.err  # 1: a step failed
    steps = json.loads(r.out)["fixes"][0]["repos"][0]["steps"]
    step = next(s for s in steps if s["id"] == "deploy")
    return step["state"], step["detail"]


def ok(r: Run) -> Run:
    assert r.code == 0, r.out + r.err
    return r


def land_the_fix(world: World) -> None:
    """start → commit → test → propose → approve → next --merge (merge, build, deploy PR)."""
    s = world.service
    ok(prodfix(s, "start", "npe"))
    world.b.commit(s, "steps: no NPE", {"steps.py": "X = 2\n"})
    ok(prodfix(s, "test"))
    ok(prodfix(s, "propose"))
    ok(prodfix(s, "pr", "approve", "1"))
    ok(prodfix(s, "next", "--merge"))


def infra_prs(world: World) -> list[tuple[object, ...]]:
    return [(p["number"], p["head"], p["state"], p["title"]) for p in world.prs()]


def changed(world: World, branch: str) -> list[str]:
    return world.git(world.infra_remote, "diff", "--name-only", f"{branch}^", branch).splitlines()


@pytest.mark.slow
def test_waves_open_one_pr_per_wave_the_next_only_after_the_previous(tmp_path: Path) -> None:
    world = make_world(
        tmp_path / "sb",
        dcs=["us1", "us2", "eu1"],
        extra='waves = [["us1"], ["us2", "eu1"]]\n',
        build=BUILD,
    )
    land_the_fix(world)
    w1 = f"deploy/steps-python/{TAG}-wave-1"
    assert infra_prs(world) == [(1, w1, "open", f"Deploy steps-python:{TAG} to us1")]
    assert changed(world, w1) == [
        "apps/sre-triggers/us1/deployment.yaml",
        "apps/sre-triggers/us1/kustomization.yaml",
    ]
    state, detail = deploy_step(world)
    assert state == "waiting"
    assert detail == "PR #1 waiting: needs 1 approval"
    # Not approved: another `next --merge` neither merges nor opens the second wave.
    ok(prodfix(world.service, "next", "--merge"))
    assert len(world.prs()) == 1

    ok(prodfix(world.infra, "pr", "approve", "1"))
    r = ok(prodfix(world.service, "next", "--merge"))
    assert "merged deploy PR #1" in r.out
    w2 = f"deploy/steps-python/{TAG}-wave-2"
    assert infra_prs(world) == [
        (1, w1, "merged", f"Deploy steps-python:{TAG} to us1"),
        (2, w2, "open", f"Deploy steps-python:{TAG} to us2, eu1"),
    ]
    master = world.remote_refs()["refs/heads/master"]
    assert world.git(world.infra_remote, "rev-parse", f"{w2}^") == master  # on the merged wave 1
    assert changed(world, w2) == [
        "apps/sre-triggers/eu1/deployment.yaml",
        "apps/sre-triggers/eu1/kustomization.yaml",
        "apps/sre-triggers/us2/deployment.yaml",
        "apps/sre-triggers/us2/kustomization.yaml",
    ]

    ok(prodfix(world.infra, "pr", "approve", "2"))
    ok(prodfix(world.service, "next", "--merge"))
    state, detail = deploy_step(world)
    landing = world.git(world.service, "rev-parse", "origin/delivery")
    want = f"us1, us2, eu1 run {TAG}, built with {landing[:7]} in it (PR #1, #2)"
    assert (state, detail) == ("done", want)


@pytest.fixture
def argo(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeArgoCd]:
    monkeypatch.setenv("ARGOCD_AUTH_TOKEN", TOKEN)
    with FakeArgoCd(TOKEN) as fake:
        yield fake


def argo_world(tmp_path: Path, fake: FakeArgoCd) -> World:
    extra = f'argocd = {{ url = "{fake.url}", app = "sre-triggers-{{dc}}" }}\n'
    world = make_world(tmp_path / "sb", dcs=["us1", "us2"], extra=extra, build=BUILD)
    master = world.remote_refs()["refs/heads/master"]
    fake.add_app("sre-triggers-us1", revision=master, images=[f"{IMAGE_PY}:2026.11.0"])
    fake.add_app("sre-triggers-us2", revision=master, images=[f"{IMAGE_PY}:2026.10.3"])
    return world


def merge_the_deploy_pr(world: World) -> tuple[str, str]:
    land_the_fix(world)
    ok(prodfix(world.infra, "pr", "approve", "1"))
    r = ok(prodfix(world.service, "next", "--merge"))
    merge = world.remote_refs()["refs/heads/master"]
    assert f"merged deploy PR #1 as {merge[:7]}" in r.out
    return merge, r.out


def argo_noticed(fake: FakeArgoCd, merge: str, outcome: str) -> None:
    """The merge reached Argo CD (its git webhook): each app rolls out one frame per look."""
    for app in ("sre-triggers-us1", "sre-triggers-us2"):
        fake.deploy(app, revision=merge, image=f"{IMAGE_PY}:{TAG}", outcome=outcome)  # type: ignore[arg-type]
        fake.apps[app].waiting_refresh = False


def test_argocd_step_is_done_only_once_every_app_is_healthy(
    tmp_path: Path, argo: FakeArgoCd
) -> None:
    world = argo_world(tmp_path, argo)
    before = world.remote_refs()["refs/heads/master"]
    merge, out = merge_the_deploy_pr(world)
    # After the merge prodfix asked Argo CD to refresh each DC's app, then looked once: the
    # apps still run the old master, so the step waits on Argo CD.
    assert (
        "asked Argo CD to refresh sre-triggers-us1\nasked Argo CD to refresh sre-triggers-us2\n"
        in out
    )
    assert argo.refreshes("sre-triggers-us1") == argo.refreshes("sre-triggers-us2") == 1
    assert (
        f"steps-python: waiting at deploy: Argo CD app sre-triggers-us1: waiting for revision "
        f"{merge[:7]} or later (Argo CD has {before[:7]}) (who: Argo CD)\n"
    ) in out
    argo_noticed(argo, merge, "healthy")
    seen = []
    for _ in range(6):
        state, detail = deploy_step(world)
        seen.append(state)
        if state == "done":
            break
        assert state == "waiting", detail
        assert detail.startswith("Argo CD app sre-triggers-us1: waiting for ")
    # OutOfSync, Running, Progressing: waiting; the Healthy frame: done.
    assert seen == ["waiting", "waiting", "waiting", "done"]
    assert argo.apps["sre-triggers-us1"].health == "Healthy"
    landing = world.git(world.service, "rev-parse", "origin/delivery")
    assert detail == (
        f"us1, us2 run {TAG}, built with {landing[:7]} in it (PR #1); Argo CD: synced and Healthy"
    )
    for r in argo.requests:
        assert r.authorization == f"Bearer {TOKEN}"


def test_argocd_degraded_fails_the_step_with_argo_message_after_the_grace(
    tmp_path: Path, argo: FakeArgoCd, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = argo_world(tmp_path, argo)
    merge, _ = merge_the_deploy_pr(world)
    argo_noticed(argo, merge, "degraded")
    states = [deploy_step(world)[0] for _ in range(3)]  # OutOfSync, Running, Progressing
    assert states == ["waiting"] * 3
    state, detail = deploy_step(world)  # Degraded, first seen: within the grace
    assert state == "waiting"
    assert detail == (
        f"Argo CD app sre-triggers-us1: waiting for health Healthy (now Degraded: {DEGRADED})"
    )
    monkeypatch.setattr(argocd_step, "GRACE", 0.0)
    r = prodfix(world.service, "next")
    assert r.code == 1
    want = (
        r"prodfix: error: steps-python: step deploy failed: Argo CD app sre-triggers-us1: "
        rf"health Degraded for \d+s at {merge[:7]}: {re.escape(DEGRADED)}\n"
    )
    assert re.search(want, r.err), r.err
    assert deploy_step(world)[0] == "failed"
    assert TOKEN not in r.out + r.err
