"""A loopback HTTP server that answers from a script: one `Step` per request, in order.

Faults a real service shows: slow answers (past or under the client timeout), a connection
closed without an answer, a TCP reset, 5xx, 429 with Retry-After, and GitHub's 403 secondary
rate limit (`x-ratelimit-remaining: 0` + `x-ratelimit-reset`). When the script runs out, every
further request gets `then`.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal


@dataclass(frozen=True)
class Step:
    status: int = 200
    body: Any = field(default_factory=lambda: {"ok": True})  # bytes are sent as they are
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0  # seconds before answering (or before dropping)
    drop: Literal["close", "reset"] | None = None  # hang up instead of answering
    content_type: str = "application/json"


OK = Step()


def slow(seconds: float, then: Step = OK) -> Step:
    return Step(then.status, then.body, then.headers, delay=seconds)


def close() -> Step:
    return Step(drop="close")


def reset() -> Step:
    return Step(drop="reset")


def status(code: int, message: str = "upstream trouble") -> Step:
    return Step(code, {"message": message})


def too_many(retry_after: str) -> Step:
    return Step(429, {"message": "slow down"}, (("Retry-After", retry_after),))


SSO_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head>"
    b"<body><form action=/login>...</form></body></html>\n"
)


def sso_page() -> Step:
    """What a single-sign-on proxy answers in place of the API: a login page, with 200."""
    return Step(200, SSO_PAGE, content_type="text/html; charset=utf-8")


def sso_redirect(login: str = "https://sso.example.com/login?next=%2Fapi&token=abc") -> Step:
    """The same proxy when it redirects to its login page instead."""
    return Step(302, b"", (("Location", login),), content_type="text/html")


def secondary_rate_limit(reset_epoch: int) -> Step:
    return Step(
        403,
        {"message": "You have exceeded a secondary rate limit."},
        (("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", str(reset_epoch))),
    )


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]


class FlakyServer:
    """`with FlakyServer([status(503), OK]) as srv:` → `srv.url`, `srv.seen`."""

    def __init__(self, script: Iterable[Step], then: Step = OK) -> None:
        self.script = list(script)
        self.then = then
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()  # cuts every pending delay short at shutdown
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> FlakyServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def next_step(self, method: str, path: str, headers: dict[str, str]) -> Step:
        with self.lock:
            self.seen.append(Seen(method, path, headers))
            return self.script.pop(0) if self.script else self.then


def _handler(srv: FlakyServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else Nagle + delayed ACK add ~40 ms per keep-alive request
        disable_nagle_algorithm = True  # see tests/fakes/argocd.py

        def do_GET(self) -> None:
            self._serve()

        do_HEAD = do_OPTIONS = do_GET

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            self._serve()

        do_PUT = do_PATCH = do_DELETE = do_POST

        def _serve(self) -> None:
            step = srv.next_step(self.command, self.path, dict(self.headers.items()))
            if step.delay:
                srv.stopping.wait(step.delay)
            if step.drop:
                self.close_connection = True
                if step.drop == "reset":
                    # SO_LINGER 0: close() sends RST instead of FIN ("connection reset by peer").
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                return
            body = step.body
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            try:
                self.send_response(step.status)
                for k, v in step.headers:
                    self.send_header(k, v)
                self.send_header("Content-Type", step.content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client timed out and hung up first

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
