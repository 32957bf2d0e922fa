"""The jobs table as a queue: dedupe on enqueue, one running job per repository, leases.

A job is claimed with a lease (`lease_until`); its worker renews the lease while it runs. A
worker that dies (kill -9) stops renewing: once the lease expires the job is claimable again and
runs from the start — handlers are idempotent (they look before they create), so nothing is done
twice. Git work on one repository runs one job at a time through `repo_locks`, whose rows carry
the same lease. PostgreSQL: candidates are read `FOR UPDATE SKIP LOCKED` so instances never wait
on each other; SQLite: `BEGIN IMMEDIATE` serialises claims.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from prodfix.serve.db import Cursor, Database

MAX_ATTEMPTS = 6
BACKOFF = (2.0, 10.0, 30.0, 60.0, 120.0)  # seconds before attempt 2, 3, …


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    repo: str
    lock_key: str
    payload: dict[str, Any]
    attempts: int  # including this one
    created: float


def enqueue(
    cur: Cursor,
    *,
    kind: str,
    repo: str,
    dedupe_key: str,
    payload: dict[str, Any],
    lock_key: str | None = None,
    delay: float = 0.0,
    now: float | None = None,
) -> bool:
    """Store a job unless an identical one is still waiting. True when a job was added."""
    t = time.time() if now is None else now
    added = cur.run(
        "INSERT INTO jobs (kind, repo, dedupe_key, lock_key, payload, state, not_before, created)"
        " VALUES (?, ?, ?, ?, ?, 'queued', ?, ?)"
        " ON CONFLICT (dedupe_key) WHERE state = 'queued' DO NOTHING",
        (kind, repo, dedupe_key, lock_key or f"repo:{repo}", json.dumps(payload), t + delay, t),
    )
    return added > 0


def claim(db: Database, owner: str, *, lease: float, now: float | None = None) -> Job | None:
    """The oldest ready job whose repository is free, leased to `owner`; None when none is."""
    t = time.time() if now is None else now
    with db.tx() as cur:
        candidates = cur.rows(
            db.sql(
                "SELECT id, lock_key FROM jobs"
                " WHERE (state = 'queued' AND not_before <= ?)"
                " OR (state = 'running' AND lease_until < ?)"
                " ORDER BY id LIMIT 32 {skip_locked}"
            ),
            (t, t),
        )
        for job_id, lock_key in candidates:
            # Take the repository's lock unless a live lease holds it (an expired lease, or
            # our own job's stale row after a crash, is taken over).
            got = cur.run(
                "INSERT INTO repo_locks (lock_key, job_id, lease_until) VALUES (?, ?, ?)"
                " ON CONFLICT (lock_key) DO UPDATE SET job_id = excluded.job_id,"
                " lease_until = excluded.lease_until"
                " WHERE repo_locks.lease_until < ? OR repo_locks.job_id = excluded.job_id",
                (lock_key, job_id, t + lease, t),
            )
            if not got:
                continue
            rows = cur.rows(
                "UPDATE jobs SET state = 'running', lease_owner = ?, lease_until = ?,"
                " attempts = attempts + 1, started = ? WHERE id = ?"
                " RETURNING id, kind, repo, lock_key, payload, attempts, created",
                (owner, t + lease, t, job_id),
            )
            r = rows[0]
            return Job(int(r[0]), r[1], r[2], r[3], json.loads(r[4]), int(r[5]), float(r[6]))
    return None


def renew(db: Database, job: Job, owner: str, *, lease: float) -> bool:
    """Extend the lease; False when the job is no longer ours (expired and taken over)."""
    t = time.time()
    with db.tx() as cur:
        n = cur.run(
            "UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_owner = ? AND state = 'running'",
            (t + lease, job.id, owner),
        )
        cur.run(
            "UPDATE repo_locks SET lease_until = ? WHERE lock_key = ? AND job_id = ?",
            (t + lease, job.lock_key, job.id),
        )
    return n > 0


def finish(db: Database, job: Job, owner: str, *, error: str | None = None) -> str:
    """Done, or (with `error`) queued again after a backoff until MAX_ATTEMPTS, then failed.
    Returns the job's new state."""
    t = time.time()
    if error is None:
        state, not_before = "done", t
    elif job.attempts >= MAX_ATTEMPTS:
        state, not_before = "failed", t
    else:
        state, not_before = "queued", t + BACKOFF[min(job.attempts, len(BACKOFF)) - 1]
    with db.tx() as cur:
        if state == "queued":
            # A newer identical job may already wait: then this one is redundant, not retried.
            dupe = cur.rows(
                "SELECT 1 FROM jobs WHERE state = 'queued' AND dedupe_key ="
                " (SELECT dedupe_key FROM jobs WHERE id = ?)",
                (job.id,),
            )
            if dupe:
                state = "done"
        cur.run(
            "UPDATE jobs SET state = ?, not_before = ?, last_error = ?, finished = ?,"
            " lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?",
            (state, not_before, (error or "")[:2000] or None, t, job.id, owner),
        )
        cur.run("DELETE FROM repo_locks WHERE lock_key = ? AND job_id = ?", (job.lock_key, job.id))
    return state


def counts(db: Database) -> dict[str, int]:
    with db.tx() as cur:
        rows = cur.rows("SELECT state, COUNT(*) FROM jobs GROUP BY state")
    out = {"queued": 0, "running": 0, "done": 0, "failed": 0}
    out.update({str(s): int(n) for s, n in rows})
    return out


def record_delivery(cur: Cursor, delivery: str, event: str, *, now: float | None = None) -> bool:
    """True the first time a delivery id is seen (GitHub redelivers with the same id)."""
    t = time.time() if now is None else now
    return (
        cur.run(
            "INSERT INTO deliveries (id, event, received) VALUES (?, ?, ?)"
            " ON CONFLICT (id) DO NOTHING",
            (delivery, event, t),
        )
        > 0
    )
