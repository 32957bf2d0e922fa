"""The team's shared facts about fixes and tests, as records in the service's remote
(`adapters/records.py` has the layout): which fixes exist and from which delivery branch, and
which commits were tested by whom. Any clone on any machine reads the same."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prodfix.adapters import records
from prodfix.adapters.git import Repo
from prodfix.types import BranchName, Sha

FIXES = "fixes"
SYNCS = "syncs"  # planned syncs of the mainline into a delivery branch (workflow/steps/sync.py)
TESTS = "tests"
SYNC_PREFIX = "sync/"  # the throwaway head of a sync PR: sync/<delivery>-<short mainline sha>
LOCAL_TESTS = f"{records.LOCAL}/tests"  # results not shared yet (the branch is not pushed)


def stamp(at: float | None = None) -> str:
    when = datetime.now(UTC) if at is None else datetime.fromtimestamp(at, UTC)
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class FixRecord:
    name: str
    delivery: BranchName
    branch: BranchName
    base: Sha
    kind: str
    started_by: str
    started_at: str
    head: Sha | None = None  # the head last proposed (finds the landing after a branch is gone)
    done_at: str | None = None  # every step of the fix finished (`next` says so once)
    sha: Sha | None = None  # the record's commit

    @classmethod
    def from_record(cls, rec: records.Record) -> FixRecord | None:
        d = rec.doc
        try:
            return cls(
                name=str(d["name"]),
                delivery=BranchName(str(d["delivery"])),
                branch=BranchName(str(d["branch"])),
                base=Sha(str(d["base"])),
                kind=str(d.get("kind") or "python"),
                started_by=str(d.get("started_by") or ""),
                started_at=str(d.get("started_at") or ""),
                head=Sha(str(d["head"])) if d.get("head") else None,
                done_at=str(d["done_at"]) if d.get("done_at") else None,
                sha=rec.sha,
            )
        except KeyError:
            return None

    def doc(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "delivery": self.delivery,
            "branch": self.branch,
            "base": self.base,
            "kind": self.kind,
            "started_by": self.started_by,
            "started_at": self.started_at,
            "head": self.head,
            "done_at": self.done_at,
        }


def read_fixes(
    repo: Repo, remote: str, refs: Mapping[str, str], kind: str = FIXES
) -> dict[str, FixRecord]:
    """The fix records (or, kind SYNCS, the sync records: the same fields, kind "sync")."""
    out: dict[str, FixRecord] = {}
    for name, rec in records.read(repo, remote, kind, refs).items():
        fix = FixRecord.from_record(rec)
        if fix is not None:
            out[name] = fix
    return out


@dataclass(frozen=True)
class TestRecord:
    __test__ = False  # not a pytest class

    sha: Sha
    result: str  # passed | failed | skipped
    reason: str
    by: str
    at: str
    where: str  # "local" | "jenkins"


def read_tests(repo: Repo, remote: str, refs: Mapping[str, str]) -> dict[str, TestRecord]:
    """Each commit's test result: the shared one, or this clone's not-yet-shared one when it is
    newer (a re-run here). A tie goes to the shared one, which every clone sees alike."""
    found: dict[str, TestRecord] = {}
    shared = records.names(refs, remote, TESTS)
    local = {
        r[len(LOCAL_TESTS) + 1 :]: Sha(sha)
        for r, sha in refs.items()
        if r.startswith(LOCAL_TESTS + "/")
    }
    items = [*shared.items(), *local.items()]
    docs = records.read_docs(repo, [sha for _, sha in items])
    for (sha, _), doc in zip(items, docs, strict=True):
        if doc is None:
            continue
        test = TestRecord(
            Sha(sha),
            str(doc.get("result")),
            str(doc.get("reason") or ""),
            str(doc.get("by") or ""),
            str(doc.get("at") or ""),
            str(doc.get("where") or "local"),
        )
        if sha not in found or test.at > found[sha].at:
            found[sha] = test
    return found


def write_test(repo: Repo, sha: str, result: Mapping[str, str], *, where: str) -> Sha:
    """Record a test result for `sha` in this clone (shared with the next push)."""
    doc = {
        "sha": sha,
        "result": result["result"],
        "reason": result.get("reason", ""),
        "by": records.who(repo),
        "at": stamp(),
        "where": where,
    }
    commit = records.write(repo, doc, None, f"tests of {sha[:7]}: {result['result']}")
    repo.git("update-ref", f"{LOCAL_TESTS}/{sha}", commit)
    return commit


def test_updates(repo: Repo, remote: str, shas: list[str]) -> dict[str, tuple[str, str | None]]:
    """The pushes that share this clone's test records of `shas` where the remote has none, or
    an older one (a re-run here): remote ref → (record, the copy of the remote's record this
    clone has, None = none). One ref read; the records' documents only where both exist."""
    shared = f"{records.mirror(remote)}/{TESTS}"
    refs = repo.refs(LOCAL_TESTS, shared)
    pairs = {
        sha: (Sha(local), refs.get(f"{shared}/{sha}"))
        for sha in shas
        if (local := refs.get(f"{LOCAL_TESTS}/{sha}")) and local != refs.get(f"{shared}/{sha}")
    }
    both = [sha for local, now in pairs.values() if now for sha in (local, Sha(now))]
    at = {
        sha: str((doc or {}).get("at") or "")
        for sha, doc in zip(both, records.read_docs(repo, both), strict=True)
    }
    return {
        records.ref(TESTS, sha): (local, now)
        for sha, (local, now) in pairs.items()
        if now is None or at[local] > at[now]
    }


def share_tests(repo: Repo, remote: str, shas: list[str]) -> list[str]:
    """Push this clone's test records of `shas` (best effort: a race means someone else
    recorded that commit too). Returns the SHAs shared."""
    updates = test_updates(repo, remote, shas)
    if not updates:
        return []
    outcome = records.push(repo, remote, updates)
    return [sha for sha in shas if outcome.ok and records.ref(TESTS, sha) in updates]
