"""A thin client of Jenkins' remote access API; `jenkins.py` builds on it.

The API: https://www.jenkins.io/doc/book/using/remote-access-api/. Own client rather than
python-jenkins: that library (1.8) has no default timeout, raises on the 302/303 answers of
scans and coalesced triggers (`Jenkins.build_job` wants a Location), and splits branch names on
"/" (`_get_job_folder`). All HTTP goes through `adapters.http.Http` (timeouts, retries on 5xx,
redirects not followed).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from prodfix.adapters.build import jenkins_auth
from prodfix.adapters.build.jenkins_auth import Credentials
from prodfix.adapters.http import Http, RetryPolicy
from prodfix.errors import ProdfixError, ServiceError

if TYPE_CHECKING:
    import httpx

# 201 created; 302 a multibranch scan scheduled (ComputedFolder.doBuild forwards to the previous
# page); 303 merged into an item already queued (core's ParametersDefinitionProperty).
TRIGGERED = (201, 302, 303)
_CRUMB_TEXT = "crumb"


class JenkinsAuthError(ProdfixError):
    """401/403: names the credential source (never the token) and what to do."""


class JenkinsClient:
    def __init__(
        self,
        base_url: str,
        *,
        credentials: Credentials | None,
        verify: bool = True,
        policy: RetryPolicy | None = None,
        use_crumb: bool = False,
    ) -> None:
        self.base = base_url.rstrip("/") + "/"
        self.credentials = credentials
        auth = (credentials.user, credentials.token) if credentials else None
        self.http = Http("Jenkins", self.base, auth=auth, verify=verify, policy=policy)
        # API-token auth needs no crumb since Jenkins 2.96 (changelog 2.96, and
        # https://www.jenkins.io/doc/book/security/csrf-protection/); a crumb is fetched only
        # when configured or when the server refuses a POST for lack of one.
        self.use_crumb = use_crumb
        self._crumb: dict[str, str] | None = None

    @classmethod
    def from_env(cls, base_url: str, **kw: Any) -> JenkinsClient:
        return cls(base_url, credentials=jenkins_auth.find(base_url), **kw)

    def close(self) -> None:
        self.http.close()

    # -- addressing ---------------------------------------------------------------------------

    def job_path(self, job: str) -> str:
        """'folder/app' → 'job/folder/job/app/' (each segment URL-encoded once)."""
        return "".join(f"job/{quote(part, safe='')}/" for part in job.strip("/").split("/"))

    def rel(self, url: str) -> str:
        """A server-reported URL relative to our base. The host part may be an internal name
        behind a proxy (Jenkins writes absolute URLs from its configured root URL, Manage
        Jenkins » System » Jenkins URL), so only the path below Jenkins' root is kept."""
        path = urlsplit(url).path
        root = urlsplit(self.base).path
        return path[len(root) :] if path.startswith(root) else path.lstrip("/")

    def absolute(self, rel: str) -> str:
        return self.base + rel

    # -- requests -----------------------------------------------------------------------------

    def _send(
        self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kw: Any
    ) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if method == "POST" and (self.use_crumb or self._crumb):
            headers.update(self._crumb_header())
        resp = self.http.request(method, path, ok=ok, expect=(401, 403, 404), headers=headers, **kw)
        crumb_refused = resp.status_code == 403 and _CRUMB_TEXT in resp.text.lower()
        if crumb_refused and method == "POST" and not self._crumb:
            # Fetch once, then resend this one request (a crumb is bound to the web session:
            # https://www.jenkins.io/doc/book/security/csrf-protection/,
            # and the httpx client keeps the session cookie).
            self._crumb = self._fetch_crumb()
            if self._crumb:
                return self._send(method, path, ok=ok, headers=headers, **kw)
        if resp.status_code in (401, 403):
            raise self._auth_error(resp)
        if resp.status_code == 404 and 404 not in ok:
            raise ProdfixError(
                f"Jenkins: {method} /{path} was not found (HTTP 404)",
                hint="check build.url and the job name (folders as 'folder/job')",
            )
        return resp

    def _crumb_header(self) -> dict[str, str]:
        if self._crumb is None:
            self._crumb = self._fetch_crumb()
        return self._crumb

    def _fetch_crumb(self) -> dict[str, str]:
        resp = self.http.request("GET", "crumbIssuer/api/json", expect=(401, 403, 404))
        if resp.status_code == 404:  # CSRF protection off: no crumb issuer, no crumb needed
            return {}
        if resp.status_code in (401, 403):
            raise self._auth_error(resp)
        data = self.http.json(resp)
        return {str(data["crumbRequestField"]): str(data["crumb"])}

    def _auth_error(self, resp: httpx.Response) -> JenkinsAuthError:
        src = self.credentials.source if self.credentials else "no credentials (anonymous)"
        user = f" for user {self.credentials.user!r}" if self.credentials else ""
        what = "rejected the credentials" if resp.status_code == 401 else "refused access"
        return JenkinsAuthError(
            f"Jenkins {what}{user} (HTTP {resp.status_code} on {resp.request.method} "
            f"{resp.request.url.path}); credentials came from {src}",
            hint="create an API token in Jenkins (user menu → Security → API Token) and set "
            "JENKINS_USER and JENKINS_API_TOKEN, or a netrc entry for the Jenkins host; "
            "a 403 with valid credentials means the user lacks permission on this job",
        )

    def json(self, path: str, **params: str) -> dict[str, Any]:
        data = self.http.json(self._send("GET", path.rstrip("/") + "/api/json", params=params))
        if not isinstance(data, dict):
            raise ServiceError(f"Jenkins: /{path}api/json did not return an object")
        return data

    def text(self, path: str, **params: str) -> httpx.Response:
        return self._send("GET", path, params=params)

    def post(self, path: str, *, ok: tuple[int, ...] = (200,), **kw: Any) -> httpx.Response:
        return self._send("POST", path, ok=ok, **kw)

    # -- operations ---------------------------------------------------------------------------

    def config(self, job_path: str) -> bytes:
        return self.text(job_path + "config.xml").content

    def set_config(self, job_path: str, xml: bytes) -> None:
        self.post(job_path + "config.xml", content=xml, headers={"Content-Type": "application/xml"})

    def branch_job(self, mb_path: str, branch: str) -> str | None:
        """The sub-job of a multibranch project for `branch`, by the server's own `url`: its
        name is the branch with "/" as "%2F" (branch-api's NameEncoder)."""
        jobs = self.json(mb_path, tree="jobs[name,url]").get("jobs") or []
        want = branch_item_name(branch)
        for j in jobs:
            if j.get("name") == want:
                return self.rel(str(j["url"]))
        return None

    def trigger(self, job_path: str, params: Mapping[str, str] | None) -> str:
        """Queue a build; the queue item's path. 201 and 303 both mean queued (TRIGGERED)."""
        endpoint = "buildWithParameters" if params is not None else "build"
        resp = self.post(job_path + endpoint, ok=TRIGGERED, params=dict(params or {}))
        m = re.search(r"/queue/item/(\d+)/?$", resp.headers.get("location", ""))
        if not m:
            raise ServiceError(
                f"Jenkins queued no build for /{job_path} (HTTP {resp.status_code}, no queue "
                "Location)",
                hint="check that the job is enabled and buildable, then retry",
            )
        return f"queue/item/{m.group(1)}/"

    def scan(self, mb_path: str) -> None:
        # POST build on a multibranch project schedules a scan and answers 302 (remote access
        # API docs: "This also works for Multibranch Pipelines … It would trigger a scan").
        self.post(mb_path + "build", ok=TRIGGERED, params={"delay": "0"})

    def console_tail(self, build_path: str, lines: int = 40) -> str:
        text = self.text(build_path + "consoleText").text
        return "\n".join(text.rstrip("\n").splitlines()[-lines:])

    def artifact(self, build_path: str, path: str) -> str:
        return self.text(build_path + "artifact/" + quote(path.lstrip("/"))).text

    def env_vars(self, build_path: str) -> dict[str, str]:
        """EnvInject's injected variables; {} without the plugin."""
        resp = self._send("GET", build_path + "injectedEnvVars/api/json", ok=(200, 404))
        if resp.status_code == 404:
            return {}
        data = self.http.json(resp)
        env = data.get("envMap") if isinstance(data, dict) else None
        return {str(k): str(v) for k, v in (env or {}).items()}


def branch_item_name(branch: str) -> str:
    """branch-api's NameEncoder (jenkinsci/branch-api-plugin, jenkins/branch/NameEncoder.java):
    "/" → "%2F", "%" → "%25" and a few more."""
    table = {"%": "%25", "/": "%2F", "#": "%23", "?": "%3F", "[": "%5B", "]": "%5D", "\\": "%5C"}
    return "".join(table.get(ch, ch) for ch in branch)


@dataclass(frozen=True)
class Waiter:
    """Poll spacing and a bound for every wait; tests inject tiny values and a fake clock."""

    interval: float = 5.0
    timeout: float = 3600.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
