"""`prodfix demo --dir D` then `prodfix serve D/remotes/*.git`: the service shows the demo's
repositories, their recently finished fixes, and a fix started afterwards in a clone.

Checked on the directory the plain-install demo run leaves (tests/test_demo_install.py): the
demo is one of the slowest things the suite does, so one run serves both checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from prodfix.serve.app import create_app
from prodfix.serve.db import Database
from prodfix.serve.service import Service
from prodfix.serve.settings import RepoSpec, Settings
from tests.cli import prodfix
from tests.serve.test_polling import poll


def assert_the_demo_served(root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`root` is what `prodfix demo --dir` left (this writes to it: a fix is started)."""
    remotes = sorted(str(p) for p in (root / "remotes").glob("*.git"))
    monkeypatch.setenv("PRODFIX_HOME", str(tmp_path / "serve-home"))
    settings = Settings(repos=tuple(RepoSpec(r) for r in remotes))
    db = Database(f"sqlite:///{tmp_path / 'serve.sqlite3'}")
    db.migrate()
    svc = Service.build(settings, db)
    client = TestClient(create_app(settings, db, service=svc, secret=b""))
    poll(svc)
    fixes = {f["name"]: f for f in client.get("/api/fixes").json()["fixes"]}
    syncs = [n for n, f in fixes.items() if f["repos"][0]["kind"] == "sync"]
    assert [n.startswith("sync/delivery-2026.11-") for n in syncs] == [True]  # the demo's sync
    assert {n: f["done"] for n, f in fixes.items()} == {
        "parser-npe": True,
        "due-boundary": True,
        syncs[0]: True,
    }
    served = {f["repos"][0]["path"] for f in fixes.values()}
    assert served == {
        str(root / "remotes" / "steps-python.git"),
        str(root / "remotes" / "triggers-go.git"),
    }
    page = client.get("/").text
    assert "parser-npe" in page and "due-boundary" in page

    # Someone starts a fix in their clone: the next poll shows it, in flight.
    monkeypatch.setenv("PRODFIX_HOME", str(root / "state"))
    r = prodfix(root / "work" / "steps-python", "start", "late-fix", "--from", "delivery-2026.11")
    assert r.code == 0, r.err
    monkeypatch.setenv("PRODFIX_HOME", str(tmp_path / "serve-home"))
    poll(svc)
    fixes = {f["name"]: f for f in client.get("/api/fixes").json()["fixes"]}
    late = fixes["late-fix"]
    assert late["done"] is False
    states = {s["id"]: s["state"] for s in late["repos"][0]["steps"]}
    assert (states["branch"], states["test"]) == ("done", "waiting")
