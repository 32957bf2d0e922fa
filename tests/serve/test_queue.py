"""The jobs table on SQLite and on a real PostgreSQL: dedupe, one job per repository at a time,
leases that expire, retries with backoff, and migrations that two instances may run at once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from prodfix.serve import queue
from prodfix.serve.db import Database


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "sqlite":
        d = Database(f"sqlite:///{tmp_path / 'q.sqlite3'}")
    else:
        d = Database(request.getfixturevalue("pg_url"))
    d.migrate()
    return d


def add(db: Database, key: str, repo: str = "team/app", **kw: object) -> bool:
    with db.tx() as cur:
        return queue.enqueue(cur, kind="pr", repo=repo, dedupe_key=key, payload={"k": key}, **kw)  # type: ignore[arg-type]


def test_a_waiting_duplicate_is_not_stored_twice(db: Database) -> None:
    assert add(db, "pr:1") is True
    assert add(db, "pr:1") is False
    assert add(db, "pr:2") is True
    assert queue.counts(db)["queued"] == 2


def test_one_running_job_per_repository(db: Database) -> None:
    add(db, "a", repo="team/app")
    add(db, "b", repo="team/app")
    add(db, "c", repo="team/other")
    first = queue.claim(db, "w1", lease=60)
    second = queue.claim(db, "w2", lease=60)
    assert first is not None and second is not None
    assert (first.payload["k"], second.payload["k"]) == ("a", "c")  # b waits for team/app
    assert queue.claim(db, "w3", lease=60) is None
    assert queue.finish(db, first, "w1") == "done"
    third = queue.claim(db, "w3", lease=60)
    assert third is not None and third.payload["k"] == "b"


def test_an_expired_lease_is_taken_over_and_the_old_owner_cannot_finish(db: Database) -> None:
    add(db, "a", now=900.0)
    job = queue.claim(db, "dead", lease=60, now=1000.0)
    assert job is not None
    assert queue.claim(db, "w2", lease=60, now=1030.0) is None  # lease still alive
    again = queue.claim(db, "w2", lease=60, now=1061.0)
    assert again is not None and again.id == job.id and again.attempts == 2
    queue.finish(db, job, "dead")  # the dead owner's late word changes nothing
    assert queue.counts(db)["running"] == 1
    assert queue.finish(db, again, "w2") == "done"
    assert queue.counts(db) == {"queued": 0, "running": 0, "done": 1, "failed": 0}


def test_a_failing_job_is_retried_with_backoff_then_failed(db: Database) -> None:
    add(db, "a")
    states = []
    for attempt in range(1, queue.MAX_ATTEMPTS + 1):
        job = queue.claim(db, "w", lease=60, now=1e12)  # far future: every backoff is over
        assert job is not None and job.attempts == attempt
        states.append(queue.finish(db, job, "w", error=f"boom {attempt}"))
    assert states == ["queued"] * (queue.MAX_ATTEMPTS - 1) + ["failed"]
    with db.tx() as cur:
        assert cur.rows("SELECT last_error FROM jobs") == [(f"boom {queue.MAX_ATTEMPTS}",)]


def test_retry_waits_for_its_backoff(db: Database) -> None:
    add(db, "a")
    job = queue.claim(db, "w", lease=60)
    assert job is not None
    assert queue.finish(db, job, "w", error="forge 502") == "queued"
    assert queue.claim(db, "w", lease=60) is None  # not before BACKOFF[0] seconds


def test_delivery_ids_are_recorded_once(db: Database) -> None:
    with db.tx() as cur:
        assert queue.record_delivery(cur, "guid-1", "push") is True
    with db.tx() as cur:
        assert queue.record_delivery(cur, "guid-1", "push") is False


def test_concurrent_claims_never_hand_out_a_job_twice(db: Database) -> None:
    for i in range(60):
        add(db, f"k{i}", repo=f"team/r{i % 6}")
    got: list[int] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        while True:
            job = queue.claim(db, name, lease=60)
            if job is None:
                with db.tx() as cur:
                    left = cur.rows("SELECT COUNT(*) FROM jobs WHERE state != 'done'")[0][0]
                if not left:
                    return
                continue
            with lock:
                got.append(job.id)
            queue.finish(db, job, name)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(got) == sorted(set(got)) and len(got) == 60


def test_migrations_run_once_under_concurrent_starts(db: Database) -> None:
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(db.migrate())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [1, 1, 1, 1]
    with db.tx() as cur:
        assert cur.rows("SELECT version FROM serve_schema") == [(1,)]
