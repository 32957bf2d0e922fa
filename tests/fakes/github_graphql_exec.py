"""The fake GitHub's GraphQL endpoint: queries are validated and executed (graphql-core) against
the vendored subset of GitHub's published schema (npm @octokit/graphql-schema, trimmed by
tools/trim_github_openapi.py), so a misspelt field or a wrong enum value fails the test.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

import graphql as g

from tests.fakes.github_openapi import FIXTURES

if TYPE_CHECKING:
    from tests.fakes.github import FakeGitHub, FakePr, FakeRepo


@cache
def schema() -> g.GraphQLSchema:
    return g.build_schema((FIXTURES / "github.subset.graphql").read_text(encoding="utf-8"))


@lru_cache(maxsize=64)
def _checked(query: str) -> tuple[g.DocumentNode | None, str, tuple[str, ...]]:
    """(document, syntax error, validation errors) of a query: parsed and validated once per
    query text (prodfix sends the same few queries over and over)."""
    try:
        doc = g.parse(query)
    except g.GraphQLError as exc:
        return None, exc.message, ()
    return doc, "", tuple(e.message for e in g.validate(schema(), doc))


def execute(
    fake: FakeGitHub, query: str, variables: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """(response document, violations)."""
    doc, syntax, msgs = _checked(query)
    if syntax:
        return {"errors": [{"message": syntax}]}, [f"GraphQL syntax: {syntax}"]
    if msgs:
        return {"errors": [{"message": m} for m in msgs]}, [f"GraphQL: {m}" for m in msgs]
    assert doc is not None
    result = g.execute_sync(schema(), doc, root_value=_Root(fake), variable_values=variables)
    out: dict[str, Any] = {"data": result.data}
    violations = []
    if result.errors:
        out["errors"] = [{"message": e.message} for e in result.errors]
        violations = [f"GraphQL execution: {e.message}" for e in result.errors]
    return out, violations


class _Root:
    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake

    def repository(self, info: Any, owner: str, name: str, **_: Any) -> dict[str, Any] | None:
        repo = self.fake.repos.get((owner, name))
        if repo is None:
            return None
        return {"pullRequest": lambda info, number: _pull(repo, repo.prs.get(number))}


def _pull(repo: FakeRepo, pr: FakePr | None) -> dict[str, Any] | None:
    from tests.fakes.github_routes import mergeable_state

    if pr is None:
        return None
    mergeable, state = mergeable_state(repo, pr)
    return {
        "id": f"PR_{pr.number}",
        "isDraft": pr.draft,
        "mergeable": {None: "UNKNOWN", True: "MERGEABLE", False: "CONFLICTING"}[mergeable],
        "mergeStateStatus": state.upper(),
        "reviewDecision": _decision(repo, pr),
        "reviewThreads": lambda info, **a: {
            "totalCount": len(pr.threads),
            "nodes": [{"isResolved": r} for r in pr.threads][: a.get("first", 100)],
        },
        "commits": lambda info, **a: {
            "nodes": [{"commit": {"oid": pr.head_sha, "statusCheckRollup": _rollup(repo, pr)}}]
        },
    }


def _decision(repo: FakeRepo, pr: FakePr) -> str | None:
    if repo.required_approvals == 0:
        return None  # GitHub reports no decision when no review is required
    latest = {r.user: r.state for r in pr.reviews if r.user != pr.author and r.state != "COMMENTED"}
    if "CHANGES_REQUESTED" in latest.values():
        return "CHANGES_REQUESTED"
    return "APPROVED" if repo.approvals(pr) >= repo.required_approvals else "REVIEW_REQUIRED"


def _rollup(repo: FakeRepo, pr: FakePr) -> dict[str, Any] | None:
    def required(name: str) -> Any:
        return lambda info, pullRequestNumber=None, pullRequestId=None: (
            (pullRequestNumber == pr.number or pullRequestId == f"PR_{pr.number}")
            and name in repo.required_checks
        )

    nodes: list[dict[str, Any]] = [
        {"__typename": "StatusContext", "context": c, "state": s.upper(), "isRequired": required(c)}
        for c, s in repo.statuses.get(pr.head_sha, {}).items()
    ]
    nodes += [
        {
            "__typename": "CheckRun",
            "name": n,
            "status": status.upper(),
            "conclusion": conclusion.upper() if conclusion else None,
            "isRequired": required(n),
        }
        for n, (status, conclusion) in repo.check_runs.get(pr.head_sha, {}).items()
    ]
    return {"contexts": lambda info, **a: {"nodes": nodes}} if nodes else None
