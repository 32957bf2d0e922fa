"""A cache of facts about immutable git objects, keyed by object ids.

What a commit pair merges to, whether one contains the other, what a metadata commit says:
none of it can change, so a `status` run after another recomputes nothing (git has the same
idea in its commit-graph). One JSON file per repository under PRODFIX_HOME/cache, written
atomically with mode 0600 but not flushed to disk (a cache); a damaged file is ignored and
rebuilt.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from prodfix.adapters.paths import ensure_private_dir, home, path_key

_LIMIT = 20_000  # entries per file; past it the oldest half is dropped
_shared: dict[Path, ShaCache] = {}
_shared_lock = threading.Lock()


class ShaCache:
    def __init__(self, repo_path: Path | str, name: str) -> None:
        key = path_key(repo_path)
        self.path = home() / "cache" / f"{key}-{name}.json"
        self._data: dict[str, Any] | None = None
        self._dirty = False
        self._lock = threading.Lock()

    def _load(self) -> dict[str, Any]:
        if self._data is None:
            try:
                self._data = dict(json.loads(self.path.read_text()))
            except (OSError, ValueError, TypeError):
                self._data = {}
        return self._data

    def get(self, key: str) -> Any:
        with self._lock:
            return self._load().get(key)

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            data = self._load()
            if data.get(key) != value:
                data[key] = value
                self._dirty = True

    def save(self) -> None:
        with self._lock:
            if not self._dirty or self._data is None:
                return
            data = self._data
            if len(data) > _LIMIT:
                data = dict(list(data.items())[len(data) // 2 :])
                self._data = data
            from prodfix.adapters.files import write_atomic

            ensure_private_dir(self.path.parent)
            write_atomic(self.path, json.dumps(data), mode=0o600, durable=False)
            self._dirty = False


def shared(repo_path: Path | str, name: str) -> ShaCache:
    """The process's one instance of a cache file: every `Repo` of the same repository (a
    command builds several, `serve` many) reads and fills the same memory, loaded once. Saved
    by `save_shared` (the observers call it after each look) and at exit."""
    cache = ShaCache(repo_path, name)
    with _shared_lock:
        if not _shared:
            import atexit

            atexit.register(save_shared)
        return _shared.setdefault(cache.path, cache)


def save_shared() -> None:
    """Write every shared cache that learnt something; a cache that cannot be written is only
    a slower next run."""
    with _shared_lock:
        caches = list(_shared.values())
    from contextlib import suppress

    for cache in caches:
        with suppress(OSError):
            cache.save()
