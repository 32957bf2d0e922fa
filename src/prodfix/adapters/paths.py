"""Where prodfix keeps its own files (PRODFIX_HOME), and how a local path becomes a file name.
Small on purpose: locks, caches and run state use it without loading the database module."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def home() -> Path:
    if env := os.environ.get("PRODFIX_HOME"):
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "prodfix"


def path_key(path: Path | str) -> str:
    """A short stable key for a local path (lock, run-state and cache file names)."""
    return hashlib.sha1(str(Path(path).resolve()).encode()).hexdigest()[:16]


def ensure_private_dir(path: Path) -> Path:
    """Create `path` and every missing parent 0700 (mkdir's mode covers the leaf only)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for p in reversed(missing):
        p.mkdir(mode=0o700, exist_ok=True)
    return path
