"""The policy check's words: the check run's title, summary and annotations (or, on the embedded
forge, the PR comment), from a verdict. Pure: no I/O."""

from __future__ import annotations

from typing import Any

from prodfix.serve.core import Verdict
from prodfix.serve.snapshot import PolicyFinding

NAME = "prodfix/policy"
MARKER = "<!-- prodfix/policy head={head} -->"

_NEXT = {
    "branched-from-master": "recreate the fix branch from its delivery branch "
    "(`prodfix start NAME --from DELIVERY`) and cherry-pick only the fix's commits",
    "master-merged-into-delivery": "do not merge master into a delivery branch during a fix; "
    "bring master in only by a planned sync: its own reviewed PR whose merge carries a "
    "`Prodfix-Sync:` trailer (docs/workflow.md)",
    "wrong-target": "open fix branches into a delivery branch, and delivery only into the "
    "mainline (as a back-merge)",
    "missing-backmerge": "run `prodfix backmerge --from DELIVERY` (the service opens it when it can)",
}


def title(v: Verdict) -> str:
    if v.error:
        return "prodfix could not decide: failing safe"
    if v.findings:
        n = len(v.findings)
        return f"{n} rule violation{'s' * (n > 1)}"
    if v.warnings:
        return "no violations (a back-merge is waiting)"
    return "no violations"


def summary(v: Verdict) -> str:
    lines: list[str] = []
    if v.error:
        lines += [
            "The policy check could not decide, so it fails rather than pass by default.",
            "",
            f"Reason: {v.error}",
            "",
            "Re-run this check once the cause is fixed.",
        ]
    elif not v.findings:
        lines.append("This pull request follows the production-fix rules.")
    for f in v.findings:
        lines += _finding(f, "error")
    if v.warnings:
        lines += ["", "### Warnings (not blocking)"]
        for f in v.warnings:
            lines += _finding(f, "warning")
    return "\n".join(lines).strip() + "\n"


def _finding(f: PolicyFinding, label: str) -> list[str]:
    commits = ", ".join(f"`{c[:12]}`" for c in f["commits"][:20])
    more = f" and {len(f['commits']) - 20} more" if len(f["commits"]) > 20 else ""
    out = ["", f"**{f['rule']}** ({label}): {f['message']}"]
    if commits:
        out.append(f"- commits: {commits}{more}")
    if f["rule"] in _NEXT:
        out.append(f"- what to do: {_NEXT[f['rule']]}")
    return out


def check_annotations(v: Verdict) -> list[dict[str, Any]]:
    """One annotation per finding. The rules judge commits, not lines: they are anchored on the
    repository's `.prodfix.toml`, where the rules are configured."""
    out: list[dict[str, Any]] = []
    for f, level in [(f, "failure") for f in v.findings] + [(f, "warning") for f in v.warnings]:
        out.append(
            {
                "path": ".prodfix.toml",
                "start_line": 1,
                "end_line": 1,
                "annotation_level": level,
                "title": f["rule"],
                "message": f["message"][:64000],
                "raw_details": "\n".join(f["commits"])[:64000],
            }
        )
    return out


def comment(v: Verdict, head: str) -> str:
    """The embedded forge's visible trace: a PR comment, marked with the head it judged."""
    verdict = "success" if v.conclusion == "success" else "failure"
    return f"{MARKER.format(head=head)}\n**{NAME}: {verdict}** — {title(v)}\n\n{summary(v)}"
