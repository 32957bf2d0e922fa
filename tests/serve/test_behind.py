"""How far each delivery branch is behind master, in the service: `/api/fixes` carries the
`deliveries` of `status --json` (the same numbers as a clone's `status`), and the dashboard
says it in a line with the sync command — from real repositories the service polls."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.cli import prodfix
from tests.gitfix import Sandbox
from tests.scenario import World, service_world
from tests.serve.htmltree import Node, parse
from tests.serve.test_polling import poll, service_for

DAY = 86_400
HOSTILE = "delivery-$(reboot)<b>\"x'&amp;"


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ct(w: World, rev: str) -> int:
    return int(w.sb.g(w.sb.origin, "log", "-1", "--format=%ct", rev))


def behind_section(html: str) -> Node:
    doc = parse(html)
    return next(
        s for s in doc.find_all("section") if s.attrs.get("aria-labelledby") == "h-deliveries"
    )


def synced_then_three_behind(w: World) -> tuple[int, int]:
    """delivery: master merged in by a marked sync; then master gains three commits, the first
    two days later. Returns (the sync merge's time, the first new master commit's time)."""
    seed = w.sb.root / "seed"
    w.sb.checkout(seed, "delivery")
    w.sb.merge(seed, "master", "Sync master into delivery\n\nProdfix-Sync: Ada monthly sync")
    w.sb.push(seed, "delivery")
    w.sb.checkout(seed, "master")
    w.sb.clock.tick(2 * DAY)
    for n in (1, 2, 3):
        w.sb.commit(seed, f"master: feature C{n}")
    w.sb.push(seed, "master")
    return ct(w, "delivery"), ct(w, "master~2")


def test_api_and_dashboard_say_how_far_delivery_is_behind_as_status_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = service_world(Sandbox(tmp_path / "sb"))
    synced, first = synced_then_three_behind(w)
    monkeypatch.setenv("PRODFIX_NOW", str(first + 9 * DAY + 3600))
    svc, client = service_for(w, tmp_path)
    assert poll(svc) == ["done"]

    expected = {
        "path": str(w.sb.origin),  # the served repository's name: the service's clone is no path
        "branch": "delivery",
        "behind_commits": 3,
        "behind_days": 9,
        "last_sync": iso(synced),
    }
    assert client.get("/api/fixes").json()["deliveries"] == [expected]

    # The same numbers as `status --json` in a clone of the same remote (only `path` differs).
    clone = w.sb.clone("observer")
    status = json.loads(prodfix(clone, "status", "--json").out)["deliveries"]
    assert status == [{**expected, "path": str(clone)}]

    section = behind_section(client.get("/fragment").text)
    (li,) = section.find("ul", "behind").find_all("li")
    assert li.text() == (
        f"origin: delivery: 3 commits behind master, oldest 9 days ago; "
        f"last synced {iso(synced)[:10]} next: prodfix sync --into delivery"
    )
    assert li.find("code").text() == "prodfix sync --into delivery"
    # information, not an alarm: nothing about being behind is red
    assert all("red" not in (n.attrs.get("class") or "") for n in li.walk())
    page = parse(client.get("/").text)
    assert page.find("main").find("ul", "behind").text() == li.text()  # inside the polled part


def test_a_hostile_delivery_branch_name_is_text_and_its_command_is_quoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = service_world(Sandbox(tmp_path / "sb"))
    seed = w.sb.root / "seed"
    w.sb.g(seed, "push", "-q", "origin", f"delivery:{HOSTILE}")  # cut where delivery is
    monkeypatch.setenv("PRODFIX_NOW", str(ct(w, "master") + DAY))
    svc, client = service_for(w, tmp_path)
    poll(svc)

    (hostile,) = [d for d in client.get("/api/fixes").json()["deliveries"] if "$" in d["branch"]]
    assert (hostile["branch"], hostile["behind_commits"], hostile["last_sync"]) == (
        HOSTILE,
        1,
        None,
    )
    html = client.get("/fragment").text
    assert "<b>" not in html and "&lt;b&gt;" in html
    section = behind_section(html)
    assert all(n.tag in {"section", "h2", "h3", "div", "table", "thead", "tbody", "tr", "th",
                         "td", "code", "span", "ul", "li", "p"} for n in section.walk())  # fmt: skip
    lines = [li.text() for li in section.find("ul", "behind").find_all("li")]
    assert lines == [
        "origin: delivery: 1 commit behind master, oldest 1 day ago; never synced"
        " next: prodfix sync --into delivery",
        f"origin: {HOSTILE}: 1 commit behind master, oldest 1 day ago; never synced"
        " next: prodfix sync --into 'delivery-$(reboot)<b>\"x'\"'\"'&amp;'",
    ]


def test_a_repository_without_a_delivery_branch_shows_none(tmp_path: Path) -> None:
    w = service_world(Sandbox(tmp_path / "sb"))
    w.sb.g(w.sb.root / "seed", "push", "-q", "origin", ":delivery")
    svc, client = service_for(w, tmp_path)
    assert poll(svc) == ["done"]
    assert client.get("/api/fixes").json() == {"version": 1, "fixes": [], "deliveries": []}
    section = behind_section(client.get("/fragment").text)
    assert section.find("p", "none").text() == "No delivery branch observed."
    assert section.find_all("ul", "behind") == []


def test_a_later_refresh_measures_from_the_refs_it_read_without_running_git(
    tmp_path: Path,
) -> None:
    """The measure takes the refs the observation listed (no fetch, no second listing) and
    what a pair of tips gives is remembered: once a poll measured, it costs no git process."""
    from prodfix.adapters import gitrun
    from prodfix.serve import core

    w = service_world(Sandbox(tmp_path / "sb"))
    synced_then_three_behind(w)
    svc, _ = service_for(w, tmp_path)
    poll(svc)
    (target,) = svc.served()
    ctx = svc.context(target)
    refs = ctx.repo.refs(f"refs/remotes/{ctx.remote}/")
    before = gitrun.spawned
    found = core._behind(ctx, refs)
    assert gitrun.spawned == before
    assert [(b.branch, b.behind_commits) for b in found.values()] == [("delivery", 3)]


def test_the_backmerge_age_is_measured_on_the_service_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like `status`, the service ages a missing back-merge by its clock (`PRODFIX_NOW` here),
    not by the wall clock: 5 days after the hotfix it is 5 days old, under the default limit."""
    from tests.scenario import land_on_delivery

    w = service_world(Sandbox(tmp_path / "sb"))
    hotfix = land_on_delivery(w, {"hotfix.py": "H = 1\n"})
    monkeypatch.setenv("PRODFIX_NOW", str(ct(w, hotfix) + 5 * DAY + 3600))
    svc, _ = service_for(w, tmp_path)
    assert poll(svc) == ["done"]
    (health,) = svc.snapshot()["deliveries"]
    assert (health["branch"], health["missing_backmerge_days"], health["red"]) == (
        "delivery",
        5,
        False,
    )
