"""Tell the team's channel when a fix waits on a person, a back-merge conflicts, a fix is done.

Webhook URLs are secrets (whoever has one can post to the channel): `.prodfix.toml` names the
environment variable that holds each URL, and the URL is read from there only when posting.
It never reaches stdout, stderr, a log record (not even with --debug: httpx's request log line
is redacted while prodfix posts) or an error message; texts name the variable instead.

Each message is posted once per channel, with the HTTP helper's timeouts and TLS settings,
and is never retried once it may have reached the server (a retried POST can post twice).
`Dedupe` makes each event a single announcement across runs: its key is claimed before
posting and released only when the server was provably not reached (a connection error), so
the next reconcile pass tries again. Notifications are best effort: a failure is a warning,
never an error of the command that notified.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from prodfix.adapters import notify_payloads as payloads
from prodfix.config.model import NotifyCfg

TIMEOUT = 10.0  # seconds for one webhook POST
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
CHANNELS: dict[str, Callable[[payloads.Message], dict[str, Any]]] = {
    "Slack": payloads.slack,
    "Teams": payloads.teams,
}


@dataclass(frozen=True)
class Channel:
    name: str  # "Slack" | "Teams"
    variable: str  # the environment variable holding the URL


class Dedupe:
    """Which events were announced: a small SQLite table under PRODFIX_HOME, safe to share
    between processes (a primary key and INSERT OR IGNORE make a claim atomic)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        from prodfix.adapters.paths import ensure_private_dir

        ensure_private_dir(self.path.parent)
        with closing(sqlite3.connect(self.path, timeout=10)) as db, db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS announced (fix TEXT, step TEXT, since TEXT, "
                "channel TEXT, at REAL, PRIMARY KEY (fix, step, since, channel))"
            )
            yield db

    def claim(self, fix: str, step: str, since: str, channel: str) -> bool:
        """True exactly once per key: the caller announces it."""
        with self._db() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO announced VALUES (?, ?, ?, ?, ?)",
                (fix, step, since, channel, time.time()),
            )
            return cur.rowcount == 1

    def release(self, fix: str, step: str, since: str, channel: str) -> None:
        with self._db() as db:
            db.execute(
                "DELETE FROM announced WHERE fix = ? AND step = ? AND since = ? AND channel = ?",
                (fix, step, since, channel),
            )


class _Redact(logging.Filter):
    """Rewrites log records that contain a secret (longest forms first)."""

    def __init__(self, secrets: Sequence[str], shown: str) -> None:
        super().__init__()
        self.secrets = sorted({x for x in secrets if x}, key=len, reverse=True)
        self.shown = shown

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if any(x in text for x in self.secrets):
            for x in self.secrets:
                text = text.replace(x, self.shown)
            record.msg, record.args = text, None
        return True


