"""Audit one repository: the repository rules, fixes in flight, back-merge PRs, DC drift, and
how far each delivery branch is behind the mainline.

One fetch per repository. With the embedded forge (the default) listing the PRs *is* that
fetch: its snapshot fetches the remote's branches and PR refs in one `git fetch`
(forge/embedded_store.py), so the rules then run with `fetch=False` on fresh
remote-tracking branches. With GitHub the branches are fetched first, then the PRs listed over
HTTP. A failed fetch fails the repository (stale branches would give stale findings); any
later stage that fails records its error and lets the others run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from prodfix.adapters import forge as forge_api
from prodfix.adapters.git import Repo
from prodfix.adapters.paths import home
from prodfix.config import Config
from prodfix.errors import ProdfixError
from prodfix.policy.gate import check_repo
from prodfix.policy.report import Finding
from prodfix.workflow import behind
from prodfix.workflow.audit_drift import Drift, scan
from prodfix.workflow.behind import Behind

BACKMERGE_PREFIX = "backmerge/"  # the head branch of every back-merge PR (workflow/plans.py)
DAY = 86_400


@dataclass(frozen=True)
class FixStage:
    name: str
    step: str  # the first step not done (the step ids of docs/workflow.md)
    state: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "step": self.step, "state": self.state}


@dataclass(frozen=True)
class BackmergePr:
    number: int
    url: str
    age_days: int | None  # None: the forge does not say when the PR was opened

    def to_json(self) -> dict[str, Any]:
        return {"number": self.number, "url": self.url, "age_days": self.age_days}


@dataclass
class RepoAudit:
    path: str
    error: str | None = None
    findings: tuple[Finding, ...] = ()
    fixes: list[FixStage] = field(default_factory=list)
    backmerge_prs: list[BackmergePr] = field(default_factory=list)
    drift: list[Drift] = field(default_factory=list)
    deliveries: list[Behind] = field(default_factory=list)  # how far behind the mainline
    notes: list[str] = field(default_factory=list)  # for stderr, never in the JSON

    @property
    def ok(self) -> bool:
        return self.error is None and not any(f.severity == "error" for f in self.findings)

    @property
    def status(self) -> str:
        if self.error is not None:
            return "failed"
        if not self.ok:
            return "error"
        if self.drift or any(f.severity == "warning" for f in self.findings):
            return "warning"
        return "ok"

    def fail(self, message: str) -> None:
        """Keep the first error: later ones are usually its consequences."""
        if self.error is None:
            self.error = message

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "ok": self.ok,
            "error": self.error,
            "findings": [f.to_json() for f in self.findings],
            "fixes": [f.to_json() for f in self.fixes],
            "backmerge_prs": [p.to_json() for p in self.backmerge_prs],
            "drift": [d.to_json() for d in self.drift],
            "deliveries": [b.to_json() for b in self.deliveries],
        }


def open_path(path: Path) -> Repo | RepoAudit:
    """The repository at `path`, or a failed row saying why there is none."""
    shown = str(path)
    if not path.exists():
        return RepoAudit(shown, error=f"{shown} does not exist")
    if not path.is_dir():
        return RepoAudit(shown, error=f"{shown} is not a directory")
    try:
        return Repo.discover(path)
    except ProdfixError as exc:  # not a git repository, shallow clone
        return RepoAudit(shown, error=exc.message)


def audit_repo(repo: Repo, *, now: float) -> RepoAudit:
    from prodfix.config import load_for_repo

    result = RepoAudit(str(repo.path))
    # One look: after the fetch everything reads, and the refs read first serve later reads.
    with repo.looking():
        try:
            cfg = load_for_repo(repo)
            prs = _fetch_and_list_prs(repo, cfg, result)
        except ProdfixError as exc:
            result.fail(exc.message)
            return result
        try:
            result.backmerge_prs = _backmerge_prs(repo, cfg, prs, now)
        except ProdfixError as exc:
            result.fail(f"cannot read the back-merge PRs: {exc.message}")
        try:
            report = check_repo(repo, cfg, ref=str(cfg.mainline), into=None, fetch=False, now=now)
            result.findings = report.findings
            result.notes += report.notes
        except ProdfixError as exc:
            result.fail(exc.message)
        try:
            result.deliveries = behind.deliveries(repo, cfg, now=now)
        except ProdfixError as exc:
            result.fail(f"cannot tell how far the delivery branches are behind: {exc.message}")
        try:
            result.fixes = _fixes_in_flight(repo, cfg)
        except ProdfixError as exc:
            result.fail(f"cannot read the fixes in flight: {exc.message}")
        try:
            result.drift, notes = scan(
                repo, f"refs/remotes/{cfg.remote}/{cfg.mainline}", cfg.deploy.path
            )
            result.notes += notes
        except ProdfixError as exc:
            result.fail(f"cannot read the GitOps folders: {exc.message}")
    return result


def _fetch_and_list_prs(
    repo: Repo, cfg: Config, result: RepoAudit
) -> list[forge_api.PullRequest] | None:
    """Fetch once; the open PRs, or None when a hosted forge could not list them (recorded)."""
    from prodfix.adapters.forges import make_forge

    forge = make_forge(repo, cfg)
    if forge.prime() is not None:
        return forge.list_prs()  # this forge's read is the fetch
    repo.fetch(cfg.remote)
    try:
        return forge.list_prs()
    except ProdfixError as exc:
        result.fail(f"cannot list pull requests: {exc.message}")
        return None


def _backmerge_prs(
    repo: Repo, cfg: Config, prs: list[forge_api.PullRequest] | None, now: float
) -> list[BackmergePr]:
    out = []
    for pr in sorted(prs or [], key=lambda p: p.number):
        if pr.state is forge_api.PrState.OPEN and pr.head.startswith(BACKMERGE_PREFIX):
            opened = datetime.fromisoformat(pr.created_at).timestamp() if pr.created_at else None
            age = None if opened is None else int((now - opened) // DAY)
            out.append(BackmergePr(int(pr.number), pr.url, age))
    return out


def _fixes_in_flight(repo: Repo, cfg: Config) -> list[FixStage]:
    """Each fix of the repository's remote that is not finished, at its first step not done
    (the fetch already happened; a machine without a prodfix database gets none created)."""
    from prodfix.adapters.store import Store
    from prodfix.workflow.context import Ctx
    from prodfix.workflow.observe import observe_repository
    from prodfix.workflow.playbooks import FINISHED

    db = home() / "prodfix.db"
    # A connection per call, never shared between the audit's threads: one connection's
    # transactions would interleave (and sqlite3 refuses it by default).
    store = Store(db) if db.exists() else Store(memory=True)
    try:
        stages = []
        for view in observe_repository(Ctx(repo, cfg, store), fetch=False):
            step = next((s for s in view.steps if s.state not in FINISHED), None)
            if step is not None:
                stages.append(FixStage(view.seed.name, step.id, step.state.value))
        return stages
    finally:
        store.close()
