"""The service's database: SQLite (default, one instance) or PostgreSQL (several instances).

One small class over both: SQL is written once with `?` placeholders and the few dialect
differences (`{id}`, `{skip_locked}`) are filled in. A connection per thread (sqlite3 and psycopg
connections are not shared across threads); `tx()` is one transaction — `BEGIN IMMEDIATE` on
SQLite, so writers queue on the busy timeout instead of failing mid-transaction; on PostgreSQL
a broken connection (the server restarted) is dropped and the next `tx()` reconnects.

Migrations are plain SQL in `migrations.py`, numbered, recorded in `serve_schema`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from prodfix.errors import ProdfixError, ServiceError


class Cursor(Protocol):
    """What handlers use inside `tx()`: `?` placeholders on both dialects."""

    def run(self, sql: str, args: Sequence[Any] = ()) -> int: ...  # rows changed
    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...


class _SqliteCursor:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, tuple(args)).rowcount

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.conn.execute(sql, tuple(args)).fetchall()]


class _PgCursor:
    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        cur = self.conn.execute(sql.replace("?", "%s"), tuple(args))
        return int(cur.rowcount)

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self.conn.execute(sql.replace("?", "%s"), tuple(args))
        return [tuple(r) for r in cur.fetchall()]


class Database:
    """`url`: "sqlite" (PRODFIX_HOME/serve.sqlite3), "sqlite:///abs/path", or postgresql://…"""

    def __init__(self, url: str) -> None:
        from prodfix.adapters.paths import ensure_private_dir, home

        self.url = url
        self._local = threading.local()
        if url.startswith(("postgresql://", "postgres://")):
            self.dialect = "postgresql"
            self.path: Path | None = None
        elif url == "sqlite" or url.startswith("sqlite:///"):
            self.dialect = "sqlite"
            self.path = (
                home() / "serve.sqlite3" if url == "sqlite" else Path(url.removeprefix("sqlite://"))
            )
            ensure_private_dir(self.path.parent)
        else:
            raise ProdfixError(
                f"unknown database {redact(url)!r}",
                hint='use "sqlite", "sqlite:///PATH" or "postgresql://USER@HOST/DB"',
            )

    def __repr__(self) -> str:
        return f"Database({redact(self.url)!r})"

    @property
    def display(self) -> str:
        return str(self.path) if self.path else redact(self.url)

    # -- connections ------------------------------------------------------------------------

    def _connect(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self.dialect == "sqlite":
            assert self.path is not None
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, fast
            self.path.chmod(0o600)
        else:
            import psycopg

            try:
                conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5)
            except psycopg.OperationalError as exc:
                raise ServiceError(
                    f"PostgreSQL at {redact(self.url)} is unreachable: {_first_line(exc)}",
                    hint="check that the server runs and the URL is right; the service retries",
                ) from exc
        self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            # Closing a broken connection may fail too; it is gone either way.
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        self._drop()

    @contextmanager
    def tx(self) -> Iterator[Cursor]:
        """One transaction. Errors of the database itself become ServiceError (retryable)."""
        conn = self._connect()
        if self.dialect == "sqlite":
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:  # busy past the timeout
                raise ServiceError(f"the database {self.path} is busy: {exc}") from exc
            try:
                yield _SqliteCursor(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return
        import psycopg

        try:
            with conn.transaction():
                yield _PgCursor(conn)
        except psycopg.OperationalError as exc:
            self._drop()  # the server went away (restart): reconnect on the next tx
            raise ServiceError(
                f"PostgreSQL at {redact(self.url)} failed: {_first_line(exc)}",
                hint="the service retries; check the database server",
            ) from exc

    def sql(self, text: str) -> str:
        """Fill the dialect's spellings into a statement."""
        if self.dialect == "sqlite":
            return text.format(id="INTEGER PRIMARY KEY AUTOINCREMENT", skip_locked="")
        return text.format(id="BIGSERIAL PRIMARY KEY", skip_locked="FOR UPDATE SKIP LOCKED")

    def ping(self) -> bool:
        """Whether the database answers (a second try: the first may find a connection the
        server closed when it restarted)."""
        for _ in range(2):
            try:
                with self.tx() as cur:
                    cur.rows("SELECT 1")
                return True
            except Exception:
                self._drop()
        return False

    def migrate(self) -> int:
        """Apply the missing migrations; returns the schema version. Safe with several
        instances starting at once (PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE)."""
        from prodfix.serve.migrations import MIGRATIONS

        with self.tx() as cur:
            if self.dialect == "postgresql":
                cur.rows("SELECT pg_advisory_xact_lock(?)", (0x70726F64,))
            cur.run("CREATE TABLE IF NOT EXISTS serve_schema (version INTEGER NOT NULL)")
            rows = cur.rows("SELECT version FROM serve_schema")
            version = int(rows[0][0]) if rows else 0
            if version > len(MIGRATIONS):
                raise ProdfixError(
                    f"the database {self.display} has schema {version}; this prodfix knows "
                    f"{len(MIGRATIONS)}",
                    hint="run the newer prodfix that wrote it, or point --database elsewhere",
                )
            for i in range(version, len(MIGRATIONS)):
                for statement in MIGRATIONS[i].split(";"):
                    if statement.strip():
                        cur.run(self.sql(statement))
            if not rows:
                cur.run("INSERT INTO serve_schema (version) VALUES (?)", (len(MIGRATIONS),))
            else:
                cur.run("UPDATE serve_schema SET version = ?", (len(MIGRATIONS),))
        return len(MIGRATIONS)


def redact(url: str) -> str:
    """A database URL without its password (URLs may carry one: never log it)."""
    import re

    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return redact(text.splitlines()[0]) if text else type(exc).__name__
