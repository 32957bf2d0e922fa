"""A stateful fake GitHub on 127.0.0.1, checked against GitHub's official descriptions.

Real HTTP (ThreadingHTTPServer on port 0), so the real client, its retries and pagination run
unchanged. Every request is matched to an operation of the vendored OpenAPI subset and its
parameters and body validated; every response body is validated against the schema for its
status. GraphQL queries are validated and *executed* against the vendored subset of GitHub's
GraphQL schema. Anything that does not validate lands in `violations`; the test fixture fails
the test on any. Serves github.com-style paths (`/repos/...`, `/graphql`) or GHE-style paths
(`/api/v3/repos/...`, `/api/graphql`) depending on `flavour`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.fakes.github_graphql_exec import execute
from tests.fakes.github_openapi import OpenApi, Operation

API_VERSIONS = ("2022-11-28",)
DOCS = "https://docs.github.com/rest"


@dataclass
class Review:
    id: int
    user: str
    state: str  # APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED
    commit_id: str


@dataclass
class FakePr:
    number: int
    title: str
    body: str
    head: str
    base: str
    head_sha: str
    author: str
    draft: bool = False
    state: str = "open"
    merged_at: str | None = None
    merged_by: str | None = None
    closed_at: str | None = None
    merge_commit_sha: str | None = None
    updated_at: str | None = None  # None: the fake's NOW
    mergeable_pending: int = 0  # GETs left that answer mergeable: null
    conflict: bool = False
    reviews: list[Review] = field(default_factory=list)
    threads: list[bool] = field(default_factory=list)  # resolved flags
    comments: list[str] = field(default_factory=list)


@dataclass
class FakeRepo:
    owner: str
    name: str
    branches: dict[str, str]
    default_branch: str = "master"
    allow_merge_commit: bool = True
    required_approvals: int = 0
    required_checks: tuple[str, ...] = ()
    require_resolved_threads: bool = False
    statuses: dict[str, dict[str, str]] = field(default_factory=dict)  # sha -> context -> state
    check_runs: dict[str, dict[str, tuple[str, str | None]]] = field(default_factory=dict)
    prs: dict[int, FakePr] = field(default_factory=dict)

    def approvals(self, pr: FakePr) -> int:
        latest: dict[str, str] = {}
        for r in pr.reviews:
            if r.user != pr.author and r.state != "COMMENTED":
                latest[r.user] = r.state
        return sum(1 for s in latest.values() if s == "APPROVED")

    def check_state(self, sha: str, name: str) -> str:
        """SUCCESS / PENDING / FAILURE / EXPECTED (never reported) for one check name."""
        if name in self.statuses.get(sha, {}):
            return self.statuses[sha][name].upper()
        if name in self.check_runs.get(sha, {}):
            status, conclusion = self.check_runs[sha][name]
            if status != "completed":
                return "PENDING"
            return "SUCCESS" if conclusion in ("success", "neutral", "skipped") else "FAILURE"
        return "EXPECTED"

    def merge_refusal(self, pr: FakePr) -> str | None:
        """GitHub's 405 message for the first thing blocking the merge, or None."""
        if pr.draft:
            return "Pull Request is still a draft"
        if pr.conflict:
            return "Pull Request is not mergeable"
        if self.approvals(pr) < self.required_approvals:
            n = self.required_approvals
            return f"At least {n} approving review{'s are' if n > 1 else ' is'} required by reviewers with write access."
        for name in self.required_checks:
            state = self.check_state(pr.head_sha, name)
            if state != "SUCCESS":
                verb = "is expected" if state in ("EXPECTED", "PENDING") else "has failed"
                return f'Required status check "{name}" {verb}.'
        if self.require_resolved_threads and not all(pr.threads):
            return "A conversation must be resolved before this pull request can be merged."
        return None


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: Any
    times: int


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: Any
    status: int


