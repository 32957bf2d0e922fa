"""Snapshots for the dashboard tests: the demo's repositories with fixes at chosen steps."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

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


def _stamp(now: datetime, **ago: float) -> str:
    return (now - timedelta(**ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def demo_snapshot(now: datetime) -> Snapshot:
    """What the service shows for the demo's repositories with a few fixes under way."""
    py, go = "https://github.com/team/steps-python", "https://github.com/team/steps-go"

    def flow(
        name: str, kind: str, remote: str, done: int, state: StepState, detail: str, **kw: object
    ) -> FixRepoJson:
        steps = progressed(kind, done, state, since=_stamp(now, hours=30))
        steps[done]["detail"] = detail
        steps[done]["since"] = _stamp(now, minutes=25)
        steps[0]["sha"] = SHA_A
        for k, v in kw.items():
            steps[done][k] = v  # type: ignore[literal-required]
        return repo(
            steps, kind=kind, remote=remote + ".git", path=f"/srv/{kind}", branch=f"fix/{name}"
        )

    snap = snapshot(
        fix(
            "npe-in-parser",
            flow(
                "npe-in-parser",
                "python",
                py,
                2,
                "waiting",
                "PR #41 waiting: 1 approving review required",
                pr=41,
                url=py + "/pull/41",
            ),
            flow(
                "npe-in-parser",
                "go",
                go,
                4,
                "waiting",
                "Jenkins build #118 running",
                url="https://jenkins.example.com/job/steps-go/118/",
            ),
        ),
        fix(
            "tz-offset",
            flow(
                "tz-offset",
                "go",
                go,
                4,
                "failed",
                "build #117 failed: TestTzOffset",
                url="https://jenkins.example.com/job/steps-go/117/",
            ),
        ),
        fix(
            "retry-timeout",
            flow(
                "retry-timeout",
                "python",
                py,
                5,
                "waiting",
                "deploy PR #88 in deployment-infra waiting for review",
                pr=88,
                tag="2026.11.4",
            ),
        ),
        fix(
            "cache-key",
            repo(
                progressed("python", 7, "done", since=_stamp(now, days=1)), branch="fix/cache-key"
            ),
            done=True,
        ),
        fix(
            "log-level",
            repo(
                progressed("go", 7, "done", since=_stamp(now, days=3)),
                kind="go",
                remote=go + ".git",
                branch="fix/log-level",
            ),
            done=True,
        ),
        updated_at=_stamp(now, seconds=4),
    )
    snap["backmerge_prs"] = [
        {
            "repo": "team/steps-python",
            "number": 44,
            "url": py + "/pull/44",
            "delivery": "delivery-2026.11",
            "age_s": 2 * 86400,
        },
        {
            "repo": "team/steps-go",
            "number": 19,
            "url": go + "/pull/19",
            "delivery": "delivery-2026.10",
            "age_s": 9 * 86400,
        },
    ]
    snap["drift"] = [
        {
            "repo": "team/deployment-infra",
            "image": "registry.example.com/team/steps-python",
            "tags": {"dc1": "2026.11.4", "dc2": "2026.11.3", "dc3": "2026.11.3"},
        },
    ]
    snap["deliveries"] = [
        {
            "repo": "team/steps-python",
            "branch": "delivery-2026.11",
            "missing_backmerge_days": 2,
            "red": False,
            "mainline": "master",
            "behind_commits": 12,
            "behind_days": 9,
            "last_sync": "2026-11-02T08:30:00Z",
        },
        {  # written before the service measured how far behind: nothing to say
            "repo": "team/steps-go",
            "branch": "delivery-2026.10",
            "missing_backmerge_days": 9,
            "red": True,
        },
    ]
    snap["policy"] = [
        {
            "repo": "team/steps-python",
            "pr": 41,
            "head_sha": SHA_B,
            "conclusion": "success",
            "findings": [],
        },
        {
            "repo": "team/steps-go",
            "pr": 20,
            "head_sha": SHA_A,
            "conclusion": "failure",
            "findings": [
                {
                    "rule": "branched-from-master",
                    "severity": "error",
                    "commits": [SHA_A],
                    "message": "fix/metrics carries 3 commits of master",
                }
            ],
        },
    ]
    return snap


def advance(snap: Snapshot, name: str, repo_index: int = 0) -> Snapshot:
    """A copy of `snap` where one repository of fix `name` moved one step on."""
    moved = copy.deepcopy(snap)
    f = next(f for f in moved["fixes"] if f["name"] == name)
    steps = f["repos"][repo_index]["steps"]
    i = next(i for i, s in enumerate(steps) if s["state"] not in ("done", "skipped"))
    steps[i]["state"], steps[i]["detail"] = "done", f"{steps[i]['id']} done"
    if i + 1 < len(steps):
        steps[i + 1]["state"], steps[i + 1]["detail"] = "ready", "prodfix can do it now"
    return moved
