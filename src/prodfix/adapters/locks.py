"""One lock helper: an exclusive flock on a file under PRODFIX_HOME/locks.

Every acquisition opens the file anew. flock belongs to the open file description, not to the
process (flock(2)), so two threads of one process, each with its own `open()`, exclude each
other exactly like two processes do. The kernel drops the lock when its holder dies, so a lock
left by a killed process is never stale; the file only carries the holder's PID for messages.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prodfix.adapters.gitproc import common_dir, network_timeout
from prodfix.adapters.paths import ensure_private_dir, home, path_key
from prodfix.errors import Exit, ProdfixError

WAIT_ENV = "PRODFIX_LOCK_WAIT"
DEFAULT_WAIT = 5.0  # seconds a command waits for another prodfix process on the same clone


def lock_wait() -> float:
    """How long a command waits for a repository another prodfix process is changing."""
    raw = os.environ.get(WAIT_ENV, "").strip()
    if not raw:
        return DEFAULT_WAIT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also rejects nan
        raise ProdfixError(
            f"{WAIT_ENV}={raw!r} is not a number of seconds",
            hint=f"set {WAIT_ENV} to a number such as 5, or unset it",
        )
    return value


def key_for(path: Path | str, prefix: str = "") -> str:
    """A lock name for a directory: the same for every spelling of its path."""
    return prefix + path_key(path)


def lock_path(key: str) -> Path:
    return ensure_private_dir(home() / "locks") / f"{key}.lock"


@contextmanager
def file_lock(
    key: str,
    *,
    what: str,
    wait: float,
    poll: float = 0.05,
    hint: str = "wait for it to finish, then run your command again",
    code: int = Exit.USAGE,
) -> Iterator[None]:
    """Hold the lock named `key` (see key_for); wait up to `wait` seconds for its holder, then
    raise "another prodfix process (pid N) is WHAT" with `hint` and `code`."""
    fd = os.open(lock_path(key), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                    raise ProdfixError(
                        f"another prodfix process (pid {holder}) is {what}", hint=hint, code=code
                    ) from None
                time.sleep(min(poll, left))
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the description releases the flock


@contextmanager
def fetch_lock(path: Path) -> Iterator[None]:
    """Held while a fetch (or the clone that creates `path`) writes the repository's refs.
    A holder is bounded by the network timeout, so waiting a little longer always suffices."""
    with file_lock(
        key_for(common_dir(path), "fetch-"),
        what=f"fetching into {path}",
        wait=network_timeout() + 30,
        hint="this is safe to retry",
        code=Exit.SERVICE,
    ):
        yield
