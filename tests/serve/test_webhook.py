"""`POST /webhook` through the real ASGI app: signature first, size cap, ignored events,
deliveries stored once, and nothing stored when anything is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from prodfix.serve.app import create_app
from prodfix.serve.db import Database
from prodfix.serve.settings import RepoSpec, Settings
from prodfix.serve.webhook import MAX_BODY
from tests.serve.helpers import SECRET, example, pr_event, push_event, signed


@pytest.fixture
def db(tmp_path: Path) -> Database:
    d = Database(f"sqlite:///{tmp_path / 's.sqlite3'}")
    d.migrate()
    return d


@pytest.fixture
def client(db: Database, tmp_path: Path) -> TestClient:
    settings = Settings(repos=(RepoSpec(str(tmp_path)),))
    return TestClient(create_app(settings, db, secret=SECRET))


def stored(db: Database) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with db.tx() as cur:
        return (
            cur.rows("SELECT id, event FROM deliveries ORDER BY id"),
            cur.rows("SELECT kind, repo, dedupe_key, payload FROM jobs ORDER BY id"),
        )


def opened() -> dict[str, object]:
    return pr_event(
        "opened", repo="team/app", number=12, head="fix/x", head_sha="a" * 40, base="delivery"
    )


def test_a_signed_pull_request_is_stored_then_answered_202(
    client: TestClient, db: Database
) -> None:
    body, headers = signed("pull_request", opened(), delivery="d-1")
    r = client.post("/webhook", content=body, headers=headers)
    assert r.status_code == 202 and r.json() == {"queued": 1, "duplicate": False}
    deliveries, jobs = stored(db)
    assert deliveries == [("d-1", "pull_request")]
    assert [(k, repo, key) for k, repo, key, _ in jobs] == [
        ("pr", "team/app", f"pr:team/app:12:{'a' * 40}")
    ]
    assert json.loads(str(jobs[0][3])) == {"installation": 7, "number": 12, "head_sha": "a" * 40}


def test_a_replayed_delivery_is_processed_once(client: TestClient, db: Database) -> None:
    body, headers = signed("pull_request", opened(), delivery="d-1")
    assert client.post("/webhook", content=body, headers=headers).status_code == 202
    again = client.post("/webhook", content=body, headers=headers)
    assert again.status_code == 202 and again.json() == {"queued": 0, "duplicate": True}
    assert len(stored(db)[1]) == 1


@pytest.mark.parametrize(
    "signature",
    [None, "sha256=" + "0" * 64, "sha1=abc", "sha256=", "garbage"],
)
def test_a_bad_or_missing_signature_is_401_and_nothing_is_stored(
    client: TestClient, db: Database, signature: str | None
) -> None:
    body, headers = signed("pull_request", opened())
    if signature is None:
        del headers["X-Hub-Signature-256"]
    else:
        headers["X-Hub-Signature-256"] = signature
    r = client.post("/webhook", content=body, headers=headers)
    assert r.status_code == 401
    assert stored(db) == ([], [])


def test_a_body_signed_with_another_secret_is_401(client: TestClient, db: Database) -> None:
    body, headers = signed("pull_request", opened(), secret=b"not-the-secret")
    assert client.post("/webhook", content=body, headers=headers).status_code == 401
    assert stored(db) == ([], [])


def test_a_tampered_body_is_401(client: TestClient, db: Database) -> None:
    body, headers = signed("pull_request", opened())
    r = client.post("/webhook", content=body.replace(b'"fix/x"', b'"fix/y"'), headers=headers)
    assert r.status_code == 401 and stored(db) == ([], [])


def test_an_oversized_body_is_413_without_being_stored(client: TestClient, db: Database) -> None:
    big = b'{"pad": "' + b"x" * (MAX_BODY + 10) + b'"}'
    r = client.post(
        "/webhook",
        content=big,
        headers={
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": "d-big",
            "X-Hub-Signature-256": "sha256=0",
        },
    )
    assert r.status_code == 413 and stored(db) == ([], [])


def test_an_oversized_chunked_body_is_413(client: TestClient, db: Database) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(26):
            yield b"x" * (1024 * 1024)

    r = client.post(
        "/webhook",
        content=chunks(),
        headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-chunk"},
    )
    assert r.status_code == 413 and stored(db) == ([], [])


@pytest.mark.parametrize(
    ("event", "doc"),
    [
        ("ping", example("ping")),
        ("pull_request", example("pull_request.closed")),  # a merge shows up as a push
        ("issues", {"action": "opened", "repository": {"full_name": "team/app"}}),
    ],
)
def test_unknown_events_and_actions_are_202_ignored(
    client: TestClient, db: Database, event: str, doc: dict[str, object]
) -> None:
    body, headers = signed(event, doc)
    r = client.post("/webhook", content=body, headers=headers)
    assert r.status_code == 202 and r.json() == {"ignored": True}
    assert stored(db) == ([], [])


def test_an_edit_without_a_base_change_is_ignored_and_one_with_it_is_not(
    client: TestClient, db: Database
) -> None:
    doc = pr_event(
        "opened", repo="team/app", number=3, head="fix/x", head_sha="b" * 40, base="delivery"
    )
    doc["action"] = "edited"
    doc["changes"] = {"title": {"from": "old"}}
    body, headers = signed("pull_request", doc)
    assert client.post("/webhook", content=body, headers=headers).json() == {"ignored": True}
    doc["changes"] = {"base": {"ref": {"from": "master"}, "sha": {"from": "c" * 40}}}
    body, headers = signed("pull_request", doc)
    assert client.post("/webhook", content=body, headers=headers).json()["queued"] == 1


def test_push_and_rerequested_check_run_become_jobs(client: TestClient, db: Database) -> None:
    body, headers = signed("push", push_event(repo="team/app", branch="delivery", after="d" * 40))
    assert client.post("/webhook", content=body, headers=headers).status_code == 202
    rerun = example("check_run.rerequested")
    rerun["check_run"]["name"] = "prodfix/policy"
    rerun["check_run"]["pull_requests"] = [
        {"number": 5, "id": 1, "url": "u", "head": {}, "base": {}}
    ]
    body, headers = signed("check_run", rerun)
    assert client.post("/webhook", content=body, headers=headers).status_code == 202
    kinds = [(k, key.split(":")[0]) for k, _, key, _ in stored(db)[1]]
    assert kinds == [("push", "push"), ("pr", "rerun")]


def test_another_apps_rerequested_check_run_is_ignored(client: TestClient, db: Database) -> None:
    body, headers = signed("check_run", example("check_run.rerequested"))  # name "randscape"
    assert client.post("/webhook", content=body, headers=headers).json() == {"ignored": True}


def test_healthz_and_metrics(client: TestClient, db: Database) -> None:
    assert client.get("/healthz").text == "ok\n"
    body, headers = signed("pull_request", opened())
    client.post("/webhook", content=body, headers={**headers, "X-Hub-Signature-256": "sha256=00"})
    client.post("/webhook", content=body, headers=headers)
    text = client.get("/metrics").text
    assert 'prodfix_webhooks_received_total{event="pull_request"} 1' in text
    assert 'prodfix_webhooks_rejected_total{reason="signature"} 1' in text
    assert 'prodfix_jobs{state="queued"} 1' in text
    assert SECRET.decode() not in text


def test_healthz_is_503_and_webhooks_are_503_when_the_database_does_not_answer(
    tmp_path: Path,
) -> None:
    gone = Database(f"postgresql://postgres@/nodb?host={tmp_path}&port=1")  # no server there
    client = TestClient(create_app(Settings(repos=(RepoSpec(str(tmp_path)),)), gone, secret=SECRET))
    r = client.get("/healthz")
    assert (r.status_code, r.text) == (503, "database unavailable\n")
    body, headers = signed("pull_request", opened())
    assert client.post("/webhook", content=body, headers=headers).status_code == 503
    assert "prodfix_database_up 0" in client.get("/metrics").text


def test_api_fixes_is_the_status_document(client: TestClient, db: Database) -> None:
    assert client.get("/api/fixes").json() == {"version": 1, "fixes": [], "deliveries": []}
