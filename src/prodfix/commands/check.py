"""`prodfix check [REF] [--into BRANCH] [--json] [--no-fetch]`: the policy gate.

Exit 1 on any error finding, else 0; usage problems are ProdfixError (exit 2). The rules and
how to resolve each finding: docs/rules.md.
"""

from __future__ import annotations

from typing import Any

from prodfix import config
from prodfix.adapters.git import Repo
from prodfix.errors import Exit
from prodfix.output import emit_json, info, say
from prodfix.policy.gate import check_repo
from prodfix.policy.report import RULES, Finding, Report
from prodfix.types import short

SHOW = 10  # commits listed per finding; the JSON always has all of them


def run(app: Any, *, ref: str | None, into: str | None, as_json: bool, fetch: bool) -> int:
    repo = Repo.discover(app.cwd)
    cfg = load_config(repo)
    if cfg.note:
        info(f"prodfix: {cfg.note}")
    result = check_repo(repo, cfg, ref=ref, into=into, fetch=fetch)
    for note in result.notes:
        info(f"prodfix: {note}")
    if as_json:
        emit_json(result.to_json())
    else:
        print_report(repo, result)
    return int(Exit.OK if result.ok else Exit.FAILED)


def load_config(repo: Repo) -> config.Config:
    """The checkout's .prodfix.toml, else the mainline's copy on the remote."""
    if (repo.path / config.FILENAME).exists():
        return config.load(repo.path)
    defaults = config.load(repo.path)
    where = f"{defaults['remote']}/{defaults['mainline']}"
    r = repo.git("show", f"refs/remotes/{where}:{config.FILENAME}", check=False)
    if r.returncode == 0:
        return config.load(repo.path, mainline_text=r.stdout, mainline_ref=where)
    return defaults


def print_report(repo: Repo, result: Report) -> None:
    subjects = _subjects(repo, result.findings)
    for rule in RULES:
        group = result.by_rule(rule)
        if not group:
            continue
        say(rule)
        for f in group:
            say(f"  {f.severity}: {f.branch}: {f.message}")
            for sha in f.commits[:SHOW]:
                say(f"    {short(sha)} {subjects.get(sha, '')}".rstrip())
            if len(f.commits) > SHOW:
                say(f"    … and {len(f.commits) - SHOW} more (--json lists all)")
            for i, line in enumerate(f.hint.splitlines()):
                say(f"    {'next: ' if i == 0 else '      '}{line}")
    say(summary(result))


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
