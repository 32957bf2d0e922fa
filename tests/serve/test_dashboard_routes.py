"""The dashboard's routes in a Starlette app, through the ASGI test client (no sockets)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

import prodfix.serve
from prodfix.serve.dashboard import make_routes, routes
from prodfix.serve.snapshot import Snapshot
from tests.serve.dashboard_data import fix, progressed, repo, snapshot
from tests.serve.htmltree import parse

CSP = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
STATIC = Path(prodfix.serve.__file__).parent / "static"


class Source:
    """A `SnapshotSource` the test moves along."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.calls = 0

    def __call__(self) -> Snapshot:
        self.calls += 1
        return self.snap


def client(source: Source, *, prefix: str = "") -> TestClient:
    app = Starlette(routes=[Mount(prefix, routes=routes)] if prefix else routes)
    app.state.snapshot = source
    return TestClient(app)


def two_fixes() -> Snapshot:
    return snapshot(
        fix("npe-in-parser", repo(progressed("python", 2, "waiting"))),
        fix("tz-offset", repo(progressed("go", 7, "done"), kind="go"), done=True),
    )


def test_page_and_fragment_read_the_current_snapshot_with_strict_headers() -> None:
    source = Source(two_fixes())
    c = client(source)
    page = c.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    assert [h.text() for h in parse(page.text).find("section", "fixes").find_all("h3")] == [
        "npe-in-parser"
    ]
    source.snap = snapshot(fix("npe-in-parser", repo(progressed("python", 3, "ready"))))
    frag = c.get("/fragment")
    assert frag.status_code == 200
    assert frag.headers["content-security-policy"] == CSP
    doc = parse(frag.text)
    assert doc.find_all("html") == []  # a fragment, not a page
    assert [li.text() for li in doc.find_all("li", "step")][2:4] == [
        "propose done",
        "merge ready",
    ]
    assert source.calls == 2


def test_a_fix_page_and_an_unknown_fix() -> None:
    c = client(Source(two_fixes()))
    r = c.get("/fix/tz-offset")
    assert r.status_code == 200
    assert parse(r.text).find("h2").text() == "Fix tz-offset done"
    missing = c.get("/fix/%3Cb%3Enope")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "text/plain; charset=utf-8"
    assert missing.text == "no fix named '<b>nope'\n"


def test_static_files_are_the_vendored_ones() -> None:
    c = client(Source(two_fixes()))
    js = c.get("/static/htmx.min.js")
    assert js.status_code == 200
    assert js.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    assert hashlib.sha256(js.content).hexdigest() == (
        "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
    )
    for name in ("dashboard.css", "dashboard.js", "favicon.svg"):
        r = c.get(f"/static/{name}")
        assert (r.status_code, r.content) == (200, (STATIC / name).read_bytes())
    assert (STATIC / "htmx.LICENSE").read_text().startswith("Zero-Clause BSD")
    assert c.get("/static/../snapshot.py").status_code == 404


def test_read_only_and_mountable_under_a_prefix() -> None:
    c = client(Source(two_fixes()), prefix="/team")
    for path in ("/team/", "/team/fragment", "/team/fix/tz-offset"):
        assert c.post(path).status_code == 405
    doc = parse(c.get("/team/").text)
    assert doc.find("main").attrs["hx-get"] == "/team/fragment"
    assert c.get("/team/static/dashboard.css").status_code == 200


def test_a_plain_snapshot_object_works_too_and_the_polling_period_is_set() -> None:
    app = Starlette(routes=make_routes(refresh_s=2))
    app.state.snapshot = two_fixes()
    doc = parse(TestClient(app).get("/").text)
    assert doc.find("main").attrs["hx-trigger"] == "every 2s"


def test_large_pages_are_compressed_for_clients_that_accept_gzip() -> None:
    from tests.serve.dashboard_data import demo_snapshot

    c = client(Source(demo_snapshot(datetime.now(UTC))))
    plain = c.get("/fragment", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    raw = c.get("/fragment", headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.headers["content-security-policy"] == CSP
    # The client decompressed it (ages are relative to each request's clock: compared without).
    import re

    def ageless(text: str) -> str:
        return re.sub(r"\d+\s*[smhd]\b", "N", text)

    assert ageless(raw.text) == ageless(plain.text)
