"""A token bucket per GitHub App installation for content-creating requests.

GitHub's secondary rate limits allow about 80 content-creating requests per minute ("Rate limits
for the REST API", docs.github.com): a bucket of 80 tokens refilled at 80 per minute keeps a
burst of events (a big merge wave) under it, spreading the rest instead of collecting 403s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

WRITES = frozenset({"POST", "PATCH", "PUT", "DELETE"})


class TokenBucket:
    def __init__(
        self,
        *,
        capacity: float = 80.0,
        per_second: float = 80.0 / 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.capacity = capacity
        self.rate = per_second
        self._tokens = capacity
        self._clock = clock
        self._sleep = sleep
        self._at = clock()
        self._lock = threading.Lock()
        self.waited = 0.0  # seconds spent waiting, for metrics and tests

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def acquire(self) -> float:
        """Take one token, sleeping until there is one. Returns the seconds waited."""
        with self._lock:
            self._refill()
            self._tokens -= 1.0  # reserve now; a negative balance is the queue
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
            self.waited += wait
        if wait > 0:
            self._sleep(wait)
        return wait


class Throttles:
    """One bucket per installation (GitHub counts the limit per installation token)."""

    def __init__(self, factory: Callable[[], TokenBucket] = TokenBucket) -> None:
        self._factory = factory
        self._buckets: dict[int, TokenBucket] = {}
        self._lock = threading.Lock()

    def bucket(self, installation: int) -> TokenBucket:
        with self._lock:
            if installation not in self._buckets:
                self._buckets[installation] = self._factory()
            return self._buckets[installation]

    def hook(self, installation: int) -> Callable[[Any], None]:
        """An httpx request hook: content-creating requests take a token first."""
        bucket = self.bucket(installation)

        def before(request: Any) -> None:
            if request.method in WRITES:
                bucket.acquire()

        return before
