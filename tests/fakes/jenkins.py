"""A stateful fake Jenkins on 127.0.0.1 (a real HTTP server in a thread).

Shapes follow the REST API of Jenkins core and its plugins (their sources and the
/api pages of a running Jenkins): 201/303 + `Location: …/queue/item/N/` on triggers, 302 on multibranch scans, queue
`LeftItem` with `executable` or `cancelled`, build JSON with `ParametersAction` and the git
plugin's `BuildData`, `consoleText`, `logText/progressiveText` with `X-Text-Size`/`X-More-Data`,
`jobs[name,url]` with `%2F` item names, EnvInject's `injectedEnvVars` (`envMap`), artifacts,
crumbs bound to the session cookie, Basic auth (bad token → 401).

Branch filtering during a scan is implemented here independently of prodfix's editor (with
ElementTree and scm-api's documented semantics), so tests of the editor can fail.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

MB_CLASS = "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject"


@dataclass
class FakeBuild:
    job: FakeJob
    number: int
    queue_id: int
    branch: str
    sha: str
    params: dict[str, str]
    polls_left: int
    result: str  # the result it will end with
    building: bool = True
    description: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)

    def console(self) -> str:
        lines = [
            "Started by user prodfix",
            f"Checking out Revision {self.sha} (refs/remotes/origin/{self.branch})",
            "+ make image",
        ]
        if self.result == "FAILURE" or not self.building:
            lines += self.job.console_lines
        if not self.building:
            lines.append(f"Finished: {self.result}")
        return "\n".join(lines) + "\n"


@dataclass
class QueueItem:
    id: int
    job: FakeJob
    params: dict[str, str]
    polls_left: int
    cancelled: bool = False
    build: FakeBuild | None = None


@dataclass
class FakeJob:
    name: str  # item name as Jenkins stores it (a branch job: "fix%2Fx")
    config: bytes = b"<project/>"
    branch: str = ""  # the branch a plain job builds (or a branch job's branch)
    params: dict[str, str] = field(default_factory=dict)  # parameter name → default
    multibranch: bool = False
    children: dict[str, FakeJob] = field(default_factory=dict)
    parent: FakeJob | None = None
    builds: list[FakeBuild] = field(default_factory=list)
    build_polls: int = 1  # GETs of a build's api/json before it finishes
    queue_polls: int = 1  # GETs of a queue item before it leaves the queue
    description: str = ""  # template: {number} {branch} {sha}
    env: dict[str, str] = field(default_factory=dict)  # templates, EnvInject
    artifacts: dict[str, str] = field(default_factory=dict)  # path → template
    console_lines: list[str] = field(default_factory=lambda: ["ERROR: tests failed"])
    scans: int = 0

    def path(self) -> str:
        own = f"job/{quote(self.name, safe='')}/"
        return (self.parent.path() if self.parent else "") + own


class FakeJenkins:
    """State plus fault injection; `url` is the base the client is given."""

    def __init__(self, *, user: str = "ada", token: str = "t0ken", require_crumb: bool = False):
        self.user, self.token = user, token
        self.require_crumb = require_crumb
        self.jobs: dict[str, FakeJob] = {}
        self.heads: dict[str, str] = {}  # the git remote: branch → SHA the next build checks out
        self.queue: dict[int, QueueItem] = {}
        self.requests: list[tuple[str, str]] = []  # (method, raw path incl. query)
        self.config_posts: list[tuple[str, bytes]] = []
        self.fail_next = 0  # answer the next N requests with 500
        self.see_other_next = False  # answer the next trigger with 303 (coalesced item)
        self.cancel_next = False  # cancel the next queue item
        self.fail_next_build = False
        self._crumbs: dict[str, str] = {}  # session → crumb
        self._next_queue = 100
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jenkins/"
        # A short poll interval: shutdown() waits for it (0.5 s by default) in every test.
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def start(self) -> FakeJenkins:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- setup helpers ------------------------------------------------------------------------

    def add_job(self, name: str, **kw: Any) -> FakeJob:
        job = FakeJob(name, **kw)
        self.jobs[name] = job
        return job

    def add_branch_job(self, mb: FakeJob, branch: str) -> FakeJob:
        name = branch.replace("%", "%25").replace("/", "%2F")  # branch-api NameEncoder
        child = FakeJob(name, branch=branch, parent=mb, params=dict(mb.params))
        for attr in ("build_polls", "queue_polls", "description", "env", "artifacts"):
            setattr(child, attr, getattr(mb, attr))
        mb.children[name] = child
        return child

    def add_build(
        self, job: FakeJob, sha: str, result: str = "SUCCESS", **params: str
    ) -> FakeBuild:
        """A finished build, as if it ran before the test."""
        b = self._new_build(job, 0, params, sha=sha)
        b.building, b.result = False, result
        return b

    # -- behaviour ----------------------------------------------------------------------------

    def scan(self, mb: FakeJob) -> None:
        """Branch indexing: a job per head the filter admits; new ones build
        (the Branch API plugin's multibranch indexing)."""
        mb.scans += 1
        accept = _head_filter(mb.config)
        for branch in sorted(self.heads):
            name = branch.replace("%", "%25").replace("/", "%2F")
            if accept(branch) and name not in mb.children:
                self._enqueue(self.add_branch_job(mb, branch), {})

    def _enqueue(self, job: FakeJob, params: dict[str, str]) -> tuple[QueueItem, bool]:
        for item in self.queue.values():  # Jenkins merges identical waiting items (Queue.schedule2)
            if (
                item.job is job
                and item.build is None
                and not item.cancelled
                and item.params == params
            ):
                return item, False
        self._next_queue += 1
        item = QueueItem(self._next_queue, job, params, job.queue_polls)
        if self.cancel_next:
            item.cancelled, self.cancel_next = True, False
        self.queue[item.id] = item
        return item, True

    def _new_build(
        self, job: FakeJob, queue_id: int, params: dict[str, str], sha: str = ""
    ) -> FakeBuild:
        number = len(job.builds) + 1
        branch = job.branch
        fields = {"number": number, "branch": branch, "sha": sha or self.heads.get(branch, "")}
        b = FakeBuild(
            job,
            number,
            queue_id,
            branch,
            str(fields["sha"]),
            {**job.params, **params},
            job.build_polls,
            "FAILURE" if self.fail_next_build else "SUCCESS",
            description=job.description.format(**fields) or None,
            env={k: v.format(**fields) for k, v in job.env.items()},
            artifacts={k: v.format(**fields) for k, v in job.artifacts.items()},
        )
        self.fail_next_build = False
        job.builds.append(b)
        return b

    def _poll_queue(self, item: QueueItem) -> None:
        if item.cancelled or item.build:
            return
        item.polls_left -= 1
        if item.polls_left <= 0:
            item.build = self._new_build(item.job, item.id, item.params)

    def find(self, parts: list[str]) -> tuple[FakeJob | None, list[str]]:
        """Walk job/A/job/B/… path segments (already URL-decoded once)."""
        job: FakeJob | None = None
        while len(parts) >= 2 and parts[0] == "job":
            pool = job.children if job else self.jobs
            nxt = pool.get(parts[1])
            if nxt is None:
                return None, parts
            job, parts = nxt, parts[2:]
        return job, parts

    # -- JSON shapes --------------------------------------------------------------------------

    def job_json(self, job: FakeJob) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "_class": MB_CLASS if job.multibranch else "hudson.model.FreeStyleProject",
            "name": job.name,
            "url": self.url + job.path(),
            "builds": [self.build_json(b) for b in reversed(job.builds)],
            "property": [],
        }
        if job.params:
            doc["property"] = [
                {
                    "_class": "hudson.model.ParametersDefinitionProperty",
                    "parameterDefinitions": [
                        {"name": k, "type": "StringParameterDefinition"} for k in job.params
                    ],
                }
            ]
        if job.multibranch:
            doc["jobs"] = [
                {"name": c.name, "url": self.url + c.path()} for c in job.children.values()
            ]
        return doc

    def build_json(self, b: FakeBuild) -> dict[str, Any]:
        ref = f"refs/remotes/origin/{b.branch}"
        branch = [{"SHA1": b.sha, "name": ref}]
        actions: list[dict[str, Any]] = [{"_class": "hudson.model.CauseAction", "causes": []}]
        if b.params:
            actions.append(
                {
                    "_class": "hudson.model.ParametersAction",
                    "parameters": [
                        {"_class": "hudson.model.StringParameterValue", "name": k, "value": v}
                        for k, v in b.params.items()
                    ],
                }
            )
        actions.append(
            {
                "_class": "hudson.plugins.git.util.BuildData",
                "buildsByBranchName": {
                    ref: {"buildNumber": b.number, "marked": {"SHA1": b.sha, "branch": branch}}
                },
                "lastBuiltRevision": {"SHA1": b.sha, "branch": branch},
                "remoteUrls": ["https://ghe.example.com/team/app.git"],
            }
        )
        return {
            "_class": "hudson.model.FreeStyleBuild",
            "actions": actions,
            "artifacts": [
                {
                    "displayPath": p.rsplit("/", 1)[-1],
                    "fileName": p.rsplit("/", 1)[-1],
                    "relativePath": p,
                }
                for p in b.artifacts
            ],
            "building": b.building,
            "description": b.description,
            "number": b.number,
            "queueId": b.queue_id,
            "result": None if b.building else b.result,
            "url": f"{self.url}{b.job.path()}{b.number}/",
        }


