"""`prodfix audit PATH... [--json] [--jobs N]`: the repository checks over many clones at once.

Per repository (in parallel, `--jobs` default min(16, 4 × cores)): one fetch, the repository
rules of `check` (master-merged-into-delivery, missing-backmerge) on every delivery branch,
the fixes in flight here and their first step not done, the open back-merge PRs and their
age, how far each delivery branch is behind master and when it was last synced, and for a
GitOps repository (`apps/<app>/<dc>/` YAML naming images) the images whose
DCs run different tags. A repository that cannot be audited (missing, not a git repository,
shallow, remote unreachable) is a failed row; the others are audited all the same.

Human output: one table row per repository, errors first, then the details. `--json` prints
exactly one document, repositories in the order given (duplicates once):

    {"ok": bool,                        # no error finding and no failed repository
     "repos": [{"path": str,            # the repository's top level (as given, if none)
                "ok": bool,
                "error": str | null,    # why the repository (or a part of it) failed
                "findings": [...],      # `check --json` findings (docs/commands.md)
                "fixes": [{"name": str, "step": str, "state": str}],
                "backmerge_prs": [{"number": int, "url": str,
                                   "age_days": int | null}],   # null: the forge does not say
                "drift": [{"image": str, "app": str, "tags": {dc: tag}}],
                "deliveries": [{"path": str, "branch": str,   # per delivery branch:
                                "behind_commits": int,        # master commits it lacks
                                "behind_days": int,           # age of the oldest of them
                                "last_sync": str | null}]}]}  # newest marked sync merge

Exit 1 if any error finding or failed repository, else 0 — like `check`.

Back-merges and PRs are aged by the clock (`prodfix.clock`: tests fix it with PRODFIX_NOW).
"""

from __future__ import annotations

import os
from pathlib import Path

from prodfix.adapters import git
from prodfix.app import App
from prodfix.clock import Clock
from prodfix.errors import Exit
from prodfix.output import Reporter
from prodfix.policy.report import Finding
from prodfix.workflow.audit_repo import RepoAudit
from prodfix.workflow.audit_run import audit_all, default_jobs, progress

COLUMNS = (
    "path",
    "status",
    "master-merged",
    "missing-backmerge",
    "fixes in flight",
    "back-merge PRs",
    "DC drift",
    "behind master",
)
RANK = {"error": 0, "failed": 1, "warning": 2, "ok": 3}


def run(app: App, *, paths: list[Path], as_json: bool, jobs: int | None) -> int:
    git.require_version()
    now = Clock().now()
    targets = [Path(os.path.normpath(app.cwd / p)) for p in paths]
    with progress(app.out, len(set(targets))) as done:
        rows = audit_all(targets, jobs=jobs or default_jobs(), now=now, done=done)
    for row in rows:
        for note in row.notes:
            app.out.info(f"prodfix: {row.path}: {note}")
    ok = all(r.ok for r in rows)
    if as_json:
        app.out.emit_json({"ok": ok, "repos": [r.to_json() for r in rows]})
    else:
        print_summary(app.out, rows, app.cwd)
    return int(Exit.OK if ok else Exit.FAILED)


def print_summary(out: Reporter, rows: list[RepoAudit], cwd: Path) -> None:
    ordered = sorted(rows, key=lambda r: (RANK[r.status], r.path))
    out.table("", COLUMNS, [_cells(r, cwd) for r in ordered])
    details = [line for r in ordered for line in _details(r, cwd)]
    if details:
        out.say()
        for line in details:
            out.say(line)
    out.say()
    out.say(summary(rows))


def summary(rows: list[RepoAudit]) -> str:
    counts = {s: sum(r.status == s for r in rows) for s in RANK}
    parts = [f"{n} {s}" for s, n in counts.items() if n]
    noun = "repository" if len(rows) == 1 else "repositories"
    verdict = "audit passed" if all(r.ok for r in rows) else "audit failed"
    return f"{verdict}: {len(rows)} {noun} ({', '.join(parts)})"


def _shown(path: str, cwd: Path) -> str:
    p = Path(path)
    return str(p.relative_to(cwd)) if p.is_relative_to(cwd) and p != cwd else path


def _cells(r: RepoAudit, cwd: Path) -> list[str]:
    return [
        _shown(r.path, cwd),
        r.status,
        _rule_cell(r.findings, "master-merged-into-delivery"),
        _rule_cell(r.findings, "missing-backmerge"),
        ", ".join(f"{f.name}: {f.step} ({f.state})" for f in r.fixes) or "-",
        _prs_cell(r),
        f"{len(r.drift)} image{'s' if len(r.drift) != 1 else ''}" if r.drift else "-",
        _behind_cell(r),
    ]


def _behind_cell(r: RepoAudit) -> str:
    """Per delivery branch: master commits it lacks, the oldest's age, the last sync —
    `delivery: 3 (12d, synced 2026-11-02)`."""
    cells = []
    for b in r.deliveries:
        synced = f"synced {b.last_sync[:10]}" if b.last_sync else "never synced"
        age = f"{b.behind_days}d, " if b.behind_commits else ""
        cells.append(f"{b.branch}: {b.behind_commits} ({age}{synced})")
    return "; ".join(cells) or "-"


def _rule_cell(findings: tuple[Finding, ...], rule: str) -> str:
    """Commits judged, by severity: `2E 1W` (info, a marked sync, is not counted)."""
    errors = sum(len(f.commits) for f in findings if f.rule == rule and f.severity == "error")
    warnings = sum(len(f.commits) for f in findings if f.rule == rule and f.severity == "warning")
    cell = " ".join(f"{n}{s}" for n, s in ((errors, "E"), (warnings, "W")) if n)
    return cell or "-"


def _prs_cell(r: RepoAudit) -> str:
    if not r.backmerge_prs:
        return "-"
    aged = [p for p in r.backmerge_prs if p.age_days is not None]
    oldest = max(aged, key=lambda p: p.age_days or 0) if aged else r.backmerge_prs[0]
    age = f"{oldest.age_days}d" if oldest.age_days is not None else "age unknown"
    return f"{len(r.backmerge_prs)} (oldest #{oldest.number}, {age})"


def _details(r: RepoAudit, cwd: Path) -> list[str]:
    where = _shown(r.path, cwd)
    lines = [f"{where}: failed: {r.error}"] if r.error else []
    for f in r.findings:
        if f.severity in ("error", "warning"):
            lines.append(f"{where}: {f.severity}: {f.rule}: {f.message}")
    for d in r.drift:
        tags = ", ".join(f"{dc}={tag or '(none)'}" for dc, tag in d.tags)
        lines.append(f"{where}: warning: DC drift: {d.image} in apps/{d.app}: {tags}")
    return lines
