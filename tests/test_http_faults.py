"""The shared Http helper against a loopback server with scripted faults.

Matrix: each fault × (recovers after one fault → success | persists → ServiceError exit 4),
asserting the attempts the server saw and every wait the helper slept (recorded, never real).
"""

from __future__ import annotations

import email.utils
import logging
import re
import socket
import time
from dataclasses import dataclass, field

import pytest

from prodfix.adapters.http import Http, RetryPolicy
from prodfix.errors import Exit, ProdfixError, ServiceError
from tests.fakes.flaky import (
    OK,
    SSO_PAGE,
    FlakyServer,
    Step,
    close,
    reset,
    secondary_rate_limit,
    slow,
    sso_page,
    status,
    too_many,
)

SERVICE = "flaky-svc"
ATTEMPTS = 3
BACKOFF = 0.2
TIMEOUT = 0.3
MAX_WAIT = 5.0
SENTINEL = "tok-SENTINEL-91c2e"


@dataclass
class Sleeps:
    """RetryPolicy.sleep that records instead of sleeping. With `server`, each call is tagged
    with the requests seen so far, so a countdown's several calls sum into one wait."""

    server: FlakyServer | None = None
    calls: list[float] = field(default_factory=list)
    tags: list[int] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.tags.append(len(self.server.seen) if self.server else len(self.calls))

    def waits(self) -> list[float]:
        """Total seconds slept between consecutive attempts."""
        out: dict[int, float] = {}
        for tag, s in zip(self.tags, self.calls, strict=True):
            out[tag] = out.get(tag, 0.0) + s
        return list(out.values())


def http(url: str, sleeps: Sleeps, *, attempts: int = ATTEMPTS, max_wait: float = MAX_WAIT) -> Http:
    policy = RetryPolicy(
        attempts=attempts, backoff=BACKOFF, max_wait=max_wait, timeout=TIMEOUT, sleep=sleeps
    )
    return Http(SERVICE, url, headers={"Authorization": f"Bearer {SENTINEL}"}, policy=policy)


@dataclass(frozen=True)
class Fault:
    kind: str  # "transport" | "5xx" | "rate-limit" | "harmless"
    step: Step
    last: str  # regex: how the final error names the last failure


def faults() -> dict[str, Fault]:
    # Built per test: the 403 reset is an absolute epoch second, so it must be fresh.
    return {
        "timeout": Fault("transport", slow(3 * TIMEOUT), r"ReadTimeout"),
        "connection-closed": Fault("transport", close(), r"RemoteProtocolError"),
        "connection-reset": Fault("transport", reset(), r"(ReadError|RemoteProtocolError)"),
        "500": Fault("5xx", status(500), r"HTTP 500"),
        "502": Fault("5xx", status(502), r"HTTP 502"),
        "503": Fault("5xx", status(503), r"HTTP 503"),
        "429+retry-after": Fault("rate-limit", too_many("1"), r"HTTP 429"),
        "403-rate-limit": Fault(
            "rate-limit", secondary_rate_limit(int(time.time()) + 2), r"HTTP 403"
        ),
        "slow-under-timeout": Fault("harmless", slow(TIMEOUT / 6), ""),
    }


def assert_waits(kind: str, sleeps: Sleeps, n: int) -> None:
    """`n` waits, each bounded: backoff jitter within its doubling cap, rate-limit waits within
    what the server asked for and max_wait."""
    waits = sleeps.waits()
    assert len(waits) == n
    for i, s in enumerate(waits):
        if kind in ("transport", "5xx"):
            assert 0.0 <= s <= BACKOFF * 2**i
        else:
            assert 0.0 < s <= min(2.0, MAX_WAIT)


