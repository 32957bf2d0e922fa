"""GitHub check runs and issue comments for the team service, over the forge's REST transport.

Check runs ("Checks" REST API, docs.github.com/rest/checks/runs): created on a head SHA, one
name per App; GitHub accepts at most 50 annotations per request, so further ones are sent by
updating the same run (the API appends them). Summary text is capped at 65535 characters.
"""

from __future__ import annotations

from typing import Any

from prodfix.adapters.forge.github.api import GitHubApi

MAX_ANNOTATIONS = 50  # per request
MAX_TEXT = 65535


def find_check_run(api: GitHubApi, head_sha: str, name: str) -> dict[str, Any] | None:
    """The newest check run of this name on the commit (made by anyone: GitHub lets only the
    App that created a run update it, and the service is the only App that uses the name)."""
    resp = api.call(
        "GET",
        f"{api.repo_path}/commits/{head_sha}/check-runs",
        params={"check_name": name, "filter": "latest", "per_page": 100},
    )
    runs = [r for r in api.http.json(resp).get("check_runs", []) if r.get("name") == name]
    if not runs:
        return None
    run: dict[str, Any] = max(runs, key=lambda r: int(r["id"]))
    return run


def create_check_run(api: GitHubApi, head_sha: str, name: str) -> int:
    resp = api.call(
        "POST",
        f"{api.repo_path}/check-runs",
        json={"name": name, "head_sha": head_sha, "status": "in_progress"},
    )
    return int(api.http.json(resp)["id"])


def complete_check_run(
    api: GitHubApi,
    run_id: int,
    *,
    conclusion: str,
    title: str,
    summary: str,
    annotations: list[dict[str, Any]],
) -> None:
    batches = [
        annotations[i : i + MAX_ANNOTATIONS] for i in range(0, len(annotations), MAX_ANNOTATIONS)
    ] or [[]]
    for i, batch in enumerate(batches):
        output: dict[str, Any] = {"title": title[:255], "summary": summary[:MAX_TEXT]}
        if batch:
            output["annotations"] = batch
        body: dict[str, Any] = {"output": output}
        if i == len(batches) - 1:
            body |= {"status": "completed", "conclusion": conclusion}
        api.call("PATCH", f"{api.repo_path}/check-runs/{run_id}", json=body)


def comment_bodies(api: GitHubApi, number: int) -> list[str]:
    """Every comment on a PR (its issue), to look before commenting again."""
    return [
        str(c.get("body") or "")
        for c in api.paginate(f"{api.repo_path}/issues/{number}/comments", {})
    ]
