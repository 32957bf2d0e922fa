"""The service's schema, as numbered plain-SQL migrations (index i upgrades version i to i+1).

Plain SQL rather than SQLAlchemy Core + Alembic: five tables written once for two dialects
(`{id}` and friends are filled in by `Database.sql`), applied under a lock in one transaction,
recorded in `serve_schema` — the same scheme as the CLI's own store, with no ORM to install or
import. Never edit a released migration: append one.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    """
    CREATE TABLE deliveries (
        id TEXT PRIMARY KEY,            -- X-GitHub-Delivery: a redelivery carries the same id
        event TEXT NOT NULL,
        received DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE jobs (
        id {id},
        kind TEXT NOT NULL,             -- pr | push | refresh
        repo TEXT NOT NULL,
        dedupe_key TEXT NOT NULL,       -- at most one queued job per key
        lock_key TEXT NOT NULL,         -- one running job per key (a repository)
        payload TEXT NOT NULL,          -- JSON, never a secret
        state TEXT NOT NULL,            -- queued | running | done | failed
        attempts INTEGER NOT NULL DEFAULT 0,
        not_before DOUBLE PRECISION NOT NULL,
        lease_owner TEXT,
        lease_until DOUBLE PRECISION,
        last_error TEXT,
        created DOUBLE PRECISION NOT NULL,
        started DOUBLE PRECISION,
        finished DOUBLE PRECISION
    );
    CREATE UNIQUE INDEX jobs_dedupe ON jobs (dedupe_key) WHERE state = 'queued';
    CREATE INDEX jobs_ready ON jobs (state, not_before, id);
    CREATE TABLE repo_locks (
        lock_key TEXT PRIMARY KEY,
        job_id BIGINT NOT NULL,
        lease_until DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE snapshots (            -- the dashboard's cache: one document per repository
        repo TEXT PRIMARY KEY,
        doc TEXT NOT NULL,
        updated DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE policy_results (       -- the last verdict per PR (embedded forge: no check runs)
        repo TEXT NOT NULL,
        pr INTEGER NOT NULL,
        head_sha TEXT NOT NULL,
        base TEXT NOT NULL,
        conclusion TEXT NOT NULL,
        findings TEXT NOT NULL,
        updated DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (repo, pr)
    )
    """,
]
