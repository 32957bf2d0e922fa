"""A private PostgreSQL server for tests: initdb in a temp dir, fsync off, a unix socket only.

`initdb` refuses to run as root, so as root the server runs as the `postgres` user (Debian's
package creates it). Without PostgreSQL installed the tests skip — except under CI (`CI` set),
where a missing server is a failure, not a silent skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest


def pg_bindir() -> Path | None:
    for d in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (d / "initdb").exists() and (d / "pg_ctl").exists():
            return d
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def require_pg() -> Path:
    bindir = pg_bindir()
    if bindir is None:
        message = "PostgreSQL is not installed (apt-get install -y postgresql)"
        if os.environ.get("CI"):
            pytest.fail(message + " — required under CI")
        pytest.skip(message)
    return bindir


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    bindir: Path
    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def sock(self) -> Path:
        return self.root / "sock"

    def _as_owner(self, *argv: str) -> subprocess.CompletedProcess[str]:
        cmd = list(argv)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)

    def _ok(self, *argv: str) -> str:
        p = self._as_owner(*argv)
        if p.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed: {p.stdout}\n{p.stderr}")
        return p.stdout

    def init(self) -> None:
        self.sock.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.sock, "postgres", "postgres")
        self._ok(
            str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        self.start()

    def start(self) -> None:
        opts = f"-F -k {self.sock} -p {self.port} -c listen_addresses='' -c max_connections=200"
        self._ok(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", opts, "-w", "-t", "60",
            "-l", str(self.root / "log"), "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._as_owner(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop("immediate")
        self.start()

    def url(self, db: str) -> str:
        return f"postgresql://postgres@/{db}?host={self.sock}&port={self.port}"

    def new_database(self) -> str:
        name = "t_" + uuid.uuid4().hex[:12]
        self._ok(
            str(self.bindir / "psql"), "-h", str(self.sock), "-p", str(self.port), "-U",
            "postgres", "-d", "postgres", "-qc", f"CREATE DATABASE {name}",
        )  # fmt: skip
        return self.url(name)


def start_server() -> PgServer:
    bindir = require_pg()
    root = Path(tempfile.mkdtemp(prefix="prodfix-pg-"))
    root.chmod(0o755)
    server = PgServer(bindir, root, _free_port())
    server.init()
    return server
