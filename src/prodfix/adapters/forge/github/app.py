"""GitHub App authentication: the App's JWT, installation tokens, and webhook deliveries.

As GitHub documents it ("Generating a JSON Web Token (JWT) for a GitHub App", docs.github.com):
RS256, `iss` = the App id, `iat` 60 s in the past against clock drift, `exp` at most 10 minutes
ahead. Installation tokens (`POST /app/installations/{id}/access_tokens`) live one hour; they are
cached in memory until shortly before `expires_at` and never written anywhere. GHE: the same
paths below the configured API base.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prodfix.adapters.credentials import Credential
from prodfix.adapters.http import Http, RetryPolicy
from prodfix.errors import ProdfixError, ServiceError

JWT_BACKDATE = 60  # seconds: GitHub rejects an `iat` in its future
JWT_LIFETIME = 540  # seconds: under GitHub's 10-minute cap, with margin for clock drift
TOKEN_MARGIN = 300  # seconds before expiry a cached installation token is renewed
API_VERSION = "2022-11-28"


def signing_key(private_key: str) -> Any:
    """The App's PEM private key, parsed (and checked, which is most of the cost of a
    signature) once: the service signs a JWT for every App call."""
    from jwt.algorithms import RSAAlgorithm
    from jwt.exceptions import InvalidKeyError

    try:
        return RSAAlgorithm(RSAAlgorithm.SHA256).prepare_key(private_key)
    except (ValueError, TypeError, InvalidKeyError):
        raise ProdfixError(
            "the GitHub App private key cannot sign: it is not an RSA private key in PEM form",
            hint="private-key-file must be the PEM file downloaded from the App's settings",
        ) from None


def app_jwt(app_id: int, private_key: Any, *, now: float | None = None) -> str:
    """An App JWT signed with `private_key`: a PEM text, or what `signing_key` made of it."""
    import jwt

    key = signing_key(private_key) if isinstance(private_key, str) else private_key
    t = int(time.time() if now is None else now)
    payload = {"iat": t - JWT_BACKDATE, "exp": t + JWT_LIFETIME, "iss": str(app_id)}
    return jwt.encode(payload, key, algorithm="RS256")


@dataclass(frozen=True)
class Delivery:
    id: int
    guid: str
    delivered_at: float
    ok: bool  # GitHub's attempt answered 2xx
    redelivery: bool
    event: str


class GitHubAppClient:
    def __init__(
        self,
        api_url: str,
        app_id: int,
        private_key: str,
        *,
        verify: bool = True,
        policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.app_id = app_id
        self._pem = private_key
        self._key: Any = None  # signing_key(private_key), at the first App call
        self._clock = clock
        self._tokens: dict[int, tuple[str, float]] = {}
        self._installations: dict[str, int] = {}
        self._lock = threading.Lock()
        self.http = Http(
            "GitHub App",
            self.api_url,
            headers={
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "prodfix",
            },
            verify=verify,
            policy=policy,
        )

    def __repr__(self) -> str:
        return f"GitHubAppClient({self.api_url!r}, app_id={self.app_id})"

    def close(self) -> None:
        self.http.close()

    def _app_call(self, method: str, path: str, **kw: Any) -> Any:
        with self._lock:
            if self._key is None:
                self._key = signing_key(self._pem)
            key = self._key
        token = app_jwt(self.app_id, key, now=self._clock())
        resp = self.http.request(
            method, path, headers={"Authorization": f"Bearer {token}"}, expect=(401, 404), **kw
        )
        if resp.status_code == 401:
            raise ProdfixError(
                f"GitHub ({self.api_url}) rejected the App's JWT (401)",
                hint="check app-id and private-key-file, and that this machine's clock is right",
            )
        if resp.status_code == 404:
            raise ProdfixError(
                f"GitHub ({self.api_url}): {method} {path} not found (404)",
                hint="is the App installed on this repository or organisation?",
            )
        return resp

    def installation_for(self, full_name: str) -> int:
        with self._lock:
            known = self._installations.get(full_name.lower())
        if known is not None:
            return known
        doc = self.http.json(self._app_call("GET", f"/repos/{full_name}/installation"))
        with self._lock:
            self._installations[full_name.lower()] = int(doc["id"])
        return int(doc["id"])

    def remember_installation(self, full_name: str, installation: int) -> None:
        """A webhook names the installation: no need to ask for it."""
        with self._lock:
            self._installations[full_name.lower()] = installation

    def token(self, installation: int) -> Credential:
        """An installation token, cached until TOKEN_MARGIN before it expires."""
        now = self._clock()
        with self._lock:
            cached = self._tokens.get(installation)
        if cached is not None and cached[1] - TOKEN_MARGIN > now:
            return Credential(f"GitHub App installation {installation}", cached[0])
        resp = self._app_call("POST", f"/app/installations/{installation}/access_tokens")
        doc = self.http.json(resp)
        expires = _parse_time(str(doc["expires_at"]))
        with self._lock:
            self._tokens[installation] = (str(doc["token"]), expires)
        return Credential(f"GitHub App installation {installation}", str(doc["token"]))

    def deliveries(self, *, since: float) -> list[Delivery]:
        """The App's webhook deliveries newer than `since` (GitHub lists newest first, with
        cursor pagination in the Link header)."""
        out: list[Delivery] = []
        path: str | None = "/app/hook/deliveries"
        params: dict[str, Any] | None = {"per_page": 100}
        while path is not None:
            resp = self._app_call("GET", path, params=params)
            page = self.http.json(resp)
            for d in page:
                at = _parse_time(str(d["delivered_at"]))
                if at < since:
                    return out
                out.append(
                    Delivery(
                        int(d["id"]),
                        str(d["guid"]),
                        at,
                        200 <= int(d.get("status_code") or 0) < 300,
                        bool(d.get("redelivery")),
                        str(d.get("event") or ""),
                    )
                )
            path, params = _next(resp.headers.get("link", ""), self.api_url), None
        return out

    def redeliver(self, delivery_id: int) -> None:
        self._app_call("POST", f"/app/hook/deliveries/{delivery_id}/attempts")


def failed_deliveries(found: list[Delivery]) -> list[Delivery]:
    """Deliveries whose every attempt failed (one per guid: the newest attempt)."""
    ok = {d.guid for d in found if d.ok}
    newest: dict[str, Delivery] = {}
    for d in found:
        if d.guid not in ok and (
            d.guid not in newest or d.delivered_at > newest[d.guid].delivered_at
        ):
            newest[d.guid] = d
    return sorted(newest.values(), key=lambda d: d.delivered_at)


def _parse_time(text: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise ServiceError(f"GitHub sent an unreadable time {text!r}") from exc


def _next(link: str, api_url: str) -> str | None:
    import re

    m = re.search(r'<([^>]+)>;\s*rel="next"', link)
    if not m:
        return None
    url = m.group(1)
    if not url.startswith(api_url):
        # The JWT goes with every request: never follow a link to another origin.
        raise ServiceError(f"GitHub sent a pagination link to another host: {url.split('?')[0]}")
    return url.removeprefix(api_url)
