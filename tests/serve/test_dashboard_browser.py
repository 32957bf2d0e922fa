"""The dashboard in a real browser: it loads, shows the fixes, follows a fix that moves
without a reload, logs no console error, and fits a 360 px wide phone screen."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.serve.browser import Source, chromium, require_browser, serve
from tests.serve.dashboard_data import advance, demo_snapshot, fix, progressed, repo

HOSTILE = "<img src=x onerror=alert(1)>\"'{{ 7*7 }}"
LONG = "fix/" + "averylongbranchnamewithnobreakopportunity" * 4


def test_missing_browser_skips_but_fails_in_ci(tmp_path: Path) -> None:
    gone = tmp_path / "chromium"
    with pytest.raises(pytest.skip.Exception, match="chromium missing: apt-get install"):
        require_browser(gone, env={})
    with pytest.raises(pytest.fail.Exception, match=r"cannot run in CI: .*chromium missing"):
        require_browser(gone, env={"CI": "true"})
    gone.touch()
    with pytest.raises(pytest.fail.Exception, match="no_such_playwright missing"):
        require_browser(gone, env={"CI": "1"}, module="no_such_playwright")


@pytest.mark.slow
def test_dashboard_in_chromium(tmp_path: Path) -> None:
    require_browser()
    from playwright.sync_api import ConsoleMessage, Request, expect

    snap = demo_snapshot(datetime.now(UTC))
    snap["fixes"].append(
        fix(HOSTILE, repo(progressed("python", 1, "waiting"), delivery=HOSTILE, branch=LONG))
    )
    source = Source(snap)
    with serve(source, refresh_s=1) as url, chromium(tmp_path / "profile") as ctx:
        page = ctx.new_page()
        errors: list[str] = []
        requests: list[str] = []
        dialogs: list[str] = []

        def on_console(m: ConsoleMessage) -> None:
            if m.type == "error":
                errors.append(m.text)

        def on_request(r: Request) -> None:
            requests.append(r.url)

        page.on("console", on_console)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", on_request)
        page.on("dialog", lambda d: dialogs.append(d.message))
        page.goto(url + "/")
        page.wait_for_function("window.htmx !== undefined")

        expect(page.locator("section.fixes article h3")).to_have_text(
            ["tz-offset failed", HOSTILE, "npe-in-parser", "retry-timeout"]
        )
        propose = page.locator("section.fixes article", has_text="npe-in-parser")
        propose = propose.locator(".repo").first.locator("li.step")
        expect(propose.nth(2)).to_have_text(re.compile(r"^propose waiting 25m PR #41$"))
        expect(propose.nth(3)).to_have_text("merge pending")

        # The fix moves; the page follows through htmx, without reloading.
        page.evaluate("document.body.dataset.loaded = 'once'")
        page.locator("#finished summary").click()
        source.set(advance(snap, "npe-in-parser"))
        expect(propose.nth(2)).to_have_text(re.compile(r"^propose done"), timeout=10_000)
        expect(propose.nth(3)).to_have_text("merge ready")
        assert page.evaluate("document.body.dataset.loaded") == "once"
        page.wait_for_timeout(1500)  # at least one more refresh: the opened section stays open
        expect(page.locator("#finished")).to_have_attribute("open", "")
        expect(page.locator("#finished li")).to_have_text(
            ["cache-key done 24h ago: team/steps-python", "log-level done 3d ago: team/steps-go"]
        )
        expect(page.locator("#finished li").first).to_be_visible()

        # Hostile names are text: no extra element, no script ran.
        expect(page.get_by_text(HOSTILE, exact=True).first).to_be_visible()
        expect(page.locator("script")).to_have_count(2)
        expect(page.locator("img")).to_have_count(0)

        # A phone: the page itself never scrolls sideways (tables scroll in their box).
        page.set_viewport_size({"width": 360, "height": 740})
        page.wait_for_timeout(1200)
        scroll_w, client_w = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert (scroll_w, client_w) == (360, 360)
        page.screenshot(path=str(tmp_path / "dashboard-360.png"), full_page=True)
        assert (tmp_path / "dashboard-360.png").stat().st_size > 10_000

        assert errors == []
        assert dialogs == []
        assert {r.split("?")[0] for r in requests if not r.startswith(url + "/")} == set()
        assert url + "/static/htmx.min.js" in requests
        assert requests.count(url + "/fragment") >= 2