@pytest.mark.parametrize("mode", ["recovers", "persists"])
@pytest.mark.parametrize("name", list(faults()))
def test_fault_matrix(name: str, mode: str) -> None:
    fault = faults()[name]
    script, then = ([fault.step], OK) if mode == "recovers" else ([], fault.step)
    with FlakyServer(script, then=then) as srv:
        sleeps = Sleeps(srv)
        client = http(srv.url, sleeps)
        if fault.kind == "harmless" or mode == "recovers":
            resp = client.request("GET", "/thing")
            assert (resp.status_code, resp.json()) == (200, {"ok": True})
            n = 1 if fault.kind == "harmless" else 2
            assert len(srv.seen) == n
            assert_waits(fault.kind, sleeps, n - 1)
            if name == "429+retry-after":
                assert sleeps.waits() == [pytest.approx(1.0, abs=0.01)]  # the Retry-After
        else:
            with pytest.raises(ServiceError) as exc:
                client.request("GET", "/thing")
            assert len(srv.seen) == ATTEMPTS
            assert_waits(fault.kind, sleeps, ATTEMPTS - 1)
            err = exc.value
            assert err.code == Exit.SERVICE
            assert re.fullmatch(
                rf"{SERVICE} failed after {ATTEMPTS} attempts: {fault.last}.*", err.message
            ), err.message
            assert err.hint == f"check that {SERVICE} is reachable, then retry"
        client.close()


def test_connection_refused_is_retried_then_exit_4() -> None:
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps = Sleeps()

    with pytest.raises(ServiceError) as exc:
        http(f"http://127.0.0.1:{port}", sleeps).request("GET", "/thing")

    assert exc.value.message.startswith(f"{SERVICE} failed after {ATTEMPTS} attempts: ConnectError")
    assert_waits("transport", sleeps, ATTEMPTS - 1)


@pytest.mark.parametrize("code", [401, 403, 404, 422])
def test_ordinary_client_errors_are_not_retried(code: int) -> None:
    sleeps = Sleeps()
    with FlakyServer([], then=status(code, "nope")) as srv:
        with pytest.raises(ServiceError) as exc:
            http(srv.url, sleeps).request("GET", "/thing")
        assert len(srv.seen) == 1
    assert sleeps.calls == []
    assert exc.value.message == f"{SERVICE}: GET /thing answered HTTP {code}: nope"


@pytest.mark.parametrize(
    "step",
    [too_many("120"), secondary_rate_limit(int(time.time()) + 600), Step(429, {"message": "x"})],
    ids=["retry-after-120s", "reset-in-600s", "429-without-retry-after(60s)"],
)
def test_a_rate_limit_beyond_max_wait_gives_up_at_once(step: Step) -> None:
    sleeps = Sleeps()
    with FlakyServer([], then=step) as srv:
        with pytest.raises(ServiceError) as exc:
            http(srv.url, sleeps).request("GET", "/thing")
        assert len(srv.seen) == 1
    assert sleeps.calls == []
    assert exc.value.code == Exit.SERVICE
    assert re.search(r"rate limited for \d+s \(more than the 5s prodfix waits\)", exc.value.message)


def test_retry_after_as_an_http_date_is_honoured() -> None:
    when = email.utils.formatdate(time.time() + 2, usegmt=True)  # whole seconds: wait in (1, 2]
    with FlakyServer([too_many(when)]) as srv:
        sleeps = Sleeps(srv)
        assert http(srv.url, sleeps).request("GET", "/thing").status_code == 200
        assert len(srv.seen) == 2
    assert_waits("rate-limit", sleeps, 1)


def test_backoff_jitter_stays_under_its_doubling_cap_and_varies() -> None:
    with FlakyServer([], then=status(503)) as srv, pytest.raises(ServiceError):
        sleeps = Sleeps(srv)
        http(srv.url, sleeps, attempts=6).request("GET", "/thing")
    assert_waits("5xx", sleeps, 5)
    assert len(set(sleeps.calls)) > 1  # full jitter, not a fixed delay


