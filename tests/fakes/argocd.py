"""A stateful fake Argo CD API server on 127.0.0.1 for tests.

Serves `GET /api/v1/applications/{name}` (with `refresh`, `project`) and `GET /api/version`
in the shapes of Argo CD's swagger (`v1alpha1Application`, grpc-gateway error bodies
`{"error", "code", "message"}`), checks the Bearer token, and logs every request.

An app moves one frame per poll through what Argo CD shows after a commit lands:
OutOfSync → Syncing (operation Running) → Synced/Progressing → Healthy, or Degraded, or
operation Failed. Like the real server, it notices the new commit only after a refresh
(without a webhook Argo CD polls git every ~3 minutes: `timeout.reconciliation`, Argo CD's
argocd-cm documentation).
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

Outcome = Literal["healthy", "degraded", "failed", "stuck"]

OP_RUNNING = "one or more tasks are running"
OP_OK = "successfully synced (all tasks run)"
OP_FAILED = 'one or more objects failed to apply, reason: Deployment.apps "web" is invalid'
PROGRESSING = "Waiting for rollout to finish: 1 old replicas are pending termination..."
DEGRADED = 'Deployment "web" exceeded its progress deadline'


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None
    status: int


@dataclass
class App:
    name: str
    revision: str
    images: list[str]
    project: str = "default"
    path: str = "apps/sre-triggers/us1"
    sync_status: str = "Synced"
    health: str = "Healthy"
    health_message: str = ""
    op_phase: str | None = "Succeeded"
    op_message: str = OP_OK
    op_revision: str | None = None  # defaults to `revision`
    retry_count: int = 0
    conditions: list[dict[str, str]] = field(default_factory=list)
    # rollout in flight: frames still to show, one per poll, once a refresh noticed the commit
    frames: list[dict[str, Any]] = field(default_factory=list)
    waiting_refresh: bool = False
    hold_polls: int = 0
    resource_version: int = 1000

    def __post_init__(self) -> None:
        # The last operation synced the revision the app starts at.
        self.op_revision = self.op_revision or self.revision

    def doc(self, url: str) -> dict[str, Any]:
        op_rev = self.op_revision
        status: dict[str, Any] = {
            "sync": {
                "status": self.sync_status,
                "revision": self.revision,
                "comparedTo": {
                    "source": {"repoURL": url, "path": self.path, "targetRevision": "master"},
                    "destination": {"server": "https://kubernetes.default.svc"},
                },
            },
            "health": {"status": self.health},
            "summary": {"images": list(self.images)},
            "reconciledAt": "2026-09-20T10:00:00Z",
        }
        if self.health_message:
            status["health"]["message"] = self.health_message
        if self.op_phase:
            status["operationState"] = {
                "operation": {"sync": {"revision": op_rev}, "retry": {}},
                "phase": self.op_phase,
                "message": self.op_message,
                "retryCount": self.retry_count,
                "startedAt": "2026-09-20T10:00:00Z",
                "syncResult": {"revision": op_rev, "resources": []},
            }
        if self.conditions:
            status["conditions"] = copy.deepcopy(self.conditions)
        return {
            "metadata": {
                "name": self.name,
                "namespace": "argocd",
                "resourceVersion": str(self.resource_version),
            },
            "spec": {
                "project": self.project,
                "source": {"repoURL": url, "path": self.path, "targetRevision": "master"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "sre"},
                "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
            },
            "status": status,
        }


def rollout(
    app: App, revision: str, image: str, outcome: Outcome, progressing_polls: int
) -> list[dict[str, Any]]:
    """The frames Argo CD shows while it syncs `revision` with `image` (repo:tag)."""
    repo = image.rsplit(":", 1)[0]
    old = [i for i in app.images if i.rsplit(":", 1)[0] == repo]
    others = [i for i in app.images if i.rsplit(":", 1)[0] != repo]
    # Argo CD compares against the new revision first, while the last operation (older
    # revision) is still what operationState shows: the stale-state race of argo-cd#542.
    frames: list[dict[str, Any]] = [
        {"revision": revision, "sync_status": "OutOfSync"},
        {"op_phase": "Running", "op_message": OP_RUNNING, "op_revision": revision},
    ]
    if outcome == "failed":
        frames.append({"op_phase": "Failed", "op_message": OP_FAILED, "retry_count": 2})
        return frames
    rolling = {
        "sync_status": "Synced",
        "op_phase": "Succeeded",
        "op_message": OP_OK,
        "health": "Progressing",
        "health_message": PROGRESSING,
        "images": [*others, *old, image],
    }
    frames += [rolling] + [{}] * (progressing_polls - 1)
    if outcome == "healthy":
        frames.append({"health": "Healthy", "health_message": "", "images": [*others, image]})
    elif outcome == "degraded":
        frames.append({"health": "Degraded", "health_message": DEGRADED})
    return frames  # "stuck": Progressing for ever


class FakeArgoCd:
    """`with FakeArgoCd(token) as argo:` → `argo.url`, `argo.apps`, `argo.requests`."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.apps: dict[str, App] = {}
        self.requests: list[Seen] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # A short poll interval: shutdown() waits for it, and tests start many servers.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> FakeArgoCd:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_app(self, name: str, *, revision: str, images: list[str], **kw: Any) -> App:
        with self.lock:
            app = self.apps[name] = App(name, revision, list(images), **kw)
            return app

    def deploy(
        self,
        name: str,
        *,
        revision: str,
        image: str,
        outcome: Outcome = "healthy",
        progressing_polls: int = 1,
        hold_polls: int = 0,
    ) -> None:
        """A commit landed on the target branch. From the next refresh on, the app shows the
        old state for `hold_polls` polls (the refresh included), then one frame per poll."""
        with self.lock:
            app = self.apps[name]
            app.frames = rollout(app, revision, image, outcome, progressing_polls)
            app.waiting_refresh = True
            app.hold_polls = hold_polls

    def polls(self, name: str) -> list[Seen]:
        path = f"/api/v1/applications/{name}"
        return [r for r in self.requests if r.path == path]

    def refreshes(self, name: str) -> int:
        return sum(1 for r in self.polls(name) if r.query.get("refresh") == ["normal"])

    # -- request handling (server thread) -------------------------------------------------
    def handle(self, method: str, target: str, authorization: str | None) -> tuple[int, Any]:
        parts = urlsplit(target)
        query = parse_qs(parts.query)
        with self.lock:
            status, body = self._answer(method, unquote(parts.path), query, authorization)
            self.requests.append(Seen(method, parts.path, query, authorization, status))
            return status, body

    def _answer(
        self, method: str, path: str, query: dict[str, list[str]], authorization: str | None
    ) -> tuple[int, Any]:
        if authorization is None:
            return 401, _err(16, "no session information")
        if authorization != f"Bearer {self.token}":
            return 401, _err(16, "invalid session: token signature is invalid")
        if method != "GET":
            return 405, _err(12, "Method Not Allowed")
        if path == "/api/version":
            return 200, {"Version": "v2.13.2+fake"}
        prefix = "/api/v1/applications/"
        if not path.startswith(prefix) or "/" in path[len(prefix) :]:
            return 404, _err(5, "Not Found")
        name = path[len(prefix) :]
        app = self.apps.get(name)
        projects = query.get("project")
        if app is None or (projects and app.project not in projects):
            # Without `project`, Argo CD hides whether an app exists (CVE-2022-41354).
            if not projects:
                return 403, _err(7, "permission denied")
            return 404, _err(5, f'applications.argoproj.io "{name}" not found')
        if query.get("refresh"):
            app.waiting_refresh = False
            app.resource_version += 1
        if app.frames and not app.waiting_refresh:
            if app.hold_polls:
                app.hold_polls -= 1
            else:
                for k, v in app.frames.pop(0).items():
                    setattr(app, k, copy.deepcopy(v))
                app.resource_version += 1
        return 200, app.doc("https://git.example.com/deployment-infra.git")


def _err(code: int, message: str) -> dict[str, Any]:
    return {"error": message, "code": code, "message": message}


def _handler(fake: FakeArgoCd) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else Nagle + delayed ACK add ~40 ms per keep-alive request
        # Headers and body go out in two writes; with Nagle on, a keep-alive client's delayed
        # ACK stalls each response by ~40 ms.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            status, body = fake.handle(method, self.path, self.headers.get("Authorization"))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the request log is `fake.requests`; stderr stays clean for capsys asserts

    return Handler
