"""The dashboard's routes: the page, the fragment htmx polls, one fix, and the static files.

Read-only: every route is a GET. The data comes from `request.app.state.snapshot`, the
`SnapshotSource` the app factory sets. Handlers are plain functions, so Starlette runs them in
its thread pool and a large render never stalls the event loop that answers webhooks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from prodfix.serve.dashboard.model import DashboardModel, build_model
from prodfix.serve.dashboard.render import REFRESH_S, render_fix, render_fragment, render_page
from prodfix.serve.snapshot import Snapshot

# Only the page's own files (no inline script or style, no other origin); see the CSP
# reference at https://developer.mozilla.org/docs/Web/HTTP/Headers/Content-Security-Policy
CSP = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
# A page of many fixes is megabytes of repetitive HTML, fetched again on every poll: gzip
# shrinks it about thirtyfold (3.1 MB to 104 kB for 2000 fixes) for phones on slow links.
GZIP = [Middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)]
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def snapshot_of(request: Request) -> Snapshot:
    source = request.app.state.snapshot
    return cast(Snapshot, source() if callable(source) else source)


def _model(request: Request) -> DashboardModel:
    return build_model(snapshot_of(request), datetime.now(UTC))


def _base(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def make_routes(*, refresh_s: int = REFRESH_S) -> list[BaseRoute]:
    """The routes to mount at the service's root; `refresh_s` is the page's polling period."""

    def page(request: Request) -> Response:
        html = render_page(_model(request), base=_base(request), refresh_s=refresh_s)
        return HTMLResponse(html, headers=HEADERS)

    def fragment(request: Request) -> Response:
        return HTMLResponse(render_fragment(_model(request), base=_base(request)), headers=HEADERS)

    def fix(request: Request) -> Response:
        name = str(request.path_params["name"])
        found = _model(request).fix(name)
        if found is None:
            return PlainTextResponse(f"no fix named {name!r}\n", status_code=404, headers=HEADERS)
        html = render_fix(found, base=_base(request), refresh_s=refresh_s)
        return HTMLResponse(html, headers=HEADERS)

    return [
        Route("/", page, methods=["GET"], name="dashboard", middleware=GZIP),
        Route("/fragment", fragment, methods=["GET"], name="dashboard-fragment", middleware=GZIP),
        Route("/fix/{name:path}", fix, methods=["GET"], name="dashboard-fix", middleware=GZIP),
        Mount("/static", StaticFiles(packages=[("prodfix.serve", "static")]), name="static"),
    ]


routes = make_routes()
