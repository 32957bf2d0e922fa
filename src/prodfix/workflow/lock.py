"""One mutating prodfix process per repository at a time.

flock is released by the kernel when the holder dies, so a lock left by a killed process is
never stale; the file only carries the holder's PID for the message.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prodfix.adapters.store import ensure_private_dir, home, path_key
from prodfix.errors import ProdfixError


def _key(repo_path: Path) -> str:
    return path_key(repo_path)


@contextmanager
def repo_lock(repo_path: Path, *, wait: float = 5.0) -> Iterator[None]:
    d = ensure_private_dir(home() / "locks")
    path = d / f"{_key(repo_path)}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another"
                    raise ProdfixError(
                        f"another prodfix process (pid {holder}) is changing {repo_path}",
                        hint="wait for it to finish, then run your command again",
                    ) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def run_key(repo_path: Path) -> str:
    return _key(repo_path)
