"""`prodfix check [REF] [--into BRANCH] [--json] [--no-fetch]`: the policy gate.

Exit 1 on any error finding, else 0; usage problems are ProdfixError (exit 2). The rules and
how to resolve each finding: docs/rules.md.
"""

from __future__ import annotations

from prodfix import config
from prodfix.adapters.git import Repo
from prodfix.errors import Exit
from prodfix.output import Reporter
from prodfix.policy.gate import check_repo
from prodfix.policy.report import RULES, Finding, Report
from prodfix.types import short

TYPE_CHECKING = False  # no typing at run time: `check` starts fast (prodfix/tuples.py)
if TYPE_CHECKING:
    from typing import Any

SHOW = 10  # commits listed per finding; the JSON always has all of them


def run(app: Any, *, ref: str | None, into: str | None, as_json: bool, fetch: bool) -> int:
    out: Reporter = app.out
    repo = Repo.discover(app.directory)
    cfg = config.load_for_repo(repo)
    if cfg.note:
        out.info(f"prodfix: {cfg.note}")
    result = check_repo(repo, cfg, ref=ref, into=into, fetch=fetch)
    for note in result.notes:
        out.info(f"prodfix: {note}")
    if as_json:
        out.emit_json(result.to_json())
    else:
        print_report(out, repo, result)
    return int(Exit.OK if result.ok else Exit.FAILED)


def print_report(out: Reporter, repo: Repo, result: Report) -> None:
    subjects = _subjects(repo, result.findings)
    for rule in RULES:
        group = result.by_rule(rule)
        if not group:
            continue
        out.say(rule)
        for f in group:
            out.say(f"  {f.severity}: {f.branch}: {f.message}")
            for sha in f.commits[:SHOW]:
                out.say(f"    {short(sha)} {subjects.get(sha, '')}".rstrip())
            if len(f.commits) > SHOW:
                out.say(f"    … and {len(f.commits) - SHOW} more (--json lists all)")
            for i, line in enumerate(f.hint.splitlines()):
                out.say(f"    {'next: ' if i == 0 else '      '}{line}")
    out.say(summary(result))


def summary(result: Report) -> str:
    counts = {
        s: sum(f.severity == s for f in result.findings) for s in ("error", "warning", "info")
    }
    parts = [f"{n} {s}{'s' if n != 1 else ''}" for s, n in counts.items() if n]
    if result.ok:
        return "check passed" + (f" ({', '.join(parts)})" if parts else ": no findings")
    return f"check failed: {', '.join(parts)}"


def _subjects(repo: Repo, findings: tuple[Finding, ...]) -> dict[str, str]:
    known: dict[str, str] = {}
    for f in findings:
        known.update(zip(f.commits, f.subjects, strict=False))
    missing = sorted({s for f in findings for s in f.commits[:SHOW]} - known.keys())
    if missing:
        for sha, subject in repo.log_records("%H%x1f%s", "--no-walk", *missing):
            known[sha] = subject
    return known
