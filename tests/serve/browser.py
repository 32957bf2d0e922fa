"""The dashboard served by uvicorn on 127.0.0.1, seen through Debian's Chromium (Playwright).

Playwright drives the system's `/usr/bin/chromium`; its own browser download
(`playwright install`) is never used. Also a script, to refresh the screenshot in the docs:

    python -m tests.serve.browser docs/img/dashboard.png
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn
from starlette.applications import Starlette

from prodfix.serve.dashboard import make_routes
from prodfix.serve.snapshot import Snapshot

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

CHROMIUM = Path("/usr/bin/chromium")
# Headless, no sandbox (tests may run as root in a container), and nothing that phones home.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_browser(
    chromium: Path = CHROMIUM, env: Mapping[str, str] = os.environ, module: str = "playwright"
) -> None:
    """Skip when Chromium or Playwright is missing, except in CI (`CI` set), where it fails."""
    if not chromium.exists():
        reason = f"{chromium} missing: apt-get install -y chromium"
    elif importlib.util.find_spec(module) is None:
        reason = f"{module} missing: pip install -e '.[dev]'"
    else:
        return
    if env.get("CI"):
        pytest.fail(f"browser test cannot run in CI: {reason}")
    pytest.skip(reason)


class Source:
    """A `SnapshotSource` the test replaces while the server runs."""

    def __init__(self, snap: Snapshot) -> None:
        self._lock = threading.Lock()
        self._snap = snap

    def set(self, snap: Snapshot) -> None:
        with self._lock:
            self._snap = snap

    def __call__(self) -> Snapshot:
        with self._lock:
            return self._snap


@contextmanager
def serve(source: Source, *, refresh_s: int = 1) -> Iterator[str]:
    """The dashboard's routes in a Starlette app on a free port; yields its base URL."""
    app = Starlette(routes=make_routes(refresh_s=refresh_s))
    app.state.snapshot = source
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@contextmanager
def chromium(profile: Path, *, width: int = 1024, height: int = 768) -> Iterator[BrowserContext]:
    """A fresh Chromium profile in `profile`, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            viewport={"width": width, "height": height},
        )
        try:
            yield ctx
        finally:
            ctx.close()


def docs_screenshot(out: Path) -> None:
    from tests.serve.dashboard_data import demo_snapshot

    with (
        tempfile.TemporaryDirectory() as profile,
        serve(Source(demo_snapshot(datetime.now(UTC)))) as url,
        chromium(Path(profile)) as ctx,
    ):
        page = ctx.new_page()
        page.set_viewport_size({"width": 900, "height": 900})
        page.goto(url + "/")
        page.wait_for_function("window.htmx !== undefined")
        page.screenshot(path=str(out), full_page=True)


if __name__ == "__main__":
    docs_screenshot(Path(sys.argv[1]))