def test_authorization_is_redacted_in_debug_logs_and_errors(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    sleeps = Sleeps()
    with FlakyServer([status(500), close(), too_many("1")]) as srv:
        assert http(srv.url, sleeps, attempts=4).request("GET", "/thing").status_code == 200
        assert srv.seen[0].headers["Authorization"] == f"Bearer {SENTINEL}"  # really sent
    with FlakyServer([], then=status(503)) as srv, pytest.raises(ServiceError) as exc:
        http(srv.url, sleeps).request("GET", "/thing")

    assert "'authorization': '<redacted>'" in caplog.text  # the debug line was written
    out, err = capsys.readouterr()
    for text in (caplog.text, out, err, str(exc.value), exc.value.hint, repr(exc.value)):
        assert SENTINEL not in text


# -- regressions: defects this matrix found in http.py, fixed there -----------------------


def test_giving_up_on_a_long_rate_limit_reports_the_attempts_made() -> None:
    with FlakyServer([], then=too_many("120")) as srv, pytest.raises(ServiceError) as exc:
        http(srv.url, Sleeps()).request("GET", "/thing")
    assert "after 1 attempt:" in exc.value.message


@pytest.mark.parametrize(
    "step",
    [
        too_many("soon"),
        Step(403, {}, (("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "later"))),
    ],
    ids=["retry-after", "x-ratelimit-reset"],
)
def test_a_garbled_rate_limit_header_is_a_service_error(step: Step) -> None:
    with FlakyServer([], then=step) as srv, pytest.raises(ServiceError):
        http(srv.url, Sleeps(), max_wait=0.5).request("GET", "/thing")


def test_an_injected_sleep_waits_the_whole_retry_after() -> None:
    sleeps = Sleeps()
    with FlakyServer([too_many("3")]) as srv:
        http(srv.url, sleeps).request("GET", "/thing")
    assert sum(sleeps.calls) == pytest.approx(3.0, abs=0.01)


def test_a_post_is_not_resent_after_the_server_received_it() -> None:
    with FlakyServer([slow(3 * TIMEOUT)]) as srv:
        with pytest.raises(ServiceError):
            http(srv.url, Sleeps()).request("POST", "/build", json={"x": 1})
        assert len(srv.seen) == 1


# -- only what is safe to send twice is sent twice ------------------------------------------


@pytest.mark.parametrize("code", [500, 502, 503, 504])
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_post_that_got_a_5xx_reaches_the_server_exactly_once(method: str, code: int) -> None:
    """The server got it and may have acted on it (a Jenkins build, a GitHub review)."""
    sleeps = Sleeps()
    with FlakyServer([], then=status(code)) as srv:
        with pytest.raises(ServiceError) as exc:
            http(srv.url, sleeps).request(method, "/job/x/build", json={"x": 1})
        assert [(s.method, s.path) for s in srv.seen] == [(method, "/job/x/build")]
    assert sleeps.calls == []
    assert exc.value.code == Exit.SERVICE
    assert exc.value.message == (
        f"{SERVICE}: {method} /job/x/build answered HTTP {code}; "
        "it may or may not have been carried out"
    )
    assert exc.value.hint == "check its state, then run the command again"


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])
def test_an_idempotent_request_is_retried_after_a_502(method: str) -> None:
    with FlakyServer([status(502)]) as srv:
        resp = http(srv.url, Sleeps(srv)).request(method, "/thing")
        assert resp.status_code == 200
        assert [s.method for s in srv.seen] == [method, method]


def test_a_post_the_caller_declares_repeatable_is_retried() -> None:
    """A read-only GraphQL query is a POST; the caller says it may be sent again."""
    with FlakyServer([status(502)]) as srv:
        client = http(srv.url, Sleeps(srv))
        assert client.request("POST", "/graphql", idempotent=True).status_code == 200
        assert len(srv.seen) == 2


def test_a_post_that_never_reached_the_server_is_retried() -> None:
    with socket.socket() as s:  # nobody listens: the connection is refused, nothing was sent
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps = Sleeps()
    with pytest.raises(ServiceError) as exc:
        http(f"http://127.0.0.1:{port}", sleeps).request("POST", "/job/x/build")
    assert exc.value.message.startswith(f"{SERVICE} failed after {ATTEMPTS} attempts: ConnectError")
    assert len(sleeps.calls) == ATTEMPTS - 1


def test_a_post_that_was_rate_limited_is_waited_for_and_sent_again() -> None:
    """429: the server did not process it, so sending it again is what the server asks for."""
    with FlakyServer([too_many("2")]) as srv:
        sleeps = Sleeps(srv)
        assert http(srv.url, sleeps).request("POST", "/reviews").status_code == 200
        assert [s.method for s in srv.seen] == ["POST", "POST"]
    assert sleeps.waits() == [pytest.approx(2.0, abs=0.01)]


# -- only 2xx succeeds; SSO pages and redirects are named -----------------------------------


@pytest.mark.parametrize("code", [200, 201, 202, 204])
def test_every_2xx_succeeds_by_default(code: int) -> None:
    with FlakyServer([], then=Step(code, b"")) as srv:
        assert http(srv.url, Sleeps()).request("POST", "/x").status_code == code


@pytest.mark.parametrize("code", [301, 302, 303, 307])
def test_a_redirect_is_an_error_unless_the_caller_expects_it(code: int) -> None:
    login = "https://sso.example.com/login?next=%2Fapi&token=abc"
    step = Step(code, b"", (("Location", login),), content_type="text/html")
    with FlakyServer([], then=step) as srv:
        with pytest.raises(ServiceError) as exc:
            http(srv.url, Sleeps()).request("GET", "/api/v1/applications/app?project=p")
        assert len(srv.seen) == 1
        assert http(srv.url, Sleeps()).request("POST", "/b", ok=(201, code)).status_code == code
    assert exc.value.code == Exit.SERVICE
    assert exc.value.message == (
        f"{SERVICE} redirected GET /api/v1/applications/app to https://sso.example.com/login "
        f"(HTTP {code}) — SSO? check the URL and token"
    )
    assert "abc" not in exc.value.message + exc.value.hint


def test_an_html_page_is_not_json() -> None:
    with FlakyServer([], then=sso_page()) as srv:
        client = http(srv.url, Sleeps())
        resp = client.request("GET", "/api/json?tree=jobs&token=abc")
        with pytest.raises(ServiceError) as exc:
            client.json(resp)
    assert exc.value.code == Exit.SERVICE
    assert exc.value.message == (
        f"got an HTML page from {SERVICE} ({srv.url}/api/json) — SSO? check the URL and token"
    )


def test_html_without_a_content_type_is_recognised_too() -> None:
    with FlakyServer([], then=Step(200, SSO_PAGE, content_type="application/json")) as srv:
        client = http(srv.url, Sleeps())
        with pytest.raises(ServiceError) as exc:
            client.json(client.request("GET", "/api"))
    assert exc.value.message.startswith(f"got an HTML page from {SERVICE} ({srv.url}/api)")


def test_other_text_is_named_as_not_json() -> None:
    with FlakyServer(
        [], then=Step(200, b"maintenance until 5pm\n", content_type="text/plain")
    ) as srv:
        client = http(srv.url, Sleeps())
        with pytest.raises(ServiceError) as exc:
            client.json(client.request("GET", "/api"))
    assert exc.value.message == (
        f"{SERVICE} answered {srv.url}/api with something that is not JSON: maintenance until 5pm"
    )


def test_retry_backoff_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRODFIX_RETRY_BACKOFF")  # the suite sets 0 (tests/conftest.py)
    assert RetryPolicy().backoff == 0.5
    monkeypatch.setenv("PRODFIX_RETRY_BACKOFF", "0.125")
    assert RetryPolicy().backoff == 0.125
    monkeypatch.setenv("PRODFIX_RETRY_BACKOFF", "later")
    with pytest.raises(ProdfixError) as exc:
        RetryPolicy()
    assert exc.value.message == "PRODFIX_RETRY_BACKOFF='later' is not a number of seconds"