class FakeGitHub:
    def __init__(
        self,
        *,
        flavour: str = "github.com",
        tokens: dict[str, str] | None = None,
        scopes: str | None = "repo, read:org",
        mergeable_after: int = 0,
    ) -> None:
        self.flavour = flavour
        self.prefix = "/api/v3" if flavour == "ghes" else ""
        self.graphql_path = "/api/graphql" if flavour == "ghes" else "/graphql"
        self.spec = OpenApi.of(flavour)
        self.tokens = dict(tokens or {"t0ken": "alice"})
        self.scopes = scopes
        self.mergeable_after = mergeable_after
        self.repos: dict[tuple[str, str], FakeRepo] = {}
        self.log: list[Seen] = []
        self.violations: list[str] = []
        self.faults: list[Fault] = []
        # (method, path regex, released): a matching request waits until released is set
        self.holds: list[tuple[str, re.Pattern[str], threading.Event]] = []
        self.held = threading.Event()  # set when a request started waiting on a hold
        self._ids = itertools.count(1000)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> FakeGitHub:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        # A short poll interval: shutdown() waits for it (0.5 s by default) in every test.
        loop = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        loop.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def origin(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return self.origin + self.prefix

    @property
    def graphql_url(self) -> str:
        return self.origin + self.graphql_path

    # -- test set-up -----------------------------------------------------------------------------

    def add_repo(
        self, owner: str, name: str, branches: dict[str, str], **settings: Any
    ) -> FakeRepo:
        repo = FakeRepo(owner, name, dict(branches), **settings)
        self.repos[(owner, name)] = repo
        return repo

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """The next `times` requests whose path matches the regex `path` get `status`."""
        body = (
            body if body is not None else {"message": f"fault {status}", "documentation_url": DOCS}
        )
        self.faults.append(
            Fault(method, re.compile(path), status, dict(headers or {}), body, times)
        )

    def hold(self, method: str, path: str) -> threading.Event:
        """Requests matching `path` (a regex) wait until the returned event is set."""
        released = threading.Event()
        self.holds.append((method, re.compile(path), released))
        return released

    def requests_to(self, method: str, path_regex: str) -> list[Seen]:
        return [s for s in self.log if s.method == method and re.search(path_regex, s.path)]

    # -- request handling ------------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], Any]:
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query, keep_blank_values=True)
        body = json.loads(raw) if raw else None
        for m, rx, released in list(self.holds):
            if m == method and rx.search(parts.path) and not released.is_set():
                self.held.set()
                released.wait(60)
        with self._lock:
            try:
                status, extra, out = self._dispatch(method, parts.path, query, headers, body)
            except Exception as exc:  # a bug in the fake must fail the test, not hang the client
                self.violations.append(f"fake crashed on {method} {parts.path}: {exc!r}")
                status, extra, out = 500, {}, {"message": "fake crashed"}
            self.log.append(Seen(method, parts.path, query, headers, body, status))
        return status, extra, out

    def _dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: Any,
    ) -> tuple[int, dict[str, str], Any]:
        for fault in self.faults:
            if fault.times and fault.method == method and fault.path.search(path):
                fault.times -= 1
                found = self._operation(method, path)
                self.violations += self.spec.check_response(
                    found[0] if found else None, fault.status, fault.body
                )
                return fault.status, fault.headers, fault.body
        if "user-agent" not in headers:  # GitHub refuses requests without one
            return (
                403,
                {},
                {
                    "message": "Request forbidden by administrative rules.",
                    "documentation_url": DOCS,
                },
            )
        if headers.get("x-github-api-version", API_VERSIONS[0]) not in API_VERSIONS:
            return (
                400,
                {},
                {"message": "Unsupported 'X-GitHub-Api-Version' header", "documentation_url": DOCS},
            )
        token = re.sub(r"^(Bearer|token)\s+", "", headers.get("authorization", ""))
        login = self.tokens.get(token)
        app = getattr(self, "app", None)
        if login is not None and app is not None:
            from tests.fakes.github_app import token_expired

            if token_expired(app, token):
                login = None
        if path == self.graphql_path and method == "POST":
            if login is None:
                return 401, {}, {"message": "Bad credentials", "documentation_url": DOCS}
            return self._graphql(body)
        matched = self._operation(method, path)
        if matched is None:
            self.violations.append(f"{method} {path}: no such operation in the OpenAPI description")
            return 404, {}, {"message": "Not Found", "documentation_url": DOCS}
        op, params = matched
        problems = self.spec.check_request(op, params, query, body)
        if problems:
            self.violations += [f"{method} {path}: {p}" for p in problems]
            return (
                422,
                {},
                {"message": "Validation Failed", "documentation_url": DOCS, "errors": problems},
            )
        from tests.fakes.github_app import APP_OPERATIONS, app_route

        if op.operation_id in APP_OPERATIONS and app is not None:
            status, extra, out = app_route(self, op.operation_id, params, headers)
            self.violations += [
                f"{op.operation_id} -> {status}: {e}"
                for e in self.spec.check_response(op, status, out)
            ]
            return status, extra, out
        if login is None:
            return 401, {}, {"message": "Bad credentials", "documentation_url": DOCS}
        from tests.fakes.github_routes import route

        status, extra, out = route(self, op.operation_id, params, query, body, login)
        self.violations += [
            f"{op.operation_id} -> {status}: {e}" for e in self.spec.check_response(op, status, out)
        ]
        return status, extra, out

    def _operation(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        if not path.startswith(self.prefix + "/"):
            return None
        return self.spec.match(method, path.removeprefix(self.prefix))

    def _graphql(self, body: Any) -> tuple[int, dict[str, str], Any]:
        doc, errors = execute(self, body.get("query", ""), body.get("variables") or {})
        self.violations += errors
        return 200, {}, doc

    # -- helpers for routes -----------------------------------------------------------------------

    def new_id(self) -> int:
        return next(self._ids)

    def new_sha(self, *salt: object) -> str:
        return hashlib.sha1(repr((salt, self.new_id())).encode()).hexdigest()

    def page(
        self, items: list[Any], query: dict[str, list[str]], path: str
    ) -> tuple[dict[str, str], list[Any]]:
        """GitHub pagination: per_page (default 30, max 100), page, and a Link header."""
        per = min(int(query.get("per_page", ["30"])[-1]), 100)
        page = int(query.get("page", ["1"])[-1])
        last = max(1, -(-len(items) // per))
        rels = [("next", page + 1), ("last", last)] if page < last else []
        rels += [("first", 1), ("prev", page - 1)] if page > 1 else []
        links = []
        for rel, n in rels:
            q = {k: v[-1] for k, v in query.items()} | {"page": str(n)}
            links.append(f'<{self.origin}{path}?{urlencode(q)}>; rel="{rel}"')
        headers = {"Link": ", ".join(links)} if links else {}
        return headers, items[(page - 1) * per : page * per]


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGitHub
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else Nagle + delayed ACK add ~40 ms per keep-alive request

    def _serve(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, extra, out = self.fake.handle(self.command, self.path, headers, raw)
        data = b"" if out is None else json.dumps(out).encode()
        self.send_response(status)
        for k, v in extra.items():
            self.send_header(k, v)
        if data:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log is self.fake.log
