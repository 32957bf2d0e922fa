"""Worker threads (claim a job, run it under a renewed lease, record the outcome), the poller
(a refresh job per repository every `poll-seconds`) and the start-up redelivery of failed
webhook deliveries. Threads, not processes: the work is git subprocesses and HTTP waits."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from prodfix.errors import ProdfixError
from prodfix.serve import queue
from prodfix.serve.handlers import run_job
from prodfix.serve.service import Service

log = logging.getLogger("prodfix.serve")

IDLE = 0.2  # seconds between polls of an empty queue
# Repositories with webhooks are refreshed (dashboard data, missed events) at most this often:
# a refresh reads every recent PR, and an installation may make 5 000 requests an hour.
WEBHOOK_REFRESH = 600.0
REDELIVER_DAYS = 3


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Workers:
    def __init__(self, svc: Service, *, count: int, lease: float, idle: float = IDLE) -> None:
        self.svc = svc
        self.count = count
        self.lease = lease
        self.idle = idle
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        for i in range(self.count):
            t = threading.Thread(target=self._loop, name=f"prodfix-worker-{i}", daemon=True)
            t.start()
            self.threads.append(t)

    def shutdown(self, timeout: float = 10.0) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout)

    def _loop(self) -> None:
        owner = worker_id()
        while not self.stop.is_set():
            try:
                job = queue.claim(self.svc.db, owner, lease=self.lease)
            except ProdfixError as exc:  # the database is down or busy: wait, then retry
                log.warning("cannot claim a job: %s", exc.message)
                self.stop.wait(1.0)
                continue
            if job is None:
                self.stop.wait(self.idle)
                continue
            self.run_one(job, owner)

    def run_one(self, job: queue.Job, owner: str) -> str:
        done = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(job, owner, done), daemon=True)
        beat.start()
        error: str | None = None
        try:
            run_job(self.svc, job)
        except ProdfixError as exc:
            error = exc.message
        except Exception as exc:  # a bug must not kill the worker; the job is retried, then failed
            log.exception("job %d (%s %s) crashed", job.id, job.kind, job.repo)
            error = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            done.set()
            beat.join()
        if error:
            log.warning(
                "job %d (%s %s) attempt %d: %s", job.id, job.kind, job.repo, job.attempts, error
            )
        for _ in range(30):  # the database may be restarting: the outcome must be recorded
            try:
                state = queue.finish(self.svc.db, job, owner, error=error)
                break
            except ProdfixError:
                if self.stop.wait(1.0):
                    return "unknown"
        else:
            return "unknown"  # the lease expires and another worker runs it again
        outcome = {"done": "done", "queued": "retry", "failed": "failed"}[state]
        self.svc.metrics.job(outcome, time.time() - job.created)
        return state

    def _heartbeat(self, job: queue.Job, owner: str, done: threading.Event) -> None:
        while not done.wait(self.lease / 3):
            try:
                if not queue.renew(self.svc.db, job, owner, lease=self.lease):
                    log.warning("job %d: lease lost (taken over after expiry)", job.id)
                    return
            except ProdfixError as exc:
                log.warning("job %d: cannot renew the lease: %s", job.id, exc.message)


class Poller:
    """Enqueue a refresh per served repository every `interval` seconds (deduplicated: one
    waiting refresh per repository, however many instances poll)."""

    def __init__(self, svc: Service, *, interval: float) -> None:
        self.svc = svc
        self.interval = interval
        self._last: dict[str, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="prodfix-poller", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def shutdown(self) -> None:
        self.stop.set()
        self.thread.join(5)

    def poll_once(self, now: float | None = None) -> int:
        t = time.monotonic() if now is None else now
        due = [
            target
            for target in self.svc.served()
            if target.github is None
            or t - self._last.get(target.key, -WEBHOOK_REFRESH) >= WEBHOOK_REFRESH
        ]
        added = 0
        with self.svc.db.tx() as cur:
            for target in due:
                added += queue.enqueue(
                    cur,
                    kind="refresh",
                    repo=target.key,
                    dedupe_key=f"refresh:{target.key}",
                    payload={},
                )
        for target in due:
            self._last[target.key] = t
        return added

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                self.poll_once()
            except ProdfixError as exc:
                log.warning("poll: %s", exc.message)
            self.stop.wait(self.interval)


def redeliver_failed(svc: Service, *, now: float | None = None) -> int:
    """Ask GitHub to deliver again every webhook of the last days that never got a 2xx (the
    service was down). Deliveries already stored here are not asked for again."""
    if svc.app is None:
        return 0
    from prodfix.adapters.forge.github.app import failed_deliveries

    t = time.time() if now is None else now
    found = svc.app.deliveries(since=t - REDELIVER_DAYS * 86400)
    asked = 0
    for d in failed_deliveries(found):
        with svc.db.tx() as cur:
            known = cur.rows("SELECT 1 FROM deliveries WHERE id = ?", (d.guid,))
        if known:
            continue
        svc.app.redeliver(d.id)
        asked += 1
    return asked
