"""Findings of the policy gate and the `check --json` document (docs/rules.md)."""

from __future__ import annotations

from prodfix.types import BranchName, Sha

TYPE_CHECKING = False  # no typing at run time: `check` loads this module (prodfix/tuples.py)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, Literal, NamedTuple

    Severity = Literal["error", "warning", "info"]
else:
    from prodfix.tuples import NamedTuple

RULES = (
    "branched-from-master",
    "master-merged-into-delivery",
    "missing-backmerge",
    "wrong-target",
)


class Finding(NamedTuple):
    rule: str
    severity: Severity
    branch: BranchName
    commits: tuple[Sha, ...]  # full SHAs, newest first (git's order)
    message: str
    # Subjects of `commits`, same order: for the human listing only, never in the JSON.
    subjects: tuple[str, ...] = ()
    hint: str = ""  # exactly how to resolve it (commands to run, config to add)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "branch": str(self.branch),
            "commits": [str(c) for c in self.commits],
            "message": self.message,
            "hint": self.hint,
        }


class Report(NamedTuple):
    findings: tuple[Finding, ...]
    # Said once on stderr by the command (e.g. "no remote: judged the local branches").
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def by_rule(self, rule: str) -> list[Finding]:
        return [f for f in self.findings if f.rule == rule]

    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "findings": [f.to_json() for f in self.findings]}


def report(findings: Sequence[Finding], notes: Sequence[str] = ()) -> Report:
    """Findings in a stable order: by rule (the order of RULES), then as the rules made them."""
    order = {r: i for i, r in enumerate(RULES)}
    ranked = sorted(enumerate(findings), key=lambda p: (order.get(p[1].rule, len(RULES)), p[0]))
    return Report(tuple(f for _, f in ranked), tuple(notes))
