"""One mutating prodfix process per repository at a time (adapters/locks.py has the how)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prodfix.adapters.locks import file_lock, key_for, lock_wait


def _key(repo_path: Path) -> str:
    return key_for(repo_path)


@contextmanager
def repo_lock(repo_path: Path, *, wait: float | None = None) -> Iterator[None]:
    """Held while a program changes the clone. `wait` defaults to PRODFIX_LOCK_WAIT (5 s)."""
    with file_lock(
        _key(repo_path),
        what=f"changing {repo_path}",
        wait=lock_wait() if wait is None else wait,
    ):
        yield


def run_key(repo_path: Path) -> str:
    return _key(repo_path)
