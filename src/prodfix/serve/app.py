"""The ASGI application (Starlette): webhooks in, read-only pages and data out.

No endpoint changes anything on a forge or in git: the only write is storing a job. The
dashboard's routes (`prodfix.serve.dashboard.routes`) read `request.app.state.snapshot`, a
`snapshot.SnapshotSource`.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from prodfix.errors import ProdfixError
from prodfix.serve import queue, snapshot
from prodfix.serve.db import Database
from prodfix.serve.service import Service
from prodfix.serve.settings import Settings
from prodfix.serve.webhook import MAX_BODY, JobSpec, jobs_for, signature_ok

log = logging.getLogger("prodfix.serve")


def create_app(
    settings: Settings,
    db: Database,
    *,
    service: Service | None = None,
    secret: bytes | None = None,
) -> Starlette:
    svc = service or Service.build(settings, db)
    if secret is None:
        secret = settings.github.webhook_secret() if settings.github else b""
    routes: list[BaseRoute] = [
        Route("/webhook", _webhook, methods=["POST"]),
        Route("/api/fixes", _fixes, methods=["GET"]),
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/metrics", _metrics, methods=["GET"]),
    ]
    routes += _dashboard_routes()
    app = Starlette(routes=routes)
    app.state.service = svc
    app.state.secret = secret
    app.state.snapshot = svc.snapshot  # a snapshot.SnapshotSource
    return app


def _dashboard_routes() -> list[BaseRoute]:
    """The dashboard's pages when its package is installed (a separate module of the service)."""
    import importlib

    try:
        dash = importlib.import_module("prodfix.serve.dashboard").routes
    except ImportError:
        return [Route("/", _no_dashboard, methods=["GET"])]
    if isinstance(dash, list):
        return list(dash)
    return [Mount("/", app=dash)]


async def _no_dashboard(request: Request) -> Response:
    return PlainTextResponse(
        "prodfix serve: the dashboard is not part of this build; the data is at /api/fixes\n"
    )


def _service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


async def _webhook(request: Request) -> Response:
    svc = _service(request)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        svc.metrics.reject("too_large")
        return PlainTextResponse("payload too large\n", status_code=413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:  # a chunked body has no length to check up front
            svc.metrics.reject("too_large")
            return PlainTextResponse("payload too large\n", status_code=413)
    raw = bytes(body)
    if not signature_ok(request.app.state.secret, raw, request.headers.get("x-hub-signature-256")):
        svc.metrics.reject("signature")
        return PlainTextResponse("invalid or missing signature\n", status_code=401)
    event = request.headers.get("x-github-event", "")
    delivery = request.headers.get("x-github-delivery", "")
    if not delivery:
        svc.metrics.reject("no_delivery_id")
        return PlainTextResponse("missing X-GitHub-Delivery\n", status_code=400)
    specs = jobs_for(event, raw)
    if specs is None:
        svc.metrics.reject("ignored")
        return JSONResponse({"ignored": True}, status_code=202)
    try:
        new = await run_in_threadpool(_store, svc, delivery, event, specs)
    except ProdfixError as exc:
        log.warning("webhook %s not stored: %s", delivery, exc.message)
        svc.metrics.reject("database")
        return PlainTextResponse("cannot store the delivery now\n", status_code=503)
    if new:
        svc.metrics.webhook(event)
    else:
        svc.metrics.duplicate()
    return JSONResponse({"queued": len(specs) if new else 0, "duplicate": not new}, status_code=202)


def _store(svc: Service, delivery: str, event: str, specs: list[JobSpec]) -> bool:
    """The delivery and its jobs in one transaction: both or neither."""
    with svc.db.tx() as cur:
        if not queue.record_delivery(cur, delivery, event):
            return False
        for s in specs:
            queue.enqueue(cur, kind=s.kind, repo=s.repo, dedupe_key=s.dedupe_key, payload=s.payload)
    return True


async def _fixes(request: Request) -> Response:
    svc = _service(request)
    doc = await run_in_threadpool(svc.snapshot)
    return JSONResponse(snapshot.fixes_document(doc))


async def _healthz(request: Request) -> Response:
    ok = await run_in_threadpool(_service(request).db.ping)
    if ok:
        return PlainTextResponse("ok\n")
    return PlainTextResponse("database unavailable\n", status_code=503)


async def _metrics(request: Request) -> Response:
    svc = _service(request)

    def states() -> dict[str, int] | None:
        try:
            return queue.counts(svc.db)
        except ProdfixError:
            return None

    counts: Any = await run_in_threadpool(states)
    return PlainTextResponse(
        svc.metrics.render(counts), media_type="text/plain; version=0.0.4; charset=utf-8"
    )
