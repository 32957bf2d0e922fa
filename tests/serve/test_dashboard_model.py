"""`build_model`: the snapshot turned into what the dashboard shows, at a fixed `now`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from prodfix.serve.dashboard.model import Link, build_model
from prodfix.serve.dashboard.text import (
    commit_href,
    display_repo,
    format_age,
    repo_name,
    safe_href,
    web_address,
)
from tests.serve.dashboard_data import GH, SHA_A, SHA_B, fix, progressed, repo, snapshot, step

NOW = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (7199, "119m"),
        (7200, "2h"),
        (172799, "47h"),
        (172800, "2d"),
        (-5, "0s"),
    ],
)
def test_age_buckets(seconds: int, text: str) -> None:
    assert format_age(seconds) == text


def test_python_and_go_steps_in_their_flow_order_whatever_the_snapshot_order() -> None:
    shuffled = list(reversed(progressed("python", 3, "waiting")))
    go = list(reversed(progressed("go", 5, "waiting")))
    m = build_model(
        snapshot(fix("npe", repo(shuffled), repo(go, kind="go", path="/srv/steps-go"))), NOW
    )
    py_row, go_row = m.in_flight[0].repos
    assert [s.id for s in py_row.steps] == [
        "branch",
        "test",
        "propose",
        "merge",
        "build",
        "deploy",
        "backmerge",
    ]
    assert [s.id for s in go_row.steps] == [
        "branch",
        "test",
        "propose",
        "merge",
        "build",
        "backmerge",
        "deploy",
    ]
    assert [s.state for s in go_row.steps] == ["done"] * 5 + ["waiting", "pending"]
    assert [s.attention for s in go_row.steps] == [False] * 5 + [True, False]


def test_links_ages_and_tags_of_steps() -> None:
    steps = [
        step("branch", "done", "from origin/delivery", sha=SHA_A, since="2026-11-26T11:00:00Z"),
        step("test", "skipped", "no tests", since="2026-11-29T11:59:15Z"),
        step(
            "propose",
            "done",
            "PR #12",
            pr=12,
            url=GH + "/pull/12",
            sha=SHA_B,
            since="2026-11-29T09:30:00Z",
        ),
        step(
            "build",
            "waiting",
            "build running",
            url="https://jenkins.example.com/job/steps/42/",
            since="2026-11-29T11:45:00Z",
        ),
        step("deploy", "pending", tag="2026.11.3", sha=SHA_A),
    ]
    row = build_model(snapshot(fix("npe", repo(steps))), NOW).in_flight[0].repos[0]
    by_id = {s.id: s for s in row.steps}
    assert row.repo == "team/steps-python"
    assert by_id["branch"].age == "3d"
    assert by_id["branch"].links == (Link("1a2b3c4", f"{GH}/commit/{SHA_A}"),)
    assert by_id["test"].age == "45s"
    assert by_id["test"].links == ()
    assert by_id["propose"].age == "2h"
    assert by_id["propose"].links == (
        Link("PR #12", GH + "/pull/12"),
        Link("5e6f7a8", f"{GH}/commit/{SHA_B}"),
    )
    assert by_id["build"].age == "15m"
    assert by_id["build"].links == (Link("build log", "https://jenkins.example.com/job/steps/42/"),)
    # The deploy step's commit is in the GitOps repository: shown, not linked to this one.
    assert by_id["deploy"].links == (Link("1a2b3c4", None),)
    assert by_id["deploy"].tag == "2026.11.3"
    assert by_id["deploy"].age == ""


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example/x",
        "https://user:secret@github.com/team/steps-python/pull/3",
        "file:///etc/passwd",
        "http://[::1",
        "",
    ],
)
def test_unsafe_urls_are_shown_as_text_not_links(url: str) -> None:
    steps = [step("propose", "waiting", "PR #3", pr=3, url=url)]
    row = build_model(snapshot(fix("npe", repo(steps))), NOW).in_flight[0].repos[0]
    assert row.steps[0].links == (Link("PR #3", None),)
    assert safe_href(url) is None


def test_local_remotes_have_no_commit_links_and_never_show_credentials() -> None:
    assert web_address("/srv/remotes/steps-python.git") is None
    assert web_address("") is None
    assert web_address("git@github.com:team/steps-python.git") == GH
    assert web_address("ssh://git@ghe.example.com:2222/team/app.git") == (
        "https://ghe.example.com/team/app"
    )
    assert commit_href(GH, "not-a-sha") is None
    assert commit_href(None, SHA_A) is None
    assert commit_href(GH, SHA_A) == f"{GH}/commit/{SHA_A}"
    assert repo_name("/srv/remotes/steps-python.git", "/srv/clones/x") == "steps-python"
    assert repo_name("", "/srv/clones/steps-go/") == "steps-go"
    assert repo_name("https://x:ghp_SECRET@github.com/team/app.git", "/p") == "team/app"
    assert repo_name("https://x:ghp_SECRET@git.example/a/b/c.git", "/p") == "c"
    # The service names served repositories `owner/name`, or by the path or URL it was given.
    assert display_repo("team/steps-python") == "team/steps-python"
    assert display_repo("/tmp/demo/remotes/steps-python.git") == "steps-python"
    assert display_repo("https://x:ghp_SECRET@github.com/team/app.git") == "team/app"


def test_in_flight_failed_first_then_by_name_finished_latest_first() -> None:
    m = build_model(
        snapshot(
            fix("b-waiting", repo(progressed("python", 2, "waiting"))),
            fix("c-failed", repo(progressed("python", 4, "failed"))),
            fix("a-ready", repo(progressed("go", 1, "ready"))),
            fix(
                "old",
                repo(progressed("python", 7, "done", since="2026-11-20T08:00:00Z")),
                done=True,
            ),
            fix("new", repo(progressed("go", 7, "done", since="2026-11-28T08:00:00Z")), done=True),
        ),
        NOW,
    )
    assert [f.name for f in m.in_flight] == ["c-failed", "a-ready", "b-waiting"]
    assert [f.failed for f in m.in_flight] == [True, False, False]
    assert m.failed == 1
    assert [f.name for f in m.finished] == ["new", "old"]
    assert m.fix("old") is m.finished[1]
    assert m.fix("nope") is None


def test_backmerges_drift_deliveries_policy() -> None:
    snap = snapshot()
    snap["backmerge_prs"] = [
        {
            "repo": "team/a",
            "number": 7,
            "url": GH + "/pull/7",
            "delivery": "delivery",
            "age_s": 3600,
        },
        {
            "repo": "/srv/remotes/b.git",
            "number": 9,
            "url": None,
            "delivery": "delivery-2",
            "age_s": 9 * 86400,
        },
    ]
    snap["drift"] = [
        {
            "repo": "deployment-infra",
            "image": "registry.example/steps-go",
            "tags": {"dc3": "1.4.0", "dc1": "1.4.1", "dc2": "1.4.0"},
        }
    ]
    snap["deliveries"] = [
        {"repo": "team/a", "branch": "delivery", "missing_backmerge_days": 2, "red": False},
        {"repo": "team/b", "branch": "delivery-2", "missing_backmerge_days": 9, "red": True},
    ]
    snap["policy"] = [
        {"repo": "team/a", "pr": 3, "head_sha": SHA_A, "conclusion": "success", "findings": []},
        {
            "repo": "team/b",
            "pr": 4,
            "head_sha": SHA_B,
            "conclusion": "failure",
            "findings": [
                {
                    "rule": "branched-from-master",
                    "severity": "error",
                    "commits": [SHA_B],
                    "message": "fix/x carries master commits",
                }
            ],
        },
    ]
    m = build_model(snap, NOW)
    assert [(b.repo, b.pr, b.age) for b in m.backmerge_prs] == [
        ("b", Link("PR #9", None), "9d"),
        ("team/a", Link("PR #7", GH + "/pull/7"), "60m"),
    ]
    assert m.drift[0].tags == (("1.4.0", ("dc2", "dc3")), ("1.4.1", ("dc1",)))
    assert [(d.branch, d.days, d.red) for d in m.deliveries] == [
        ("delivery-2", 9, True),
        ("delivery", 2, False),
    ]
    assert m.overdue == 1
    assert [(p.pr, p.head, p.conclusion, p.findings) for p in m.policy] == [
        (4, "5e6f7a8", "failure", ("branched-from-master (error): fix/x carries master commits",)),
        (3, "1a2b3c4", "success", ()),
    ]
    assert m.updated_age == "30s"


def test_behind_lines_say_what_status_says_and_quote_the_command() -> None:
    snap = snapshot()
    base = {"missing_backmerge_days": 0, "red": False, "mainline": "main", "last_sync": None}
    snap["deliveries"] = [
        {**base, "repo": "team/b", "branch": "delivery", "behind_commits": 0, "behind_days": 0},
        {
            **base,
            "repo": "team/b",
            "branch": "delivery;rm",
            "behind_commits": 1,
            "behind_days": 1,
            "last_sync": "2026-11-02T08:30:00Z",
        },
        {**base, "repo": "team/a", "branch": "delivery", "behind_commits": 2, "behind_days": 0},
        {"repo": "team/c", "branch": "delivery", "missing_backmerge_days": 0, "red": False},
    ]
    m = build_model(snap, NOW)
    assert [(b.repo, b.line, b.sync) for b in m.behind] == [
        (
            "team/a",
            "delivery: 2 commits behind main, oldest 0 days ago; never synced",
            "prodfix sync --into delivery",
        ),
        ("team/b", "delivery: has every commit of main; never synced", ""),
        (
            "team/b",
            "delivery;rm: 1 commit behind main, oldest 1 day ago; last synced 2026-11-02",
            "prodfix sync --into 'delivery;rm'",
        ),
    ]  # team/c's snapshot predates the measure: no line rather than a guess
    assert len(m.deliveries) == 4


def test_nothing_observed_yet() -> None:
    m = build_model(snapshot(updated_at=""), NOW)
    assert (m.in_flight, m.finished, m.updated_age) == ((), (), "")
