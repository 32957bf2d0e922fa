"""The fake GitHub's App side: JWT-authenticated App endpoints, installation tokens with an
expiry, webhook deliveries, and check runs. Wired into FakeGitHub by `enable_app`.

JWTs are verified with the App's public key the way GitHub does (RS256, `iss` = App id, `exp`
no more than 10 minutes after `iat`, not expired); installation tokens are added to the fake's
token table with their expiry and refused (401) afterwards.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.github import FakeGitHub, FakeRepo

from tests.fakes.github import DOCS

Answer = tuple[int, dict[str, str], Any]
APP_OPERATIONS = frozenset(
    {
        "apps/get-repo-installation",
        "apps/create-installation-access-token",
        "apps/list-webhook-deliveries",
        "apps/redeliver-webhook-delivery",
    }
)


@dataclass
class FakeDelivery:
    id: int
    guid: str
    delivered_at: str
    status_code: int
    event: str
    redelivery: bool = False


@dataclass
class AppState:
    app_id: int
    public_key: str
    installations: dict[tuple[str, str], int]  # (owner, repo) -> installation id
    token_ttl: float = 3600.0
    clock: Any = time.time
    token_expiry: dict[str, float] = field(default_factory=dict)
    tokens_issued: int = 0
    jwts_seen: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[FakeDelivery] = field(default_factory=list)
    redelivered: list[int] = field(default_factory=list)
    runs: dict[int, dict[str, Any]] = field(default_factory=dict)  # check runs by id
    runs_created: int = 0


def enable_app(fake: FakeGitHub, state: AppState) -> None:
    fake.app = state  # type: ignore[attr-defined]


def _error(status: int, message: str) -> Answer:
    return status, {}, {"message": message, "documentation_url": DOCS}


def verify_jwt(state: AppState, header: str) -> str | None:
    """None when the App's JWT is good, else GitHub's complaint."""
    import jwt

    token = header.removeprefix("Bearer ").strip()
    try:
        claims = jwt.decode(
            token,
            state.public_key,
            algorithms=["RS256"],
            options={"require": ["iat", "exp", "iss"]},
        )
    except jwt.PyJWTError as exc:
        return f"A JSON web token could not be decoded ({type(exc).__name__})"
    state.jwts_seen.append(claims)
    if str(claims["iss"]) != str(state.app_id):
        return "Integration not found"
    if claims["exp"] - claims["iat"] > 600:
        return "'Expiration time' claim ('exp') is too far in the future"
    if claims["iat"] > state.clock() + 1:
        return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
    return None


def token_expired(state: AppState, token: str) -> bool:
    expiry = state.token_expiry.get(token)
    return expiry is not None and expiry <= state.clock()


def app_route(
    fake: FakeGitHub, operation_id: str, params: dict[str, str], headers: dict[str, str]
) -> Answer:
    state: AppState = fake.app  # type: ignore[attr-defined]
    problem = verify_jwt(state, headers.get("authorization", ""))
    if problem is not None:
        return _error(401, problem)
    if operation_id == "apps/get-repo-installation":
        inst = state.installations.get((params["owner"], params["repo"]))
        if inst is None:
            return _error(404, "Not Found")
        out = fake.spec.skeleton(fake.spec.response_schema(operation_id, 200))
        out.update(id=inst, app_id=state.app_id)
        return 200, {}, out
    if operation_id == "apps/create-installation-access-token":
        inst = int(params["installation_id"])
        if inst not in state.installations.values():
            return _error(404, "Not Found")
        token = "ghs_" + secrets.token_hex(16)
        expiry = state.clock() + state.token_ttl
        state.token_expiry[token] = expiry
        state.tokens_issued += 1
        fake.tokens[token] = "prodfix[bot]"
        out = fake.spec.skeleton(fake.spec.response_schema(operation_id, 201))
        out.update(token=token, expires_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expiry)))
        return 201, {}, out
    if operation_id == "apps/list-webhook-deliveries":
        items = []
        for d in sorted(state.deliveries, key=lambda d: (d.delivered_at, d.id), reverse=True):
            it = fake.spec.skeleton({"$ref": "#/components/schemas/hook-delivery-item"})
            it.update(
                id=d.id,
                guid=d.guid,
                delivered_at=d.delivered_at,
                status_code=d.status_code,
                status="OK" if d.status_code < 400 else "failed",
                event=d.event,
                redelivery=d.redelivery,
            )
            items.append(it)
        return 200, {}, items
    if operation_id == "apps/redeliver-webhook-delivery":
        state.redelivered.append(int(params["delivery_id"]))
        return 202, {}, {}
    return _error(404, "Not Found")


# -- check runs (repository routes, token-authenticated) ---------------------------------------


def _run_json(fake: FakeGitHub, repo: FakeRepo, run: dict[str, Any]) -> dict[str, Any]:
    out = fake.spec.skeleton({"$ref": "#/components/schemas/check-run"})
    out.update(
        id=run["id"],
        name=run["name"],
        head_sha=run["head_sha"],
        status=run["status"],
        conclusion=run["conclusion"],
        url=f"{fake.api_url}/repos/{repo.owner}/{repo.name}/check-runs/{run['id']}",
        html_url=f"{fake.origin}/{repo.owner}/{repo.name}/runs/{run['id']}",
    )
    out["output"].update(
        title=run["output"].get("title"),
        summary=run["output"].get("summary"),
        annotations_count=len(run["annotations"]),
    )
    return out


def _sync(repo: FakeRepo, run: dict[str, Any]) -> None:
    repo.check_runs.setdefault(run["head_sha"], {})[run["name"]] = (
        run["status"],
        run["conclusion"],
    )


def create_run(
    fake: FakeGitHub, repo: FakeRepo, pr: Any, q: Any, b: dict[str, Any], login: str
) -> Answer:
    state: AppState = fake.app  # type: ignore[attr-defined]
    run = {
        "id": fake.new_id(),
        "repo": (repo.owner, repo.name),
        "name": b["name"],
        "head_sha": b["head_sha"],
        "status": b.get("status", "queued"),
        "conclusion": b.get("conclusion"),
        "output": dict(b.get("output") or {}),
        "annotations": list((b.get("output") or {}).get("annotations") or []),
        "history": [b.get("status", "queued")],
    }
    if run["conclusion"]:
        run["status"] = "completed"
    state.runs[run["id"]] = run
    state.runs_created += 1
    _sync(repo, run)
    return 201, {}, _run_json(fake, repo, run)


def update_run(
    fake: FakeGitHub, repo: FakeRepo, pr: Any, q: Any, b: dict[str, Any], login: str, run_id: int
) -> Answer:
    state: AppState = fake.app  # type: ignore[attr-defined]
    run = state.runs.get(run_id)
    if run is None or run["repo"] != (repo.owner, repo.name):
        return _error(404, "Not Found")
    if "status" in b:
        run["status"] = b["status"]
    if b.get("conclusion"):
        run["conclusion"], run["status"] = b["conclusion"], "completed"
    out = b.get("output") or {}
    run["output"].update({k: v for k, v in out.items() if k != "annotations"})
    run["annotations"] += list(out.get("annotations") or [])
    run["history"].append(run["status"])
    _sync(repo, run)
    return 200, {}, _run_json(fake, repo, run)


def list_runs(fake: FakeGitHub, repo: FakeRepo, ref: str, q: dict[str, list[str]]) -> Answer:
    state: AppState = fake.app  # type: ignore[attr-defined]
    name = q.get("check_name", [None])[-1]
    runs = [
        r
        for r in state.runs.values()
        if r["repo"] == (repo.owner, repo.name)
        and r["head_sha"] == ref
        and (name is None or r["name"] == name)
    ]
    if q.get("filter", ["latest"])[-1] == "latest":
        latest: dict[str, dict[str, Any]] = {}
        for r in sorted(runs, key=lambda r: r["id"]):
            latest[r["name"]] = r
        runs = list(latest.values())
    return (
        200,
        {},
        {"total_count": len(runs), "check_runs": [_run_json(fake, repo, r) for r in runs]},
    )


def list_comments(
    fake: FakeGitHub, repo: FakeRepo, pr: Any, q: dict[str, list[str]], b: Any, login: str
) -> Answer:
    from tests.fakes.github_routes import user

    items = []
    for i, body in enumerate(pr.comments):
        c = fake.spec.skeleton({"$ref": "#/components/schemas/issue-comment"})
        c.update(id=pr.number * 1000 + i, body=body, user=user(fake, login))
        items.append(c)
    headers, page = fake.page(
        items, q, f"{fake.prefix}/repos/{repo.owner}/{repo.name}/issues/{pr.number}/comments"
    )
    return 200, headers, page
