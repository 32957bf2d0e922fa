"""Counters and a latency histogram, rendered in the Prometheus text format (version 0.0.4).

In-process and per instance (Prometheus scrapes each instance); job counts by state come from
the shared database when rendered. Label values are fixed words, never user input or secrets.
"""

from __future__ import annotations

import threading
from collections import Counter

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received: Counter[str] = Counter()  # by event
        self.rejected: Counter[str] = Counter()  # by reason
        self.duplicates = 0  # deliveries seen before (a redelivery): 202, processed once
        self.jobs_done: Counter[str] = Counter()  # by outcome: done | retry | failed
        self._buckets = [0] * len(BUCKETS)
        self._count = 0
        self._sum = 0.0

    def webhook(self, event: str) -> None:
        with self._lock:
            self.received[event] += 1

    def duplicate(self) -> None:
        with self._lock:
            self.duplicates += 1

    def reject(self, reason: str) -> None:
        with self._lock:
            self.rejected[reason] += 1

    def job(self, outcome: str, seconds: float) -> None:
        """A job ended; `seconds` from when it was stored to when it ended."""
        with self._lock:
            self.jobs_done[outcome] += 1
            self._count += 1
            self._sum += seconds
            for i, le in enumerate(BUCKETS):
                if seconds <= le:
                    self._buckets[i] += 1

    def render(self, job_states: dict[str, int] | None) -> str:
        with self._lock:
            lines = [
                "# HELP prodfix_webhooks_received_total Webhook deliveries accepted, by event.",
                "# TYPE prodfix_webhooks_received_total counter",
                *(
                    f'prodfix_webhooks_received_total{{event="{e}"}} {n}'
                    for e, n in sorted(self.received.items())
                ),
                "# HELP prodfix_webhooks_rejected_total Webhook deliveries refused, by reason.",
                "# TYPE prodfix_webhooks_rejected_total counter",
                *(
                    f'prodfix_webhooks_rejected_total{{reason="{r}"}} {n}'
                    for r, n in sorted(self.rejected.items())
                ),
                "# HELP prodfix_webhooks_duplicate_total Deliveries already stored (redeliveries).",
                "# TYPE prodfix_webhooks_duplicate_total counter",
                f"prodfix_webhooks_duplicate_total {self.duplicates}",
                "# HELP prodfix_jobs_finished_total Job runs ended here, by outcome.",
                "# TYPE prodfix_jobs_finished_total counter",
                *(
                    f'prodfix_jobs_finished_total{{outcome="{o}"}} {n}'
                    for o, n in sorted(self.jobs_done.items())
                ),
                "# HELP prodfix_job_latency_seconds From a job stored to its run ended.",
                "# TYPE prodfix_job_latency_seconds histogram",
            ]
            # Each bucket already counts every value ≤ its bound (cumulative, as Prometheus wants).
            for le, n in zip(BUCKETS, self._buckets, strict=True):
                lines.append(f'prodfix_job_latency_seconds_bucket{{le="{le}"}} {n}')
            lines += [
                f'prodfix_job_latency_seconds_bucket{{le="+Inf"}} {self._count}',
                f"prodfix_job_latency_seconds_sum {self._sum:.6f}",
                f"prodfix_job_latency_seconds_count {self._count}",
            ]
        lines += [
            "# HELP prodfix_jobs Jobs in the shared queue, by state.",
            "# TYPE prodfix_jobs gauge",
        ]
        if job_states is not None:
            lines += [f'prodfix_jobs{{state="{s}"}} {n}' for s, n in sorted(job_states.items())]
        lines += [
            "# HELP prodfix_database_up Whether the database answered.",
            "# TYPE prodfix_database_up gauge",
            f"prodfix_database_up {0 if job_states is None else 1}",
        ]
        return "\n".join(lines) + "\n"
