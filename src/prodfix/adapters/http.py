"""One HTTP helper for every service client (GitHub, Jenkins, Argo CD).

Timeouts on every request; bounded retries with jitter, but only of what is safe to send twice:
an idempotent request (RFC 9110 §9.2.2: GET, HEAD, OPTIONS, PUT, DELETE) after a 5xx or a lost
answer, and any request that provably never reached the server (it could not connect). 429 and
secondary rate limits are waited out (capped) with a visible countdown whatever the method: the
server did not process the request (GitHub's REST docs, "Rate limits for the REST API"). Only 2xx
counts as success unless a caller lists more; a redirect is most often a single-sign-on login
page, and so is HTML where JSON was expected: both are a clear `ServiceError` (exit 4). TLS
verification on (a CA bundle from SSL_CERT_FILE / REQUESTS_CA_BUNDLE), Authorization redacted
from debug output. httpx is imported lazily: it costs ~100 ms at start-up.
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

from prodfix.errors import ProdfixError, ServiceError

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("prodfix.http")

_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({500, 502, 503, 504})
SUCCESS = tuple(range(200, 300))
BACKOFF_ENV = "PRODFIX_RETRY_BACKOFF"
SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "x-api-key", "jenkins-crumb"})


class LoginPage(ServiceError):
    """The service answered with a page for people (HTML, or a redirect to a login) where its
    API should have answered: single sign-on in front of it, or a URL that is not the API's."""


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


def default_backoff() -> float:
    """The first retry delay: PRODFIX_RETRY_BACKOFF seconds, else 0.5."""
    raw = os.environ.get(BACKOFF_ENV, "").strip()
    try:
        value = float(raw) if raw else 0.5
    except ValueError:
        value = -1.0
    if not value >= 0:  # also rejects nan
        raise ProdfixError(
            f"{BACKOFF_ENV}={raw!r} is not a number of seconds",
            hint=f"set {BACKOFF_ENV} to e.g. 0.5, or unset it",
        )
    return value


@dataclass
class RetryPolicy:
    attempts: int = 4  # total tries for retryable failures
    backoff: float = field(default_factory=default_backoff)  # first delay; doubles, full jitter
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
        ok: tuple[int, ...] = SUCCESS,
        expect: tuple[int, ...] = (),
        idempotent: bool | None = None,
        **kw: Any,
    ) -> httpx.Response:
        """Send with retries. Returns responses whose status is in `ok` or `expect`; a status in
        neither raises ServiceError (after retries for retryable ones). `idempotent` (default:
        by the method) says whether the request may be sent again after the server got it,
        e.g. True for a read-only GraphQL query, which is a POST."""
        import httpx

        p = self.policy
        repeatable = method.upper() in _IDEMPOTENT if idempotent is None else idempotent
        last = ""
        for attempt in range(1, p.attempts + 1):
            try:
                resp = self.client.request(method, url, **kw)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                log.debug("%s %s -> %s (attempt %d)", method, url, last, attempt)
                never_sent = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
                if not repeatable and not isinstance(exc, never_sent):
                    raise self._maybe_done(method, url, f"got no answer ({last})") from exc
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
            if resp.status_code in RETRY_STATUSES and not repeatable:
                # The server got it and may have acted on it (a second build, a duplicate
                # review): sending it again is the caller's decision, after looking.
                raise self._maybe_done(method, _path(resp), f"answered HTTP {resp.status_code}")
            if resp.status_code in RETRY_STATUSES and attempt < p.attempts:
                last = f"HTTP {resp.status_code}"
                p.sleep(self._backoff(attempt))
                continue
            if resp.status_code in RETRY_STATUSES or wait is not None:
                last = f"HTTP {resp.status_code}"
                break
            if 300 <= resp.status_code < 400:
                raise self._redirected(method, resp)
            raise ServiceError(
                f"{self.service}: {method} {_path(resp)} answered HTTP {resp.status_code}: "
                f"{_short_body(resp)}",
                hint=self.retry_hint,
            )
        raise ServiceError(
            f"{self.service} failed after {p.attempts} attempts: {last}",
            hint=self.retry_hint or f"check that {self.service} is reachable, then retry",
        )

    def json(self, resp: httpx.Response) -> Any:
        """The JSON body of a response. An HTML page (typically a single-sign-on login in front
        of the service) or any other non-JSON answer is a ServiceError naming the URL."""
        where = _where(resp.request.url)
        text = resp.text
        if "html" in resp.headers.get("content-type", "").lower() or text.lstrip().startswith("<"):
            raise LoginPage(
                f"got an HTML page from {self.service} ({where}) — SSO? check the URL and token",
                hint=_SSO_HINT,
            )
        try:
            return resp.json()
        except ValueError:
            first = text.strip().splitlines()[0][:200] if text.strip() else "an empty body"
            raise ServiceError(
                f"{self.service} answered {where} with something that is not JSON: {first}",
                hint=self.retry_hint or f"check that the URL points at {self.service}'s API",
            ) from None

    def _maybe_done(self, method: str, where: str, what: str) -> ServiceError:
        return ServiceError(
            f"{self.service}: {method} {where} {what}; it may or may not have been carried out",
            hint=self.retry_hint or "check its state, then run the command again",
        )

    def _redirected(self, method: str, resp: httpx.Response) -> LoginPage:
        location = resp.headers.get("location", "")
        to = _where(resp.request.url.join(location)) if location else "nowhere"
        return LoginPage(
            f"{self.service} redirected {method} {_path(resp)} to {to} "
            f"(HTTP {resp.status_code}) — SSO? check the URL and token",
            hint=_SSO_HINT,
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


def _where(url: httpx.URL) -> str:
    """scheme://host[:port]/path: no query (it may carry a token), no user info."""
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}{url.path}"


_SSO_HINT = (
    "a login page means prodfix is not reaching the API itself: use the API's URL in "
    ".prodfix.toml and a token the API accepts (not a browser session)"
)


def body_message(resp: httpx.Response) -> str | None:
    """The `message` of a JSON error body (GitHub, Argo CD), or None: error paths read it
    leniently, since an error page need not be JSON."""
    try:
        data = resp.json()
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return None


def _short_body(resp: httpx.Response) -> str:
    message = body_message(resp)
    if message is not None:
        return message[:300]
    return resp.text.strip().splitlines()[0][:300] if resp.text.strip() else "(empty body)"
