"""Polling a repository on the embedded forge (no webhooks there): the fixes of `status` in
`/api/fixes`, the policy verdict recorded and said once in a PR comment, and the back-merge
PR opened once after the fix lands on delivery — all from the service's own clone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from prodfix.serve import queue
from prodfix.serve.app import create_app
from prodfix.serve.db import Database
from prodfix.serve.service import Service
from prodfix.serve.settings import RepoSpec, Settings
from prodfix.serve.worker import Poller, Workers
from tests.gitfix import Sandbox
from tests.scenario import World, fix_proposed_and_approved, prs, service_toml, service_world


def service_for(w: World, tmp: Path) -> tuple[Service, TestClient]:
    settings = Settings(repos=(RepoSpec(str(w.sb.origin)),))
    db = Database(f"sqlite:///{tmp / 'serve.sqlite3'}")
    db.migrate()
    svc = Service.build(settings, db)
    return svc, TestClient(create_app(settings, db, service=svc, secret=b""))


def poll(svc: Service) -> list[str]:
    Poller(svc, interval=3600).poll_once()
    workers = Workers(svc, count=0, lease=60)
    states = []
    while (job := queue.claim(svc.db, "t", lease=60)) is not None:
        states.append(workers.run_one(job, "t"))
    return states


def test_polling_shows_fixes_judges_prs_once_and_opens_the_backmerge_once(tmp_path: Path) -> None:
    w = service_world(Sandbox(tmp_path / "sb"))
    fix_proposed_and_approved(w)
    svc, client = service_for(w, tmp_path)
    assert poll(svc) == ["done"]

    (fix,) = client.get("/api/fixes").json()["fixes"]
    (repo,) = fix["repos"]
    assert (fix["name"], repo["branch"], repo["delivery"], repo["path"]) == (
        "npe", "fix/npe", "delivery", str(w.sb.origin),
    )  # fmt: skip
    steps = {s["id"]: s for s in repo["steps"]}
    assert list(steps) == ["branch", "test", "propose", "merge", "build", "deploy", "backmerge"]
    assert steps["propose"]["state"] == "done" and steps["propose"]["pr"] == 1
    assert set(steps["branch"]) == {"id", "state", "detail", "pr", "url", "sha", "tag", "since"}

    (verdict,) = svc.snapshot()["policy"]
    assert (verdict["repo"], verdict["pr"], verdict["conclusion"]) == (
        str(w.sb.origin),
        1,
        "success",
    )
    assert poll(svc) == ["done"]  # nothing changed: no second comment
    meta = json.loads(w.sb.g(w.sb.origin, "show", "refs/prodfix/pulls/1/meta:pr.json"))
    comments = meta["comments"]
    assert len(comments) == 1 and "prodfix/policy: success" in comments[0]["body"]

    w.ok("pr", "merge", "1")
    poll(svc)
    poll(svc)
    backmerges = [p for p in prs(w.sb, w.sb.origin).values() if p["head"].startswith("backmerge/")]
    assert len(backmerges) == 1 and backmerges[0]["base"] == "master"
    delivery_tip = w.sb.remote_refs()["refs/heads/delivery"]
    assert backmerges[0]["head"] == f"backmerge/delivery-{delivery_tip[:7]}"
    assert w.sb.remote_refs()[f"refs/heads/{backmerges[0]['head']}"] == delivery_tip
    snap = svc.snapshot()
    assert [(b["number"], b["delivery"]) for b in snap["backmerge_prs"]] == [
        (backmerges[0]["number"], "delivery")
    ]
    assert json.loads(json.dumps(snap)) == snap  # plain JSON all the way (the DB cache)


def test_the_service_never_touches_a_users_checkout(tmp_path: Path) -> None:
    w = service_world(Sandbox(tmp_path / "sb"))
    before = w.sb.g(w.work, "for-each-ref")
    svc, _ = service_for(w, tmp_path)
    poll(svc)
    assert w.sb.g(w.work, "for-each-ref") == before
    clones = list((Path(str(tmp_path)) / "prodfix-home" / "serve" / "clones").iterdir())
    assert len(clones) == 1 and (clones[0] / "HEAD").exists()


@pytest.mark.slow
def test_advance_fixes_builds_a_merged_fix_and_opens_its_deploy_pr(tmp_path: Path) -> None:
    """With `[policy] advance-fixes`, the service runs the same reconcile step as `next` for
    each fix in flight — building and opening the deploy PR, never merging anything."""
    from dataclasses import replace

    sb = Sandbox(tmp_path / "sb")
    # A served repository names its GitOps repository by URL (the service has no checkouts).
    toml = service_toml(deploy=True).replace('"../deploy"', f'"{sb.root / "dep" / "origin.git"}"')
    w = service_world(sb, deploy=True, toml=toml)
    fix_proposed_and_approved(w)
    w.ok("pr", "merge", "1")
    svc, client = service_for(w, tmp_path)
    svc.settings = replace(svc.settings, advance_fixes=True)
    assert poll(svc) == ["done"]
    builds = [r for r in w.sb.remote_refs() if r.startswith("refs/prodfix/builds/")]
    assert builds == ["refs/prodfix/builds/1"]
    deploy_prs = prs(w.sb, w.bares["deploy"])
    assert [(p["head"], p["state"]) for p in deploy_prs.values()] == [
        ("deploy/svc/delivery-1", "open")
    ]
    fix = client.get("/api/fixes").json()["fixes"][0]
    steps = {s["id"]: s["state"] for s in fix["repos"][0]["steps"]}
    assert (steps["build"], steps["deploy"]) == ("done", "waiting")  # on a reviewer now
    assert poll(svc) == ["done"]  # nothing new: no second build, no second PR
    assert [r for r in w.sb.remote_refs() if r.startswith("refs/prodfix/builds/")] == builds
    assert len(prs(w.sb, w.bares["deploy"])) == 1
