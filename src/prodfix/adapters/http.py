"""One HTTP helper for every service client (GitHub, Jenkins, Argo CD).

Timeouts on every request, bounded retries with jitter on connection errors and 5xx, 429 and
secondary rate limits waited out (capped) with a visible countdown, TLS verification on (a CA
bundle from SSL_CERT_FILE / REQUESTS_CA_BUNDLE), Authorization redacted from debug output, and
a clean `ServiceError` (exit 4) naming the service when retries are exhausted.
httpx is imported lazily: it costs ~100 ms at start-up (NOTES/measurements.md §4).
"""

from __future__ import annotations

import email.utils
import functools
import logging
import os
import random
import ssl
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prodfix.errors import ServiceError

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("prodfix.http")

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({500, 502, 503, 504})
SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "x-api-key", "jenkins-crumb"})


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: ("<redacted>" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}


def ca_bundle() -> str | None:
    for var in ("PRODFIX_CA_BUNDLE", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if os.environ.get(var):
            return os.environ[var]
    return None


@functools.cache
def ssl_context(cafile: str | None) -> ssl.SSLContext:
    """Built once per bundle: loading CA certificates costs ~90 ms per client otherwise."""
    return ssl.create_default_context(cafile=cafile)


@dataclass
class RetryPolicy:
    attempts: int = 4  # total tries for retryable failures
    backoff: float = 0.5  # first delay in seconds; doubles, with full jitter
    max_wait: float = 60.0  # cap for Retry-After / rate-limit resets
    timeout: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep)


class Http:
    """A small session: base URL, auth headers, retry policy, and the service's name for errors."""

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        verify: bool = True,
        policy: RetryPolicy | None = None,
        retry_hint: str = "",
    ) -> None:
        import httpx

        self.service = service
        self.policy = policy or RetryPolicy()
        self.retry_hint = retry_hint
        if not verify:
            print(
                f"prodfix: warning: TLS verification is OFF for {service} ({base_url}) "
                "because the configuration says insecure-skip-tls-verify = true",
                file=sys.stderr,
            )
        self.client = httpx.Client(
            base_url=base_url,
            headers=dict(headers or {}),
            auth=auth,
            verify=ssl_context(ca_bundle()) if verify else False,
            timeout=httpx.Timeout(self.policy.timeout, connect=min(10.0, self.policy.timeout)),
            follow_redirects=False,
        )

    def close(self) -> None:
        self.client.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        ok: tuple[int, ...] = (200, 201, 202, 204, 302, 303),
        expect: tuple[int, ...] = (),
        **kw: Any,
    ) -> httpx.Response:
        """Send with retries. Returns responses whose status is in `ok` or `expect`; a status in
        neither raises ServiceError (after retries for retryable ones)."""
        import httpx

        p = self.policy
        last = ""
        for attempt in range(1, p.attempts + 1):
            try:
                resp = self.client.request(method, url, **kw)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                log.debug("%s %s -> %s (attempt %d)", method, url, last, attempt)
                reached = not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
                if reached and method.upper() not in _IDEMPOTENT:
                    # The server may have acted on it (a second build, a duplicate PR).
                    raise ServiceError(
                        f"{self.service}: {method} {url} got no answer ({last}); it may or may "
                        "not have been carried out",
                        hint=self.retry_hint or "check its state, then run the command again",
                    ) from exc
                if attempt < p.attempts:
                    p.sleep(self._backoff(attempt))
                    continue
                break
            log.debug(
                "%s %s -> %d headers=%s",
                method,
                resp.request.url,
                resp.status_code,
                redact_headers(dict(resp.request.headers)),
            )
            if resp.status_code in ok:
                return resp
            # Rate limits first: a 403/429 in `expect` is returned only when it is not one.
            wait = self._rate_limit_wait(resp)
            if wait is None and resp.status_code in expect:
                return resp
            if wait is not None and attempt < p.attempts:
                if wait > p.max_wait:
                    raise ServiceError(
                        f"{self.service} failed after {attempt} attempt{'s' * (attempt > 1)}: "
                        f"rate limited for {wait:.0f}s (more than the {p.max_wait:.0f}s prodfix waits)",
                        hint=self.retry_hint or f"retry after {wait:.0f}s",
                    )
                _countdown(f"{self.service} rate limit", wait, p.sleep)
                continue
            if resp.status_code in RETRY_STATUSES and attempt < p.attempts:
                last = f"HTTP {resp.status_code}"
                p.sleep(self._backoff(attempt))
                continue
            if resp.status_code in RETRY_STATUSES or wait is not None:
                last = f"HTTP {resp.status_code}"
                break
            raise ServiceError(
                f"{self.service}: {method} {_path(resp)} answered HTTP {resp.status_code}: "
                f"{_short_body(resp)}",
                hint=self.retry_hint,
            )
        raise ServiceError(
            f"{self.service} failed after {p.attempts} attempts: {last}",
            hint=self.retry_hint or f"check that {self.service} is reachable, then retry",
        )

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, self.policy.backoff * (2 ** (attempt - 1)))

    @staticmethod
    def _rate_limit_wait(resp: httpx.Response) -> float | None:
        """Seconds to wait for 429 / a 403 secondary rate limit, or None when not rate limited."""
        if resp.status_code not in (429, 403):
            return None
        ra = resp.headers.get("retry-after")
        if ra:
            try:
                return max(0.0, float(ra))
            except ValueError:
                try:
                    when = email.utils.parsedate_to_datetime(ra)
                    return max(0.0, when.timestamp() - time.time())
                except (TypeError, ValueError):
                    return 60.0  # unreadable: wait a minute rather than hammer or crash
        reset = resp.headers.get("x-ratelimit-reset")
        if resp.headers.get("x-ratelimit-remaining") == "0" and reset:
            try:
                return max(0.0, float(reset) - time.time())
            except ValueError:
                return 60.0
        if resp.status_code == 429:
            return 60.0
        return None  # an ordinary 403: permissions, not a rate limit


def _countdown(what: str, seconds: float, sleep: Callable[[float], None]) -> None:
    from prodfix.output import Reporter

    with Reporter().waiting(f"{what}: waiting {seconds:.0f}s before retrying") as tick:
        left = seconds
        while left > 0:
            tick(f"{what}: retrying in {left:.0f}s")
            step = min(1.0, left)
            sleep(step)
            left -= step


def _path(resp: httpx.Response) -> str:
    return resp.request.url.path


def _short_body(resp: httpx.Response) -> str:
    try:
        data = resp.json()
        if isinstance(data, dict) and "message" in data:
            return str(data["message"])[:300]
    except ValueError:
        pass
    return resp.text.strip().splitlines()[0][:300] if resp.text.strip() else "(empty body)"
