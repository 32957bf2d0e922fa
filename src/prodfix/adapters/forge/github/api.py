"""Thin GitHub REST + GraphQL transport over the shared Http helper.

A thin wrapper rather than a client library: ~10 REST calls and one GraphQL query, with
`X-GitHub-Api-Version: 2022-11-28` (served by github.com and every supported GHES; see
https://docs.github.com/en/rest/about-the-rest-api/api-versions — newer versions are not on older
GHES). Retries, rate-limit waits and TLS are the Http helper's job; this module adds GitHub's
headers, `Link` pagination and errors that name the token's source.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from prodfix.adapters.http import Http, RetryPolicy, body_message
from prodfix.errors import ProdfixError, ServiceError

if TYPE_CHECKING:
    import httpx

    from prodfix.adapters.credentials import Credential
    from prodfix.adapters.remote_url import RemoteRepo

API_VERSION = "2022-11-28"
USER_AGENT = "prodfix"
PER_PAGE = 100  # the maximum GitHub serves; fewer round trips
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


class AuthRejected(ProdfixError):
    """GitHub refused the token (401) or the token lacks a permission (403)."""


class GitHubApi:
    def __init__(
        self,
        remote: RemoteRepo,
        credential: Credential | None,
        *,
        verify: bool = True,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.remote = remote
        self.credential = credential
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": USER_AGENT,
        }
        if credential is not None:
            headers["Authorization"] = f"Bearer {credential.secret}"
        self.http = Http(
            f"GitHub ({remote.host})",
            remote.api_url,
            headers=headers,
            verify=verify,
            policy=policy,
        )

    def __repr__(self) -> str:
        return f"GitHubApi({self.remote.api_url!r}, credential={self.credential!r})"

    def close(self) -> None:
        self.http.close()

    @property
    def repo_path(self) -> str:
        return f"/repos/{self.remote.owner}/{self.remote.name}"

    def call(
        self,
        method: str,
        path: str,
        *,
        expect: tuple[int, ...] = (),
        **kw: Any,
    ) -> httpx.Response:
        """One REST call. Statuses in `expect` come back for the caller to interpret;
        401/403 become AuthRejected naming where the token came from."""
        ok = (200, 201, 204)
        resp = self.http.request(method, path, ok=ok, expect=(*expect, 401, 403), **kw)
        if resp.status_code == 403 and _is_rate_limit(resp):
            # Http waits out rate limits only for statuses it was not told to return; ask again
            # without 403 in `expect` so its countdown and cap apply (secondary rate limits answer
            # 403: https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api).
            resp = self.http.request(method, path, ok=ok, expect=expect, **kw)
        if resp.status_code in (401, 403) and resp.status_code not in expect:
            raise self._auth_error(resp)
        return resp

    def paginate(self, path: str, params: dict[str, str | int]) -> list[Any]:
        """All items of a list endpoint, following `Link: rel="next"` (GitHub's pagination)."""
        return [item for page in self.pages(path, params) for item in page]

    def pages(self, path: str, params: dict[str, str | int]) -> Iterator[list[Any]]:
        """The pages of a list endpoint one by one: a caller that has read enough stops."""
        url: str | None = path
        query: dict[str, str | int] | None = {**params, "per_page": PER_PAGE}
        while url is not None:
            resp = self.call("GET", url, params=query)
            yield list(self.http.json(resp))
            url = self._next_link(resp)
            query = None  # the next link carries the whole query

    def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        # A query only reads: safe to send again after a 502, though it is a POST.
        resp = self.call(
            "POST",
            self.remote.graphql_url,
            json={"query": query, "variables": variables},
            idempotent=True,
        )
        doc = self.http.json(resp)
        if doc.get("errors"):
            msgs = "; ".join(str(e.get("message", e)) for e in doc["errors"])[:300]
            raise ServiceError(f"GitHub GraphQL ({self.remote.host}) answered: {msgs}")
        data: dict[str, Any] = doc.get("data") or {}
        return data

    def _next_link(self, resp: httpx.Response) -> str | None:
        m = _NEXT.search(resp.headers.get("link", ""))
        if not m:
            return None
        nxt, base = urlsplit(m.group(1)), urlsplit(self.remote.api_url)
        if (nxt.scheme, nxt.netloc) != (base.scheme, base.netloc):
            # The token is sent with every request: never follow a link to another origin.
            raise ServiceError(
                f"GitHub ({self.remote.host}) sent a pagination link to another host ({nxt.netloc})",
                hint="check forge.api-url in .prodfix.toml: it must be the URL GitHub calls itself",
            )
        return m.group(1)

    def _auth_error(self, resp: httpx.Response) -> AuthRejected:
        host, status = self.remote.host, resp.status_code
        what = _message(resp)
        if self.credential is None:
            return AuthRejected(
                f"GitHub ({host}) requires a token ({status}: {what})",
                hint=_token_hint(host),
            )
        src = self.credential.source
        if status == 401:
            return AuthRejected(
                f"the token from {src} was rejected by {host} (401: {what})",
                hint=f"check it is valid for {host} and has repo scope; or unset it and use "
                "`gh auth login`",
            )
        return AuthRejected(
            f"the token from {src} may not do this on {self.remote.full_name} (403: {what})",
            hint=f"give it write access to {self.remote.full_name} (classic token: repo scope; "
            "fine-grained: Pull requests read/write), or use another token",
        )


def _token_hint(host: str) -> str:
    from prodfix.adapters.credentials import missing_token

    missing = missing_token(host)
    return f"{missing.hint} ({missing.ignored})" if missing.ignored else missing.hint


def _is_rate_limit(resp: httpx.Response) -> bool:
    """GitHub's 403 rate limits carry Retry-After or an exhausted x-ratelimit-remaining."""
    return "retry-after" in resp.headers or resp.headers.get("x-ratelimit-remaining") == "0"


def _message(resp: httpx.Response) -> str:
    message = body_message(resp)
    return message[:200] if message is not None else resp.reason_phrase or "no message"
