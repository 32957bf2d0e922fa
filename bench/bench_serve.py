"""`prodfix serve` under load: 500 signed webhooks from 20 concurrent clients.

    python bench/bench_serve.py [--webhooks 500] [--clients 20] [--repos 4] [--prs 25]

Two set-ups, each real `prodfix serve` processes against the fake GitHub (tests/fakes) and
real repositories: one instance on SQLite, then two instances sharing one private PostgreSQL
(as the tests start it; skipped when PostgreSQL is not installed). Prints p50/p99 time to the
202 answer (target p99 ≤ 100 ms), the time until every check run is posted, and how many PR
heads were lost (no check run) or duplicated (more than one run). Baseline in the same run:
`GET /healthz` latency under the same concurrency (the ASGI stack without the webhook work).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.github import FakeGitHub  # noqa: E402
from tests.serve.helpers import pr_event, signed  # noqa: E402
from tests.serve.test_processes import INST, Fleet, Instance, fleet, open_prs  # noqa: E402

_local = threading.local()


def client() -> httpx.Client:
    """One keep-alive client per sending thread, as a real sender (GitHub) keeps connections:
    the figure is the service's answer, not the cost of building an HTTP client per request."""
    c = getattr(_local, "client", None)
    if c is None:
        c = _local.client = httpx.Client(timeout=30)
    return c


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def fire(f: Fleet, instances: list[Instance], n: int, clients: int, prs: list) -> list[float]:  # type: ignore[type-arg]
    def one(i: int) -> float:
        name, pr = prs[i % len(prs)]
        doc = pr_event("synchronize", repo=f"team/{name}", number=pr.number, head=pr.head,
                       head_sha=pr.head_sha, base=pr.base, inst=INST)  # fmt: skip
        body, headers = signed("pull_request", doc, delivery=str(uuid.uuid4()))
        url = instances[i % len(instances)].url + "/webhook"
        c = client()
        t = time.perf_counter()
        r = c.post(url, content=body, headers=headers)
        took = time.perf_counter() - t
        assert r.status_code == 202, r.text
        return took

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, range(n)))


def healthz(instances: list[Instance], n: int, clients: int) -> list[float]:
    def one(i: int) -> float:
        c = client()
        t = time.perf_counter()
        c.get(instances[i % len(instances)].url + "/healthz")
        return time.perf_counter() - t

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, range(n)))


def scenario(label: str, database: str | None, args: argparse.Namespace, count: int) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="prodfix-bench-serve-") as tmp,
        FakeGitHub(tokens={}) as github,
    ):
        base = Path(tmp)
        db = database or f"sqlite:///{base / 'serve.sqlite3'}"
        f = fleet(base, github, db, repos=args.repos, fixes=args.prs, workers=args.workers)
        prs = open_prs(f, per_repo=args.prs)
        instances = [f.start(f"i{i}") for i in range(count)]
        try:
            base_lat = healthz(instances, args.webhooks, args.clients)
            started = time.perf_counter()
            lat = fire(f, instances, args.webhooks, args.clients, prs)
            accepted = time.perf_counter() - started
            deadline = time.monotonic() + (600 if args.workers else 0)
            heads = {(f"team/{n}", p.head_sha) for n, p in prs}
            while time.monotonic() < deadline:
                runs = list(f.app.runs.values())
                done = {
                    (f"team/{r['repo'][1]}", r["head_sha"])
                    for r in runs
                    if r["status"] == "completed"
                }
                if done >= heads:
                    break
                time.sleep(0.1)
            posted = time.perf_counter() - started
            per_head: dict[tuple[str, str], int] = {}
            for r in f.app.runs.values():
                key = (f"team/{r['repo'][1]}", str(r["head_sha"]))
                per_head[key] = per_head.get(key, 0) + 1
            lost = len(heads - set(per_head))
            dup = sum(1 for v in per_head.values() if v > 1)
            print(
                f"{label}: {args.webhooks} webhooks from {args.clients} clients, {len(heads)} PR heads"
            )
            print(
                f"  time to 202: p50 {statistics.median(lat) * 1000:.1f} ms, p99 {pct(lat, 99) * 1000:.1f} ms (target ≤ 100 ms)"
            )
            print(
                f"  baseline /healthz: p50 {statistics.median(base_lat) * 1000:.1f} ms, p99 {pct(base_lat, 99) * 1000:.1f} ms; ratio p99 {pct(lat, 99) / pct(base_lat, 99):.2f}×"
            )
            print(
                f"  all accepted in {accepted:.1f} s; every check run posted after {posted:.1f} s"
            )
            print(f"  lost {lost}, duplicated {dup}")
        finally:
            for inst in instances:
                inst.stop()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--webhooks", type=int, default=500)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--repos", type=int, default=4)
    ap.add_argument("--prs", type=int, default=25, help="PRs (distinct heads) per repository")
    ap.add_argument("--workers", type=int, default=2, help="worker threads per instance")
    ap.add_argument("--sqlite-only", action="store_true")
    args = ap.parse_args()
    scenario("SQLite, one instance", None, args, 1)
    if args.sqlite_only:
        return 0
    from tests.serve.pg import pg_bindir, start_server

    if pg_bindir() is None:
        print("PostgreSQL is not installed: the two-instance run is skipped")
        return 0
    server = start_server()
    try:
        scenario("PostgreSQL, two instances", server.new_database(), args, 2)
    finally:
        server.stop("immediate")
        shutil.rmtree(server.root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
