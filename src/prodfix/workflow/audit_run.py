"""Audit many repositories in parallel, with progress on stderr.

Threads, not processes: the work is git subprocesses and their pipes, which release the GIL,
and threads share the imported modules (one process's memory, bench/bench_audit.py).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path

from prodfix.adapters.git import Repo
from prodfix.output import Reporter
from prodfix.workflow.audit_repo import RepoAudit, audit_repo, open_path

# Without a terminal: at most one progress line this often, so CI logs show life, not noise.
PLAIN_EVERY = 5.0

Done = Callable[[RepoAudit], None]


def default_jobs() -> int:
    return min(16, 4 * (os.cpu_count() or 1))


def audit_all(paths: Sequence[Path], *, jobs: int, now: float, done: Done) -> list[RepoAudit]:
    """One row per repository, in the order given (paths naming the same repository: once).

    A repository that fails never stops the others: every failure becomes its row's error.
    """
    unique = list(dict.fromkeys(paths))
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="audit") as pool:
        opened = list(pool.map(open_path, unique))
        repos: dict[str, Repo] = {}
        for o in opened:
            if isinstance(o, Repo):
                repos.setdefault(str(o.path), o)
            else:
                done(o)
        futures: dict[Future[RepoAudit], str] = {
            pool.submit(_audit_safely, repo, now): key for key, repo in repos.items()
        }
        results: dict[str, RepoAudit] = {}
        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            done(results[futures[fut]])
    rows: dict[str, RepoAudit] = {}
    for o in opened:
        row = results[str(o.path)] if isinstance(o, Repo) else o
        rows.setdefault(row.path, row)
    return list(rows.values())


def _audit_safely(repo: Repo, now: float) -> RepoAudit:
    try:
        return audit_repo(repo, now=now)
    except Exception as exc:  # a bug met in one repository must not hide the others' results
        return RepoAudit(str(repo.path), error=f"internal error: {type(exc).__name__}: {exc}")


@contextlib.contextmanager
def progress(out: Reporter, total: int) -> Iterator[Done]:
    """Yields `done(row)`, called once per finished repository from one thread."""
    if not (sys.stderr.isatty() and os.environ.get("TERM") != "dumb"):
        yield _plain(out, total)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(
        TextColumn("auditing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:
        task = bar.add_task("", total=total)

        def advance(row: RepoAudit) -> None:
            bar.update(task, advance=1, description=f"{row.path} ({row.status})")

        yield advance


def _plain(out: Reporter, total: int) -> Done:
    count = 0
    last = time.monotonic()

    def done(row: RepoAudit) -> None:
        nonlocal count, last
        count += 1
        if time.monotonic() - last >= PLAIN_EVERY:
            out.info(f"prodfix: audited {count}/{total}: {row.path} ({row.status})")
            last = time.monotonic()

    return done
