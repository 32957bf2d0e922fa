"""Which fixes a repository has, found from what every clone can see: the fix records in the
remote, the fix branches on the remote, open pull requests from fix branches into a delivery
branch — and, for a fix not pushed yet, the branches this clone started. Nothing here needs
the local database: a fresh clone on another machine finds the same fixes. Syncs of the
mainline into a delivery branch are found the same way and observed like fixes (kind
"sync")."""

from __future__ import annotations

from dataclasses import dataclass

from prodfix.errors import Exit
from prodfix.types import BranchName, Sha
from prodfix.workflow.context import Ctx
from prodfix.workflow.fixrecords import SYNC_PREFIX, FixRecord
from prodfix.workflow.snapshot import RepoSnapshot


@dataclass(frozen=True)
class FixSeed:
    """A fix in one repository: enough to observe its steps."""

    name: str
    branch: BranchName
    delivery: BranchName | None  # None: cannot tell (no record, PR or local note)
    base: Sha | None  # the delivery commit the branch started from, when known
    kind: str
    record: FixRecord | None = None

    @property
    def finished(self) -> bool:
        return self.record is not None and self.record.done_at is not None


def discover(snap: RepoSnapshot) -> list[FixSeed]:
    """Every fix of the repository, in the order they were started (then by name)."""
    cfg = snap.ctx.cfg
    found: dict[str, dict[str, object]] = {}

    def note(name: str, **facts: object) -> None:
        entry = found.setdefault(name, {})
        for k, v in facts.items():
            if v is not None and entry.get(k) is None:
                entry[k] = v

    for name, rec in snap.fixes.items():
        note(name, branch=rec.branch, delivery=rec.delivery, base=rec.base, record=rec)
    for pr in snap.open_prs:
        of_pr = cfg.fix_name(pr.head)
        if of_pr is not None and cfg.is_delivery(pr.base):
            note(of_pr, branch=pr.head, delivery=pr.base)
    for branch in snap.remote_branches():
        of_branch = cfg.fix_name(branch)
        if of_branch is not None:
            note(of_branch, branch=branch, delivery=snap.started_here.get(branch))
    for branch, delivery in snap.started_here.items():
        started = cfg.fix_name(branch)
        if started is not None and snap.local_tip(branch):
            note(started, branch=branch, delivery=delivery)

    seeds = _syncs(snap)
    for name, facts in found.items():
        fix_branch = BranchName(str(facts.get("branch") or cfg.fix_branch(name)))
        target = facts.get("delivery") or _guess_delivery(snap, fix_branch)
        record = facts.get("record")
        seeds.append(
            FixSeed(
                name=name,
                branch=fix_branch,
                delivery=BranchName(str(target)) if target else None,
                base=Sha(str(facts["base"])) if facts.get("base") else None,
                kind=cfg.kind,
                record=record if isinstance(record, FixRecord) else None,
            )
        )
    seeds.sort(key=lambda s: (s.record.started_at if s.record else "~", s.name))
    return seeds


def _syncs(snap: RepoSnapshot) -> list[FixSeed]:
    """The syncs of the mainline into a delivery branch (kind "sync"), each named by its
    `sync/*` head: from their records, open sync PRs, and sync heads on the remote."""
    cfg = snap.ctx.cfg
    found: dict[str, FixSeed] = {}
    for rec in snap.syncs.values():
        found[rec.branch] = FixSeed(rec.branch, rec.branch, rec.delivery, rec.base, "sync", rec)
    heads: list[tuple[str, str]] = [(pr.head, pr.base) for pr in snap.open_prs]
    heads += [(b, b[len(SYNC_PREFIX) :].rpartition("-")[0]) for b in snap.remote_branches()]
    for head, delivery in heads:
        if head.startswith(SYNC_PREFIX) and head not in found and cfg.is_delivery(delivery):
            found[head] = FixSeed(head, BranchName(head), BranchName(delivery), None, "sync")
    return list(found.values())


def _guess_delivery(snap: RepoSnapshot, branch: str) -> str | None:
    """A fix branch pushed by hand, with no PR yet: the delivery branch it was cut from is the
    one whose tip it contains (the newest such tip when several do)."""
    head = snap.remote_tip(branch) or snap.local_tip(branch)
    deliveries = snap.deliveries()
    if head is None or not deliveries:
        return None
    repo = snap.ctx.repo
    inside = repo.merged_into(head, *(f"refs/remotes/{snap.remote}/{d}" for d in deliveries))
    candidates = [d for d, tip in deliveries.items() if tip in inside]
    if len(candidates) == 1:
        return candidates[0]
    return None


def find_seed(ctx: Ctx, name: str, *, fetch: bool = True) -> FixSeed | None:
    """One fix of the repository, as the remote knows it (None: no such fix)."""
    from prodfix.errors import ProdfixError
    from prodfix.workflow import snapshot

    snap = snapshot.read(ctx, fetch=fetch)
    if snap.error:
        raise ProdfixError(
            snap.error,
            hint="check the network and the remote; this is safe to retry",
            code=Exit.SERVICE,
        )
    return next((s for s in discover(snap) if s.name == name), None)