class Notifier:
    """Posts to the configured channels. `env` is where URLs are read (default: os.environ);
    `warn` reports a failed or impossible notification (default: prodfix's warning line)."""

    def __init__(
        self,
        channels: Sequence[Channel],
        *,
        wait_minutes: int = 60,
        dedupe: Dedupe | None = None,
        env: Mapping[str, str] | None = None,
        warn: Callable[[str], None] | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        from prodfix.adapters.paths import home

        self.channels = tuple(channels)
        self.wait_minutes = wait_minutes
        self.dedupe = dedupe or Dedupe(home() / "notify.sqlite3")
        self.env = os.environ if env is None else env
        self.warn = warn or _warn
        self.timeout = timeout
        self._told: set[str] = set()  # variables already warned about: once per notifier

    @classmethod
    def from_config(cls, cfg: NotifyCfg, **kw: Any) -> Notifier:
        """From `[notify]`: a channel per `*-webhook-url-env` key that is set."""
        names = {"Slack": cfg.slack_webhook_url_env, "Teams": cfg.teams_webhook_url_env}
        channels = [Channel(name, str(names[name])) for name in CHANNELS if names.get(name)]
        return cls(channels, wait_minutes=cfg.wait_minutes, **kw)

    # -- the events -----------------------------------------------------------------------------

    def fix_waiting(
        self, fix: str, step: str, who: str, minutes: int, url: str | None, *, since: str
    ) -> tuple[str, ...]:
        """A step of `fix` has waited `minutes` on `who` (a reviewer, a person's name) since
        `since` (ISO 8601, when the wait began). Announced once per (fix, step, since), and
        only from `wait-minutes` on. Returns the channels posted to."""
        if minutes < self.wait_minutes:
            return ()
        message = payloads.waiting(fix, step, who, minutes, url)
        return self._announce((fix, f"waiting:{step}", since), message)

    def backmerge_conflict(
        self, delivery: str, paths: Sequence[str], fix: str | None, url: str | None
    ) -> tuple[str, ...]:
        """The back-merge of `delivery` into master conflicts on `paths` (after `fix`, when
        one fix brought it). Announced once per delivery, fix and set of paths."""
        message = payloads.conflict(delivery, paths, fix, url)
        key = (fix or "", f"backmerge-conflict:{delivery}", "\0".join(sorted(paths)))
        return self._announce(key, message)

    def fix_done(self, fix: str, repos: Sequence[str]) -> tuple[str, ...]:
        """Every step of `fix` is done in `repos` (names). Announced once per fix."""
        return self._announce((fix, "done", ""), payloads.done(fix, repos))

    # -- posting --------------------------------------------------------------------------------

    def _announce(self, key: tuple[str, str, str], message: payloads.Message) -> tuple[str, ...]:
        posted = []
        for channel in self.channels:
            url = self._url(channel)
            if url is None or not self.dedupe.claim(*key, channel.name):
                continue
            reached = self._post(channel, url, CHANNELS[channel.name](message))
            if reached is True:
                posted.append(channel.name)
            elif reached is None:
                self.dedupe.release(*key, channel.name)  # never arrived: the next pass retries
        return tuple(posted)

    def _url(self, channel: Channel) -> str | None:
        url = self.env.get(channel.variable, "").strip()
        try:
            parts = urlsplit(url)
        except ValueError:  # e.g. an unclosed [ in the host: never echo the value
            parts = urlsplit("")
        if not url:
            problem = f"{channel.variable} is not set"
        elif parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK):
            return url
        else:
            problem = (
                f"the URL in {channel.variable} must use https:// "
                "(http:// only for 127.0.0.1, ::1 and localhost)"
            )
        if channel.variable not in self._told:
            self._told.add(channel.variable)
            self.warn(f"{channel.name} notifications are off: {problem}")
        return None

    def _post(self, channel: Channel, url: str, payload: dict[str, Any]) -> bool | None:
        """One POST. True: accepted; False: reached, refused or unanswered; None: the request
        never reached the server."""
        import httpx

        from prodfix.adapters.http import Http, RetryPolicy

        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        target = url[len(origin) :] or "/"
        shown = f"<the URL in {channel.variable}>"
        what = f"{channel.name} notification (webhook from {channel.variable})"
        try:
            normal = str(httpx.URL(url))
            http = Http(what, origin, policy=RetryPolicy(attempts=1, timeout=self.timeout))
        except (httpx.InvalidURL, ValueError):
            self.warn(f"{what} skipped: the URL in {channel.variable} is not a valid URL")
            return False
        # as given, as httpx prints it (normalised), and the part after the host
        redact = _Redact((url, normal, target), shown)
        log = logging.getLogger("httpx")  # httpx logs every request's full URL at INFO
        log.addFilter(redact)
        try:
            resp = http.client.post(target, json=payload)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            self.warn(f"{what} failed: could not connect ({type(exc).__name__})")
            return None
        except httpx.HTTPError as exc:
            # It may have arrived: not retried, so the channel never sees it twice.
            self.warn(f"{what} got no answer ({type(exc).__name__}); not retried")
            return False
        finally:
            log.removeFilter(redact)
            http.close()
        if resp.status_code in (200, 201, 202, 204):
            return True
        detail = resp.text.strip().splitlines()[0][:200] if resp.text.strip() else ""
        detail = detail.replace(url, shown).replace(target, shown)
        self.warn(f"{what} was refused: HTTP {resp.status_code}" + (f" {detail}" if detail else ""))
        return False


def _warn(text: str) -> None:
    from prodfix.output import Reporter

    Reporter().warn(text)