def _head_filter(config: bytes) -> Any:
    root = ET.fromstring(config)
    for el in root.iter():
        tag = el.tag.replace("__", "_")
        if tag.endswith("WildcardSCMHeadFilterTrait"):
            words = (el.findtext("includes") or "*").split(" ")
            pats = [re.compile(".*".join(map(re.escape, w.split("*")))) for w in words if w]
            return lambda b: any(p.fullmatch(b) for p in pats)
        if tag.endswith("RegexSCMHeadFilterTrait"):
            java = el.findtext("regex") or ""
            parts = re.split(r"\\Q(.*?)\\E", java)
            rx = re.compile("".join(re.escape(p) if i % 2 else p for i, p in enumerate(parts)))
            return lambda b: rx.fullmatch(b) is not None
    return lambda b: True


def _handler(fake: FakeJenkins) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else Nagle + delayed ACK add ~40 ms per keep-alive request

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(
            self, code: int, body: bytes | str = b"", ctype: str = "text/plain", **headers: str
        ) -> None:
            data = body.encode() if isinstance(body, str) else body
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k.replace("_", "-"), v)
            self.end_headers()
            self.wfile.write(data)

        def _json(self, doc: Any) -> None:
            self._reply(200, json.dumps(doc), "application/json")

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            with fake._lock:
                fake.requests.append((method, self.path))
                if fake.fail_next > 0:
                    fake.fail_next -= 1
                    return self._reply(500, "<html>Oops! A problem occurred</html>", "text/html")
                if not self._authorised():
                    return None
                url = urlsplit(self.path)
                if not url.path.startswith("/jenkins/"):
                    return self._reply(404, "Not Found")
                parts = [unquote(p) for p in url.path[len("/jenkins/") :].strip("/").split("/")]
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                if method == "POST" and fake.require_crumb and not self._crumb_ok():
                    return self._reply(403, "No valid crumb was included in the request")
                return self._route(method, parts, query, body)

        def _authorised(self) -> bool:
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Basic "):
                self._reply(403, "Authentication required", X_You_Are_Authenticated_As="anonymous")
                return False
            user, _, token = base64.b64decode(auth[6:]).decode().partition(":")
            if (user, token) != (fake.user, fake.token):
                self._reply(401, f"Invalid password/token for user: {user}")
                return False
            return True

        def _crumb_ok(self) -> bool:
            session = self._session()
            return bool(session) and self.headers.get("Jenkins-Crumb") == fake._crumbs.get(session)

        def _session(self) -> str:
            m = re.search(r"JSESSIONID=(\w+)", self.headers.get("Cookie", ""))
            return m.group(1) if m else ""

        def _route(self, method: str, parts: list[str], q: dict[str, str], body: bytes) -> None:
            if parts[:2] == ["crumbIssuer", "api"]:
                if not fake.require_crumb:
                    return self._reply(404, "Not Found")
                session = self._session() or secrets.token_hex(8)
                crumb = fake._crumbs.setdefault(session, secrets.token_hex(16))
                doc = {
                    "_class": "hudson.security.csrf.DefaultCrumbIssuer",
                    "crumb": crumb,
                    "crumbRequestField": "Jenkins-Crumb",
                }
                data = json.dumps(doc)
                return self._reply(
                    200, data, "application/json", Set_Cookie=f"JSESSIONID={session}; Path=/"
                )
            if parts[:2] == ["queue", "item"] and len(parts) >= 3:
                item = fake.queue.get(int(parts[2]))
                if item is None:
                    return self._reply(404, "Not Found")
                fake._poll_queue(item)
                return self._json(self._queue_json(item))
            job, rest = fake.find(parts)
            if job is None:
                return self._reply(404, "Not Found")
            return self._job_route(method, job, rest, q, body)

        def _queue_json(self, item: QueueItem) -> dict[str, Any]:
            doc: dict[str, Any] = {
                "id": item.id,
                "task": {"name": item.job.name, "url": fake.url + item.job.path()},
            }
            if item.cancelled:
                return {
                    **doc,
                    "_class": "hudson.model.Queue$LeftItem",
                    "cancelled": True,
                    "executable": None,
                }
            if item.build is None:
                return {
                    **doc,
                    "_class": "hudson.model.Queue$WaitingItem",
                    "why": "In the quiet period",
                    "blocked": False,
                    "buildable": False,
                }
            exe = {
                "_class": "hudson.model.FreeStyleBuild",
                "number": item.build.number,
                "url": fake.build_json(item.build)["url"],
            }
            return {
                **doc,
                "_class": "hudson.model.Queue$LeftItem",
                "cancelled": False,
                "executable": exe,
            }

        def _job_route(
            self, method: str, job: FakeJob, rest: list[str], q: dict[str, str], body: bytes
        ) -> None:
            if rest == ["api", "json"] and method == "GET":
                return self._json(fake.job_json(job))
            if rest == ["config.xml"]:
                if method == "GET":
                    return self._reply(200, job.config, "application/xml")
                ET.fromstring(body)  # Jenkins rejects malformed XML
                job.config = body
                fake.config_posts.append((job.name, body))
                return self._reply(200)
            if method == "POST" and rest == ["build"] and job.multibranch:
                fake.scan(job)
                return self._reply(302, Location=fake.url + job.path())
            if method == "POST" and rest in (["build"], ["buildWithParameters"]):
                if (rest == ["build"]) != (not job.params):
                    return self._reply(
                        400, f"{job.name} is {'' if job.params else 'not '}parameterized"
                    )
                params = {k: v for k, v in q.items() if k != "delay"}
                item, created = fake._enqueue(job, params)
                code = 201 if created and not fake.see_other_next else 303
                fake.see_other_next = False
                return self._reply(code, Location=f"{fake.url}queue/item/{item.id}/")
            if rest and rest[0].isdigit() and int(rest[0]) <= len(job.builds):
                return self._build_route(job.builds[int(rest[0]) - 1], rest[1:], q)
            return self._reply(404, "Not Found")

        def _build_route(self, b: FakeBuild, rest: list[str], q: dict[str, str]) -> None:
            if rest == ["api", "json"]:
                if b.building:
                    b.polls_left -= 1
                    b.building = b.polls_left > 0
                return self._json(fake.build_json(b))
            if rest == ["consoleText"]:
                return self._reply(200, b.console())
            if rest == ["logText", "progressiveText"]:
                text = b.console().encode()
                start = int(q.get("start", "0"))
                more = {"X_More_Data": "true"} if b.building else {}
                return self._reply(200, text[start:], X_Text_Size=str(len(text)), **more)
            if rest == ["injectedEnvVars", "api", "json"]:
                if not b.env:
                    return self._reply(404, "Not Found")
                return self._json(
                    {"_class": "org.jenkinsci.plugins.envinject.EnvInjectVarList", "envMap": b.env}
                )
            if rest[:1] == ["artifact"] and "/".join(rest[1:]) in b.artifacts:
                return self._reply(200, b.artifacts["/".join(rest[1:])])
            return self._reply(404, "Not Found")

    return Handler


@contextmanager
def running(**kw: Any) -> Iterator[FakeJenkins]:
    """`with running() as fake:` — the fixture helper the lead can reuse."""
    fake = FakeJenkins(**kw).start()
    try:
        yield fake
    finally:
        fake.stop()
