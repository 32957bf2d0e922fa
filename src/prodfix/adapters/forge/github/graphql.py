"""Why GitHub will not merge a PR, in words a person acts on.

REST cannot answer this: `mergeable_state` says "blocked" but not by what, and required checks need
admin rights to read from branch protection (GitHub's REST reference, "Protected branches"). One
GraphQL query answers all three: `reviewDecision`, unresolved `reviewThreads`, and the head
commit's `statusCheckRollup` with `isRequired(pullRequestId:)` — the query `gh pr checks
--required` uses (src cli/cli api/query_builder.go RequiredStatusCheckRollupGraphQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

QUERY = """
query ProdfixBlockers($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      id
      isDraft
      mergeable
      mergeStateStatus
      reviewDecision
      reviewThreads(first: 100) { totalCount nodes { isResolved } }
      commits(last: 1) { nodes { commit { oid statusCheckRollup {
        contexts(first: 100) { nodes {
          __typename
          ... on StatusContext { context state isRequired(pullRequestNumber: $number) }
          ... on CheckRun { name status conclusion isRequired(pullRequestNumber: $number) }
        } }
      } } } }
    }
  }
}
"""

UNSPECIFIC = "blocked by branch protection (a required check may not have reported yet)"
# CheckRun conclusions GitHub counts as passing for a required check.
_PASSING = frozenset({"SUCCESS", "NEUTRAL", "SKIPPED"})


@dataclass(frozen=True)
class Facts:
    """The GraphQL answer, reduced to what `blockers` needs."""

    draft: bool
    conflicting: bool
    merge_state: str  # MergeStateStatus: BEHIND BLOCKED CLEAN DIRTY HAS_HOOKS UNKNOWN UNSTABLE
    review_decision: str | None  # APPROVED CHANGES_REQUESTED REVIEW_REQUIRED, None = not required
    unresolved_threads: int
    required_checks: tuple[tuple[str, str], ...]  # (name, state) for required ones only


def parse(data: dict[str, Any]) -> Facts | None:
    pr = ((data.get("repository") or {}).get("pullRequest")) or None
    if pr is None:
        return None
    threads = pr.get("reviewThreads") or {}
    unresolved = sum(1 for t in threads.get("nodes") or [] if not t.get("isResolved"))
    checks: list[tuple[str, str]] = []
    for node in _rollup_nodes(pr):
        if not node.get("isRequired"):
            continue
        if node.get("__typename") == "StatusContext":
            checks.append((str(node["context"]), str(node["state"])))
        elif node.get("__typename") == "CheckRun":
            status, conclusion = str(node["status"]), node.get("conclusion")
            state = str(conclusion) if status == "COMPLETED" and conclusion else "PENDING"
            checks.append((str(node["name"]), "SUCCESS" if state in _PASSING else state))
    return Facts(
        draft=bool(pr.get("isDraft")),
        conflicting=pr.get("mergeable") == "CONFLICTING",
        merge_state=str(pr.get("mergeStateStatus") or "UNKNOWN"),
        review_decision=pr.get("reviewDecision"),
        unresolved_threads=unresolved,
        required_checks=tuple(checks),
    )


def _rollup_nodes(pr: dict[str, Any]) -> list[dict[str, Any]]:
    commits = (pr.get("commits") or {}).get("nodes") or []
    if not commits:
        return []
    rollup = (commits[-1].get("commit") or {}).get("statusCheckRollup") or {}
    nodes: list[dict[str, Any]] = (rollup.get("contexts") or {}).get("nodes") or []
    return nodes


def blockers(facts: Facts, *, base: str, required_approvals_hint: str = "") -> tuple[str, ...]:
    out: list[str] = []
    if facts.draft:
        out.append("the pull request is a draft")
    if facts.conflicting or facts.merge_state == "DIRTY":
        out.append(f"merge conflicts with {base}")
    if facts.review_decision == "REVIEW_REQUIRED":
        out.append(required_approvals_hint or "approval required by branch protection")
    elif facts.review_decision == "CHANGES_REQUESTED":
        out.append("changes requested by a reviewer")
    if facts.unresolved_threads:
        out.append(f"unresolved conversations: {facts.unresolved_threads}")
    for name, state in facts.required_checks:
        if state in ("PENDING", "EXPECTED", "QUEUED", "IN_PROGRESS"):
            out.append(f"required check pending: {name}")
        elif state != "SUCCESS":
            out.append(f"required check failed: {name} ({state.lower()})")
    if facts.merge_state == "BEHIND":
        out.append(f"branch is behind {base} (branch protection requires it up to date)")
    if not out and facts.merge_state == "BLOCKED":
        # Typically a required check that has not reported yet: GitHub lists only reported ones.
        out.append(UNSPECIFIC)
    return tuple(out)
