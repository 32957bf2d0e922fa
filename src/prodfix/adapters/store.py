"""The fix records: SQLite in the user's state directory (WAL, BEGIN IMMEDIATE, busy timeout).

The store remembers *identities* only — which PR, which build, which tag, which delivery branch —
never a step's state: that is observed every time (docs/concepts.md). Two processes at once: WAL +
`timeout=` + BEGIN IMMEDIATE for read-modify-write loses nothing (https://www.sqlite.org/wal.html;
BEGIN IMMEDIATE takes the write lock at the start, so a read-modify-write never fails half-way on
SQLITE_BUSY: https://www.sqlite.org/lang_transaction.html).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodfix.adapters.paths import ensure_private_dir, home, path_key
from prodfix.errors import ProdfixError

__all__ = ["FixRepo", "Store", "ensure_private_dir", "home", "path_key"]

SCHEMA_VERSION = 1

# Migrations from the first release on: index i upgrades version i to i+1.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE fix (
        name TEXT PRIMARY KEY,
        created REAL NOT NULL
    );
    CREATE TABLE fix_repo (
        fix TEXT NOT NULL REFERENCES fix(name) ON DELETE CASCADE,
        path TEXT NOT NULL,
        role TEXT NOT NULL,            -- service | deploy
        kind TEXT NOT NULL,            -- python | go
        delivery TEXT,                 -- the delivery branch the fix started from
        branch TEXT,                   -- the fix branch
        base_sha TEXT,                 -- the remote delivery tip the branch was created at
        added REAL NOT NULL,
        PRIMARY KEY (fix, path)
    );
    CREATE TABLE ident (               -- identities the reconciler re-observes: pr, build, tag…
        fix TEXT NOT NULL,
        path TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (fix, path, key)
    );
    CREATE TABLE journal (             -- append-only: every command and action, with its inverse
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        fix TEXT,
        path TEXT NOT NULL,
        command TEXT NOT NULL,
        run_id TEXT NOT NULL,
        kind TEXT NOT NULL,            -- op | begin | end | undo
        entry TEXT NOT NULL,           -- JSON
        at REAL NOT NULL
    );
    CREATE INDEX journal_fix ON journal(fix, id);
    """,
]


@dataclass(frozen=True)
class FixRepo:
    fix: str
    path: str
    role: str
    kind: str
    delivery: str | None
    branch: str | None
    base_sha: str | None
    added: float


