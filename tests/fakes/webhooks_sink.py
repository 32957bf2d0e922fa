"""A loopback webhook receiver that records every request: a stand-in for a Slack incoming
webhook and a Microsoft Teams Workflows webhook.

Answers as the real ones do by default — Slack `200 ok` (text/plain), Teams `202 Accepted`
with an empty body — or as scripted per path with `answer(...)`: another status, a delay, a
connection closed without an answer.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SLACK_PATH = "/services/T0PRODFIX/B0PRODFIX/sLaCkSeCrEt0123456789abcd"
TEAMS_PATH = (
    "/workflows/4f1c0d9e/triggers/manual/paths/invoke"
    "?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=tEaMsSeCrEt-0123456789"
)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    delay: float = 0.0
    drop: bool = False  # close the connection without answering


@dataclass
class Received:
    method: str
    path: str  # with the query string
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


@dataclass
class WebhookSink:
    requests: list[Received] = field(default_factory=list)
    scripted: dict[str, list[Answer]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def slack_url(self) -> str:
        return self.origin + SLACK_PATH

    @property
    def teams_url(self) -> str:
        return self.origin + TEAMS_PATH

    def __enter__(self) -> WebhookSink:
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def answer(self, path: str, *answers: Answer) -> None:
        """The next requests to `path` get these answers, in order; then the default."""
        self.scripted.setdefault(path, []).extend(answers)

    def to(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    def _next(self, received: Received) -> Answer:
        with self._lock:
            self.requests.append(received)
            queue = self.scripted.get(received.path)
            if queue:
                return queue.pop(0)
        if received.path == TEAMS_PATH:
            return Answer(202)
        return Answer(200, b"ok")


def _handler(sink: WebhookSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else Nagle + delayed ACK add ~40 ms per keep-alive request

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            answer = sink._next(Received(self.command, self.path, headers, raw))
            if answer.delay:
                sink._stop.wait(answer.delay)
            if answer.drop:
                self.close_connection = True
                return
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        do_GET = do_POST

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the record is sink.requests

    return Handler
