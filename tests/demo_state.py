"""What `prodfix demo` leaves: the final state of every remote, asserted exactly, and every fix
done as `status` tells it (tests/test_demo_install.py runs the demo)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from prodfix.demo.sandbox import DCS, IMAGE_GO, IMAGE_PY
from tests.cli import prodfix


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ("git", *args), cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()


def assert_synced(r: Path, delivery: str, unreleased: str) -> str:
    """The sync episode: delivery's tip is the merge of the sync PR, whose second parent is
    the marked merge of master; master's unreleased work is on delivery through it, and
    nothing else of master. Returns delivery's tip before the sync."""
    tip = git(r, "rev-parse", delivery)
    before, sync = git(r, "rev-list", "--parents", "-n1", tip).split()[1:]
    assert git(r, "log", "-1", "--format=%s", tip).startswith("Merge pull request #3 from sync/")
    assert git(r, "rev-list", "--parents", "-n1", sync).split()[1:] == [
        before,
        git(r, "rev-parse", "master"),
    ]
    trailer = git(r, "log", "-1", "--format=%(trailers:key=Prodfix-Sync,valueonly)", sync)
    assert trailer == "Dana Demo <dana@example.com> monthly sync, agreed with the scheduler team"
    assert unreleased in git(r, "log", "--format=%s", delivery).splitlines()
    assert git(r, "rev-list", f"master..{delivery}").split() == [tip, sync]
    (record,) = git(r, "for-each-ref", "--format=%(refname)", "refs/prodfix/syncs/").split()
    doc = json.loads(git(r, "show", f"{record}:record.json"))
    assert doc["done_at"] and doc["head"] == sync and doc["kind"] == "sync"
    return before


def assert_final_state(root: Path, *, synced: bool = False) -> None:
    remotes = root / "remotes"
    for name, delivery, unreleased in (
        ("steps-python", "delivery-2026.11", "steps: new scheduler (unreleased)"),
        ("triggers-go", "delivery", "triggers: cron syntax (unreleased)"),
    ):
        r = remotes / f"{name}.git"
        sync_here = synced and name == "steps-python"
        tip = assert_synced(r, delivery, unreleased) if sync_here else git(r, "rev-parse", delivery)
        # the fix landed on delivery through the PR's merge commit, whose 2nd parent is the fix
        parents = git(r, "rev-list", "--parents", "-n1", tip).split()[1:]
        assert len(parents) == 2
        assert git(r, "log", "-1", "--format=%s", parents[1]) in (
            "parser: handle a missing line (NPE)",
            "triggers: fire at the boundary",
        )
        # ... and reached master through a true merge: the delivery tip is master's 2nd parent
        master = git(r, "rev-parse", "master")
        back = git(r, "rev-list", "--parents", "-n1", master).split()[1:]
        assert back == [back[0], tip]
        assert git(r, "log", "-1", "--format=%s", master).startswith(
            "Merge pull request #2 from backmerge/"
        )
        if not sync_here:  # no master-only commit reached delivery (but by the planned sync)
            on_delivery = git(r, "log", "--format=%s", delivery).splitlines()
            assert unreleased not in on_delivery
            assert git(r, "rev-list", "--count", f"master..{delivery}") == "0"
        # the fix is done: its branch and the throwaway back-merge head are deleted (as a
        # forge's auto-delete would), the PR's head was never delivery itself, the record says
        heads = git(r, "for-each-ref", "--format=%(refname:short)", "refs/heads/").splitlines()
        assert [h for h in heads if h.startswith(("fix/", "backmerge/", "sync/"))] == []
        prs = git(r, "for-each-ref", "--format=%(refname)", "refs/prodfix/pulls/*/head")
        # the fix PR and the back-merge PR (and the sync's), heads kept
        assert len(prs.splitlines()) == (3 if sync_here else 2)
        (record,) = git(r, "for-each-ref", "--format=%(refname)", "refs/prodfix/fixes/").split()
        doc = json.loads(git(r, "show", f"{record}:record.json"))
        assert doc["done_at"] and doc["head"] == parents[1]
    infra = remotes / "deployment-infra.git"
    for dc in DCS:
        kust = git(infra, "show", f"master:apps/sre-triggers/{dc}/kustomization.yaml")
        dep = git(infra, "show", f"master:apps/sre-triggers/{dc}/deployment.yaml")
        py_tag = "delivery-2026.11-2" if synced else "delivery-2026.11-1"  # the sync's build
        assert (
            f'newTag: "{py_tag}"  # steps-python' in kust
            or f"newTag: {py_tag}  # steps-python" in kust
        )
        assert (
            "newTag: delivery-1  # triggers-go" in kust
            or 'newTag: "delivery-1"  # triggers-go' in kust
        )
        assert f"image: {IMAGE_PY}:{py_tag}  # pinned per DC" in dep
        assert f'image: "{IMAGE_GO}:delivery-1"' in dep
        assert f"dc: {dc}" in dep  # everything else untouched


def status_json(root: Path, repo: str) -> dict[str, Any]:
    """Finished fixes leave `status`; `--all` shows them."""
    env = {"PRODFIX_HOME": str(root / "state")}
    clone = root / "work" / repo
    r = prodfix(clone, "status", "--json", env=env)
    shown = json.loads(r.out)
    assert (r.code, shown["version"], shown["fixes"]) == (0, 1, [])
    r = prodfix(clone, "status", "--all", "--json", env=env)
    assert r.code == 0, r.err
    doc: dict[str, Any] = json.loads(r.out)
    return doc


def assert_all_done(root: Path) -> None:
    fixes = {
        f["name"]: f
        for repo in ("steps-python", "triggers-go")
        for f in status_json(root, repo)["fixes"]
    }
    syncs = [f for f in fixes.values() if f["repos"][0]["kind"] == "sync"]
    for sync in syncs:  # the demo's sync episode: every step done, no back-merge needed
        [repo] = sync["repos"]
        assert sync["name"] == repo["branch"] and sync["name"].startswith("sync/")
        assert [(s["id"], s["state"]) for s in repo["steps"]] == [
            ("prepare", "done"),
            ("test", "done"),
            ("propose", "done"),
            ("merge", "done"),
            ("build", "done"),
            ("deploy", "done"),
            ("backmerge", "skipped"),
        ]
        del fixes[sync["name"]]
    assert set(fixes) == {"parser-npe", "due-boundary"}
    for fix in fixes.values():
        for repo in fix["repos"]:
            states = {s["id"]: s["state"] for s in repo["steps"]}
            expected_test = "done" if repo["kind"] == "python" else states["test"]
            assert states["test"] == expected_test
            assert all(v in ("done", "skipped") for v in states.values()), states
            assert [s["id"] for s in repo["steps"]] == (
                ["branch", "test", "propose", "merge", "build", "deploy", "backmerge"]
                if repo["kind"] == "python"
                else ["branch", "test", "propose", "merge", "build", "backmerge", "deploy"]
            )