class Store:
    def __init__(self, path: Path | None = None, *, memory: bool = False) -> None:
        """The user's database; `memory=True`: a private, empty one that is never written to
        disk (a read-only command on a machine that has none yet)."""
        self.lock = threading.RLock()
        self.path = (
            Path(":memory:") if memory else path or ensure_private_dir(home()) / "prodfix.db"
        )
        if not memory:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not memory and not self.path.exists()
        if new:
            # Create it 0600 before sqlite opens it: fix records are nobody else's business.
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(fd)
        try:
            # One connection shared by the reconciler's threads, serialised by self.lock.
            self.db = sqlite3.connect(
                self.path, timeout=10, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise ProdfixError(
                f"cannot open the prodfix database {self.path}: {exc}",
                hint="check PRODFIX_HOME and the permissions of that folder",
            ) from exc
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def close(self) -> None:
        self.db.close()

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self.lock:
            return self.db.execute(sql, args).fetchall()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction taken up front (BEGIN IMMEDIATE): no lost updates between processes."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def _migrate(self) -> None:
        with self.tx() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise ProdfixError(
                    f"{self.path} was written by a newer prodfix (schema {version})",
                    hint="upgrade prodfix, or point PRODFIX_HOME elsewhere",
                )
            for i in range(version, SCHEMA_VERSION):
                for stmt in MIGRATIONS[i].split(";"):
                    if stmt.strip():
                        db.execute(stmt)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        for suffix in ("", "-wal", "-shm") if str(self.path) != ":memory:" else ():
            p = Path(str(self.path) + suffix)
            if p.exists():
                p.chmod(0o600)

    # -- fixes ------------------------------------------------------------------------
    def add_repo(
        self,
        fix: str,
        path: str,
        *,
        role: str,
        kind: str,
        delivery: str | None = None,
        branch: str | None = None,
        base_sha: str | None = None,
    ) -> None:
        now = time.time()
        with self.tx() as db:
            db.execute("INSERT OR IGNORE INTO fix(name, created) VALUES (?, ?)", (fix, now))
            db.execute(
                """INSERT INTO fix_repo(fix, path, role, kind, delivery, branch, base_sha, added)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(fix, path) DO UPDATE SET role=excluded.role, kind=excluded.kind,
                     delivery=coalesce(excluded.delivery, delivery),
                     branch=coalesce(excluded.branch, branch),
                     base_sha=coalesce(excluded.base_sha, base_sha)""",
                (fix, path, role, kind, delivery, branch, base_sha, now),
            )

    def remove_repo(self, fix: str, path: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM fix_repo WHERE fix=? AND path=?", (fix, path))
            db.execute("DELETE FROM ident WHERE fix=? AND path=?", (fix, path))
            left = db.execute("SELECT count(*) FROM fix_repo WHERE fix=?", (fix,)).fetchone()[0]
            if not left:
                db.execute("DELETE FROM fix WHERE name=?", (fix,))

    def fixes(self) -> list[str]:
        return [r[0] for r in self._rows("SELECT name FROM fix ORDER BY created, name")]

    def repos(self, fix: str) -> list[FixRepo]:
        rows = self._rows(
            "SELECT fix, path, role, kind, delivery, branch, base_sha, added FROM fix_repo "
            "WHERE fix=? ORDER BY role DESC, added, path",
            (fix,),
        )
        return [FixRepo(*r) for r in rows]

    def fix_for_branch(self, path: str, branch: str) -> FixRepo | None:
        rows = self._rows(
            "SELECT fix, path, role, kind, delivery, branch, base_sha, added FROM fix_repo "
            "WHERE path=? AND branch=?",
            (path, branch),
        )
        return FixRepo(*rows[0]) if rows else None

    def fixes_in(self, path: str) -> list[FixRepo]:
        rows = self._rows(
            "SELECT fix, path, role, kind, delivery, branch, base_sha, added FROM fix_repo "
            "WHERE path=? ORDER BY added",
            (path,),
        )
        return [FixRepo(*r) for r in rows]

    # -- identities ------------------------------------------------------------------------
    def set_ident(self, fix: str, path: str, key: str, value: Any) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO ident(fix, path, key, value, at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(fix, path, key) DO UPDATE SET value=excluded.value, at=excluded.at",
                (fix, path, key, json.dumps(value), time.time()),
            )

    def del_ident(self, fix: str, path: str, key: str) -> None:
        with self.tx() as db:
            db.execute("DELETE FROM ident WHERE fix=? AND path=? AND key=?", (fix, path, key))

    def idents(self, fix: str, path: str) -> dict[str, Any]:
        rows = self._rows("SELECT key, value FROM ident WHERE fix=? AND path=?", (fix, path))
        return {k: json.loads(v) for k, v in rows}

    def ident_times(self, fix: str, path: str) -> dict[str, float]:
        rows = self._rows("SELECT key, at FROM ident WHERE fix=? AND path=?", (fix, path))
        return dict(rows)

    # -- journal ---------------------------------------------------------------------------
    def journal(
        self, *, fix: str | None, path: str, command: str, run_id: str, kind: str, entry: Any
    ) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO journal(fix, path, command, run_id, kind, entry, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (fix, path, command, run_id, kind, json.dumps(entry), time.time()),
            )

    def journal_entries(self, *, path: str, run_id: str) -> list[tuple[str, Any]]:
        rows = self._rows(
            "SELECT kind, entry FROM journal WHERE path=? AND run_id=? ORDER BY id", (path, run_id)
        )
        return [(k, json.loads(e)) for k, e in rows]

    def completed_runs(self, *, path: str, fix: str | None) -> list[tuple[str, str]]:
        """(run_id, command) of every completed, not yet undone command, newest first."""
        rows = self._rows(
            "SELECT run_id, command, kind FROM journal WHERE path=? AND kind IN ('end', 'undo') "
            "AND (? IS NULL OR fix=?) ORDER BY id DESC",
            (path, fix, fix),
        )
        undone: set[str] = set()
        runs: list[tuple[str, str]] = []
        for run_id, command, kind in rows:
            if kind == "undo":
                undone.add(run_id)
            elif run_id not in undone:
                runs.append((run_id, command))
        return runs
