"""The data the service shows: one snapshot per served repository, merged for the pages.

This is the contract between the workers (which observe repositories and write snapshots) and
the readers (`/api/fixes` and the dashboard routes). The app factory sets
`request.app.state.snapshot` to a `SnapshotSource`: call it (no arguments) to get the current
merged `Snapshot` for every served repository; it is cheap (kept in memory by the service). Everything here is plain JSON-able data (TypedDicts), so a
snapshot round-trips through the database cache unchanged. Version 1; additive changes only.

The `fixes` entries have exactly the `status --json` shape (see `StepJson`/`FixJson`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal, NotRequired, TypedDict

VERSION = 1

StepState = Literal["done", "ready", "waiting", "pending", "failed", "skipped"]
Conclusion = Literal["success", "failure"]


class StepJson(TypedDict):
    id: str
    state: StepState
    detail: str
    pr: int | None
    url: str | None
    sha: str | None
    tag: str | None
    since: str | None  # ISO 8601, UTC, absolute


class FixRepoJson(TypedDict):
    path: str
    remote: str
    kind: str  # "python" | "go" | "sync" (a sync of the mainline, observed like a fix)
    delivery: str
    branch: str
    steps: list[StepJson]


class FixJson(TypedDict):
    name: str
    done: bool
    repos: list[FixRepoJson]


class BackmergePr(TypedDict):
    repo: str  # the served repository's display name (owner/name or the path/URL given)
    number: int
    url: str | None
    delivery: str
    age_s: int  # seconds since the PR was opened


class Drift(TypedDict):
    """One image whose DCs run different tags (only drifting images are listed)."""

    repo: str
    image: str
    tags: dict[str, str]  # dc -> tag


class DeliveryHealth(TypedDict):
    repo: str
    branch: str
    missing_backmerge_days: int  # age in whole days of the oldest commit not on the mainline
    red: bool  # past the repository's max-backmerge-days
    # How far the branch is behind the mainline, as `status` measures it (`workflow.behind`).
    # Absent from snapshots written before they were added, and when the branch could not be
    # measured: readers treat absence as "unknown".
    mainline: NotRequired[str]
    behind_commits: NotRequired[int]  # mainline commits the branch lacks
    behind_days: NotRequired[int]  # whole days since the oldest of them landed on the mainline
    last_sync: NotRequired[str | None]  # ISO 8601 UTC of the newest marked sync merge, or null


class PolicyFinding(TypedDict):
    rule: str
    severity: str  # "error" | "warning" | "info"
    commits: list[str]
    message: str


class PolicyResult(TypedDict):
    repo: str
    pr: int
    head_sha: str
    conclusion: Conclusion
    findings: list[PolicyFinding]


class Snapshot(TypedDict):
    version: int
    fixes: list[FixJson]
    backmerge_prs: list[BackmergePr]
    drift: list[Drift]
    deliveries: list[DeliveryHealth]
    policy: list[PolicyResult]
    updated_at: str  # ISO 8601 UTC of the oldest repository observation merged in ("" if none)


def empty() -> Snapshot:
    return {
        "version": VERSION,
        "fixes": [],
        "backmerge_prs": [],
        "drift": [],
        "deliveries": [],
        "policy": [],
        "updated_at": "",
    }


def merge(parts: Iterable[Snapshot]) -> Snapshot:
    """One snapshot for all repositories: lists concatenated, a fix touching several served
    repositories shown once with all its repositories."""
    out = empty()
    by_name: dict[str, FixJson] = {}
    stamps: list[str] = []
    for part in parts:
        for fix in part["fixes"]:
            known = by_name.get(fix["name"])
            if known is None:
                copy: FixJson = {"name": fix["name"], "done": fix["done"], "repos": []}
                by_name[fix["name"]] = copy
                out["fixes"].append(copy)
                known = copy
            seen = {r["path"] for r in known["repos"]}
            known["repos"] += [r for r in fix["repos"] if r["path"] not in seen]
            known["done"] = known["done"] and fix["done"]
        out["backmerge_prs"] += part["backmerge_prs"]
        out["drift"] += part["drift"]
        out["deliveries"] += part["deliveries"]
        out["policy"] += part["policy"]
        if part["updated_at"]:
            stamps.append(part["updated_at"])
    out["updated_at"] = min(stamps) if stamps else ""
    return out


# What the app factory puts on `request.app.state.snapshot`: a callable returning the current
# merged snapshot (cheap: it is kept in memory and refreshed by the workers).
SnapshotSource = Callable[[], Snapshot]


def fixes_document(snap: Snapshot) -> dict[str, object]:
    """`GET /api/fixes`: the `status --json` document for every served repository. Its
    `deliveries` entries are `status --json`'s, with `path` the served repository's name (the
    service's clone is no path a reader could use)."""
    return {"version": VERSION, "fixes": snap["fixes"], "deliveries": behind_documents(snap)}


def behind_documents(snap: Snapshot) -> list[dict[str, object]]:
    """Each measured delivery branch as `status --json` writes it (the same `Behind.to_json`)."""
    from prodfix.workflow.behind import Behind

    return [
        Behind(
            branch=d["branch"],
            behind_commits=d["behind_commits"],
            behind_days=d.get("behind_days", 0),
            last_sync=d.get("last_sync"),
            path=d["repo"],
        ).to_json()
        for d in snap["deliveries"]
        if "behind_commits" in d
    ]
