"""Snapshots for the dashboard tests: the demo's repositories with fixes at chosen steps."""

from __future__ import annotations

from prodfix.serve.snapshot import (
    FixJson,
    FixRepoJson,
    Snapshot,
    StepJson,
    StepState,
    empty,
)
from prodfix.workflow.playbooks import steps_for

SHA_A = "1a2b3c4d" + "0" * 32
SHA_B = "5e6f7a8b" + "1" * 32
GH = "https://github.com/team/steps-python"


def step(
    sid: str,
    state: StepState,
    detail: str = "",
    *,
    pr: int | None = None,
    url: str | None = None,
    sha: str | None = None,
    tag: str | None = None,
    since: str | None = None,
) -> StepJson:
    return {
        "id": sid,
        "state": state,
        "detail": detail,
        "pr": pr,
        "url": url,
        "sha": sha,
        "tag": tag,
        "since": since,
    }


def repo(
    steps: list[StepJson],
    *,
    kind: str = "python",
    remote: str = GH + ".git",
    path: str = "/srv/clones/steps-python",
    delivery: str = "delivery-2026.11",
    branch: str = "fix/npe-in-parser",
) -> FixRepoJson:
    return {
        "path": path,
        "remote": remote,
        "kind": kind,
        "delivery": delivery,
        "branch": branch,
        "steps": steps,
    }


def progressed(
    kind: str, done: int, state: StepState, *, since: str | None = None
) -> list[StepJson]:
    """The flow of `kind` with its first `done` steps done, the next in `state`, the rest
    pending."""
    ids = steps_for(kind)
    out = [step(s, "done", f"{s} done", since=since) for s in ids[:done]]
    if done < len(ids):
        out.append(step(ids[done], state, f"{ids[done]} is {state}", since=since))
    out += [step(s, "pending") for s in ids[done + 1 :]]
    return out


def fix(name: str, *repos: FixRepoJson, done: bool = False) -> FixJson:
    return {"name": name, "done": done, "repos": list(repos)}


def snapshot(*fixes: FixJson, updated_at: str = "2026-11-29T11:59:30Z") -> Snapshot:
    snap = empty()
    snap["fixes"] = list(fixes)
    snap["updated_at"] = updated_at
    return snap
