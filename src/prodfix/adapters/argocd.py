"""Argo CD: read an Application and judge whether a merge is really deployed.

REST with a bearer token over the shared Http helper: `GET /api/v1/applications/{name}` of Argo
CD's API (https://argo-cd.readthedocs.io/en/stable/developer-guide/api-docs/, whose Swagger
description is the server's assets/swagger.json). The Python clients on PyPI are stale generated
code, so this reads only the status fields the deploy gate needs and ignores the rest. `argocd
app wait` is not enough because it never compares the revision (akuity/kargo#6357): `assess`
gates on revision, operation, sync, health and live image.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from prodfix.adapters.http import Http, RetryPolicy
from prodfix.errors import Exit, ProdfixError, ServiceError
from prodfix.types import short

TOKEN_ENV = "ARGOCD_AUTH_TOKEN"
SERVICE = "Argo CD"
APP_KEY = "deploy.argocd.app"


@dataclass(frozen=True)
class Condition:
    type: str
    message: str


@dataclass(frozen=True)
class AppStatus:
    """The parts of `v1alpha1ApplicationStatus` the deploy gate reads."""

    name: str
    sync_status: str  # Synced | OutOfSync | Unknown
    sync_revision: str | None  # status.sync.revision (first of .revisions for multi-source)
    sync_revisions: tuple[str, ...]
    operation_phase: str | None  # Running | Terminating | Failed | Error | Succeeded
    operation_message: str
    operation_revision: str | None  # operationState.syncResult.revision (or operation's)
    retry_count: int
    health_status: str  # Healthy | Progressing | Degraded | Suspended | Missing | Unknown
    health_message: str
    images: tuple[str, ...]  # status.summary.images: the live image refs
    conditions: tuple[Condition, ...]

    def line(self) -> str:
        rev = (self.sync_revision or "?")[:7]
        op = self.operation_phase or "-"
        return f"{self.name}: rev {rev}, {self.sync_status}, operation {op}, {self.health_status}"


class ArgoCd:
    def __init__(
        self,
        base_url: str,
        *,
        token: str,
        verify: bool = True,
        project: str | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        # The token lives only in the httpx client's headers, never on this object, so no repr
        # or traceback local of ours can show it; the Http helper redacts it in debug logs.
        self.base_url = base_url.rstrip("/")
        # With `project=` Argo CD answers 404 for a missing app instead of a 403 that hides
        # whether it exists (CVE-2022-41354).
        self.project = project
        self.http = Http(
            SERVICE,
            self.base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            verify=verify,
            policy=policy,
            retry_hint=f"check that Argo CD at {self.base_url} is reachable, then run the command again",
        )

    @classmethod
    def from_env(
        cls,
        base_url: str,
        *,
        verify: bool = True,
        project: str | None = None,
        policy: RetryPolicy | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ArgoCd:
        token = (os.environ if env is None else env).get(TOKEN_ENV, "").strip()
        if not token:
            raise ProdfixError(
                f"no Argo CD token: {TOKEN_ENV} is not set",
                hint=f"export {TOKEN_ENV} (e.g. from `argocd account generate-token`), "
                "or remove deploy.argocd.url to skip the deploy wait",
                code=Exit.USAGE,
            )
        return cls(base_url, token=token, verify=verify, project=project, policy=policy)

    def close(self) -> None:
        self.http.close()

    def __repr__(self) -> str:
        return f"ArgoCd({self.base_url!r})"

    def get(self, app: str) -> AppStatus:
        return parse_app(self._get(app, {}), app)

    def refresh(self, app: str) -> AppStatus:
        # Refresh is a query parameter on get (`refresh=normal|hard` of ApplicationService.Get);
        # the server blocks until the app is re-compared and returns it (server/application/
        # application.go). `normal`, not `hard`: no need to drop the manifest cache.
        return parse_app(self._get(app, {"refresh": "normal"}), app)

    def _get(self, app: str, params: dict[str, str]) -> dict[str, Any]:
        if self.project:
            params = {**params, "project": self.project}
        resp = self.http.request(
            "GET", f"/api/v1/applications/{app}", params=params, expect=(401, 403, 404)
        )
        if resp.status_code == 401:
            raise ProdfixError(
                f"Argo CD at {self.base_url} rejected the token in {TOKEN_ENV} (HTTP 401)",
                hint=f"generate a new token (`argocd account generate-token`) and export {TOKEN_ENV}",
                code=Exit.USAGE,
            )
        if resp.status_code in (403, 404):
            # Argo CD answers 403 "permission denied" for a missing app unless `project` is
            # given, so both mean "not found or not readable" (argo-cd#21695, #23638).
            raise ProdfixError(
                f"Argo CD app {app!r} not found (HTTP {resp.status_code}), "
                "or the token may not read it",
                hint=f"check {APP_KEY} in .prodfix.toml (the template that names the app of a DC) "
                "and that the token's role allows `applications, get`",
                code=Exit.USAGE,
            )
        data = self.http.json(resp)
        if not isinstance(data, dict):
            raise ServiceError(f"Argo CD answered a non-object for app {app!r}")
        return data


def parse_app(doc: Mapping[str, Any], name: str) -> AppStatus:
    """`v1alpha1Application` JSON → AppStatus; absent fields read as empty (the API omits them)."""
    status = _obj(doc.get("status"))
    sync = _obj(status.get("sync"))
    health = _obj(status.get("health"))
    op = _obj(status.get("operationState"))
    result = _obj(op.get("syncResult"))
    requested = _obj(_obj(op.get("operation")).get("sync"))
    revisions = tuple(str(r) for r in sync.get("revisions") or ())
    revision = sync.get("revision") or (revisions[0] if revisions else None)
    op_rev = result.get("revision") or requested.get("revision")
    return AppStatus(
        name=str(_obj(doc.get("metadata")).get("name") or name),
        sync_status=str(sync.get("status") or "Unknown"),
        sync_revision=str(revision) if revision else None,
        sync_revisions=revisions or ((str(revision),) if revision else ()),
        operation_phase=str(op["phase"]) if op.get("phase") else None,
        operation_message=str(op.get("message") or ""),
        operation_revision=str(op_rev) if op_rev else None,
        retry_count=int(op.get("retryCount") or 0),
        health_status=str(health.get("status") or "Unknown"),
        health_message=str(health.get("message") or ""),
        images=tuple(str(i) for i in _obj(status.get("summary")).get("images") or ()),
        conditions=tuple(
            Condition(str(c.get("type", "")), str(c.get("message", "")))
            for c in status.get("conditions") or ()
            if isinstance(c, dict)
        ),
    )


def _obj(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


# -- the deploy gate: decide (pure), then wait (loop) ---------------------------------------

FAILED_PHASES = frozenset({"Failed", "Error"})


class AppReader(Protocol):
    def get(self, app: str) -> AppStatus: ...
    def refresh(self, app: str) -> AppStatus: ...


@dataclass(frozen=True)
class Verdict:
    done: bool
    waiting_for: str  # the first condition not met, in words; "" when done
    failure: str = ""  # set: the sync operation for our revision failed, stop now
    degraded: bool = False  # health Degraded at our revision; the loop applies the grace
    at_revision: bool = False


def assess(
    st: AppStatus, *, merge_commit: str, image: str, is_descendant: Callable[[str, str], bool]
) -> Verdict:
    """The first gate the app has not passed yet, in order: its sync revision at or past the
    merge, its sync operation Succeeded there, sync status Synced, health Healthy, and only the
    new image live (`status.summary.images`). The fields: Argo CD's Application status
    (https://argo-cd.readthedocs.io/en/stable/operator-manual/health/ for health)."""

    def reached(rev: str | None) -> bool:
        # `master` is shared and moves: Argo CD may already be past the merge, so a
        # descendant of the merge counts (equality alone could wait forever).
        return bool(rev) and (rev == merge_commit or is_descendant(str(rev), merge_commit))

    at_rev = any(reached(r) for r in st.sync_revisions)
    op_at_rev = reached(st.operation_revision) if st.operation_revision else at_rev
    # Fail fast only on a failure of *our* sync: a failed operation left over from an older
    # revision is stale info that the next auto-sync replaces (argo-cd#542).
    if st.operation_phase in FAILED_PHASES and op_at_rev:
        retries = f" after {st.retry_count} retries" if st.retry_count else ""
        return Verdict(
            False,
            "",
            failure=f"sync operation {st.operation_phase}{retries}: "
            f"{st.operation_message or '(no message)'}",
            at_revision=at_rev,
        )
    if not at_rev:
        now = ", ".join(short(r) for r in st.sync_revisions) or "none"
        return Verdict(False, f"revision {short(merge_commit)} or later (Argo CD has {now})")
    if st.operation_phase != "Succeeded" or not op_at_rev:
        phase = st.operation_phase or "no operation"
        what = f"sync operation Succeeded at {short(merge_commit)} or later (now {phase}"
        what += f" at {short(st.operation_revision)})" if st.operation_revision else ")"
        return Verdict(False, what, at_revision=True)
    if st.sync_status != "Synced":
        return Verdict(False, f"sync status Synced (now {st.sync_status})", at_revision=True)
    if st.health_status != "Healthy":
        msg = f": {st.health_message}" if st.health_message else ""
        return Verdict(
            False,
            f"health Healthy (now {st.health_status}{msg})",
            degraded=st.health_status == "Degraded",
            at_revision=True,
        )

    # Sync and health can be green while the live workload runs something else
    # (ignoreDifferences, a wrong path): the live image is the proof.
    # One parser for image references (the tag editor's): `nginx:1` and
    # `docker.io/library/nginx:1` are the same image.
    want = image_key(image)

    def is_new(ref: str) -> bool:
        got = image_key(ref)
        if got is None or want is None:
            return ref == image
        return got[1:] == want[1:] or (want[2] is None and got[1] == want[1])

    # "and not the old tag": during a rollout both tags are live.
    same_repo = [
        i for i in st.images if (k := image_key(i)) is not None and want and k[0] == want[0]
    ]
    if not same_repo or not all(is_new(i) for i in same_repo):
        live = ", ".join(same_repo) or "none of that repository"
        return Verdict(False, f"live image {image} only (live: {live})", at_revision=True)
    return Verdict(True, "", at_revision=True)


def image_key(ref: str) -> tuple[str, str | None, str | None] | None:
    """(canonical repository, tag, digest) of an image reference — `nginx:1` and
    `docker.io/library/nginx:1` give the same key; a registry port is not a tag."""
    from prodfix.adapters.gitops.images import normalise, parse_reference

    parsed = parse_reference(ref)
    if parsed is None:
        return None
    return normalise(parsed.repository), parsed.tag, parsed.digest
