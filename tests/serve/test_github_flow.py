"""The service against the fake GitHub (checked against GitHub's OpenAPI description) and a
real repository: policy check runs, back-merge PRs, conflict comments, App authentication,
faults — each outcome asserted on the forge's state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from prodfix.adapters.forge.github.app import JWT_BACKDATE
from prodfix.serve.worker import redeliver_failed
from tests.fakes.github import FakeGitHub
from tests.fakes.github_app import FakeDelivery
from tests.serve.helpers import pr_event, push_event
from tests.serve.world import INSTALLATION, GhWorld, gh_world


@pytest.fixture
def w(tmp_path: Path) -> Iterator[GhWorld]:
    with FakeGitHub(tokens={}) as github:
        world = gh_world(tmp_path, github)
        yield world
        assert github.violations == []


def fix_branch(w: GhWorld, name: str = "fix/npe", *, from_: str = "delivery") -> str:
    w.sb.checkout(w.work, "-B", name, f"origin/{from_}")
    head = w.sb.commit(w.work, f"{name} change", {f"{name.replace('/', '_')}.py": "X = 1\n"})
    w.sb.push(w.work, name)
    return head


def opened(w: GhWorld, number: int, head: str, base: str = "delivery") -> int:
    pr = w.add_pr(number, head, base)
    return w.post(
        "pull_request",
        pr_event(
            "opened",
            repo="team/app",
            number=number,
            head=head,
            head_sha=pr.head_sha,
            base=base,
            inst=INSTALLATION,
        ),
    )


def test_a_fix_pr_gets_one_green_check_run(w: GhWorld) -> None:
    head = fix_branch(w)
    assert opened(w, 1, "fix/npe") == 202
    assert w.drain() == ["done"]
    (run,) = w.runs()
    assert (run["name"], run["head_sha"], run["status"], run["conclusion"]) == (
        "prodfix/policy", head, "completed", "success",
    )  # fmt: skip
    assert run["history"] == ["in_progress", "completed"]  # in progress first, then completed
    assert run["output"]["title"] == "no violations"  # type: ignore[index]


def test_a_fix_branched_from_master_goes_red_with_the_finding(w: GhWorld) -> None:
    head = fix_branch(w, "fix/bad", from_="master")
    opened(w, 1, "fix/bad")
    w.drain()
    (run,) = w.runs()
    assert run["conclusion"] == "failure"
    summary = str(run["output"]["summary"])  # type: ignore[index]
    assert "**branched-from-master** (error)" in summary
    assert "what to do:" in summary
    notes = [(n["annotation_level"], n["title"]) for n in run["annotations"]]  # type: ignore[attr-defined]
    # the proposal also brings master into delivery: both rules speak
    assert notes == [
        ("failure", "branched-from-master"),
        ("failure", "master-merged-into-delivery"),
    ]
    assert head[:12] not in summary.split("branched-from-master")[1].split("\n\n")[0]
    master_only = w.sb.g(w.work, "log", "-1", "--format=%H", "origin/master~1")
    assert master_only[:12] in summary


def test_replays_and_duplicate_events_post_one_check_run(w: GhWorld) -> None:
    fix_branch(w)
    pr = w.add_pr(1, "fix/npe", "delivery")
    doc = pr_event(
        "opened",
        repo="team/app",
        number=1,
        head="fix/npe",
        head_sha=pr.head_sha,
        base="delivery",
        inst=INSTALLATION,
    )
    assert w.post("pull_request", doc, delivery="guid-1") == 202
    assert w.post("pull_request", doc, delivery="guid-1") == 202  # GitHub's redelivery
    w.drain()
    doc["action"] = "reopened"
    w.post("pull_request", doc, delivery="guid-2")  # another event, same head
    w.drain()
    assert w.app.runs_created == 1
    assert [r["conclusion"] for r in w.runs()] == ["success"]


def test_a_rerequested_check_is_a_new_run(w: GhWorld) -> None:
    from tests.serve.helpers import example

    fix_branch(w)
    opened(w, 1, "fix/npe")
    w.drain()
    rerun = example("check_run.rerequested")
    rerun["repository"]["full_name"] = "team/app"
    rerun["installation"] = {"id": INSTALLATION}
    rerun["check_run"]["name"] = "prodfix/policy"
    rerun["check_run"]["head_sha"] = w.repo.prs[1].head_sha
    rerun["check_run"]["pull_requests"] = [{"number": 1}]
    assert w.post("check_run", rerun) == 202
    w.drain()
    assert [r["conclusion"] for r in w.runs()] == ["success", "success"]


def test_a_pr_into_another_branch_gets_no_check(w: GhWorld) -> None:
    fix_branch(w)
    w.sb.checkout(w.work, "-B", "topic", "origin/master")
    w.sb.commit(w.work, "topic base", {"t.py": "T = 1\n"})
    w.sb.push(w.work, "topic")
    opened(w, 1, "fix/npe", base="topic")
    assert w.drain() == ["done"]
    assert w.runs() == []


def test_forge_5xx_then_429_are_waited_out_nothing_lost_nothing_twice(w: GhWorld) -> None:
    fix_branch(w)
    # A POST that failed with a 5xx is never repeated blindly (it may have been carried out):
    # the job fails this attempt, and the next one looks for the run before creating it.
    w.github.fail("POST", r"/check-runs$", 502, times=1)
    w.github.fail("PATCH", r"/check-runs/\d+$", 429, headers={"Retry-After": "0"}, times=1)
    opened(w, 1, "fix/npe")
    assert w.drain() == ["queued"]  # the first attempt failed: queued again with a backoff
    assert w.runs() == []
    assert w.drain(later=60) == ["done"]
    (run,) = w.runs()
    assert run["conclusion"] == "success"


def test_a_check_that_cannot_decide_goes_red_after_retries(w: GhWorld) -> None:
    fix_branch(w)
    pr = w.add_pr(1, "fix/npe", "delivery")
    pr.head_sha = "e" * 40  # a head the repository does not have: git cannot judge it
    w.post(
        "pull_request",
        pr_event(
            "opened",
            repo="team/app",
            number=1,
            head="fix/npe",
            head_sha=pr.head_sha,
            base="delivery",
            inst=INSTALLATION,
        ),
    )
    assert w.drain() == ["queued"]
    (run,) = w.runs()
    assert run["status"] == "in_progress"  # never a silent green while retrying
    assert w.drain(later=5) == ["queued"]  # attempt 2, after the first backoff
    assert w.drain(later=60) == ["done"]  # attempt 3: decided red
    (run,) = w.runs()
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert "could not decide" in str(run["output"]["summary"])  # type: ignore[index]
    assert w.app.runs_created == 1


def merged_fix(w: GhWorld, name: str, files: dict[str, str], number: int) -> str:
    """A fix merged into delivery as GitHub would (a merge commit), with its merged PR."""
    w.sb.checkout(w.work, "-B", name, "origin/delivery")
    w.sb.commit(w.work, f"{name} change", files)
    w.sb.push(w.work, name)
    w.sb.checkout(w.work, "-B", "delivery", "origin/delivery")
    landing = w.sb.merge(w.work, name, f"Merge pull request #{number} from team/{name}")
    w.sb.push(w.work, "delivery")
    pr = w.add_pr(number, name, "delivery")
    pr.state, pr.merged_at, pr.merge_commit_sha = "closed", "2026-11-26T10:00:00Z", landing
    return landing


def test_a_push_to_delivery_opens_the_backmerge_pr_once(w: GhWorld) -> None:
    landing = merged_fix(w, "fix/npe", {"npe.py": "OK = 1\n"}, 1)
    doc = push_event(repo="team/app", branch="delivery", after=landing, inst=INSTALLATION)
    w.post("push", doc)
    w.drain()
    w.post("push", doc)  # another delivery of the same state
    w.drain()
    backmerges = [p for p in w.repo.prs.values() if p.head.startswith("backmerge/")]
    assert [(p.head, p.base, p.head_sha, p.state) for p in backmerges] == [
        (f"backmerge/delivery-{landing[:7]}", "master", landing, "open")
    ]
    assert "Merge with a merge commit" in backmerges[0].body
    assert w.sb.remote_refs()["refs/heads/delivery"] == landing  # delivery never touched


def test_backmerge_conflicts_are_named_once_on_the_fix_pr(w: GhWorld) -> None:
    landing = merged_fix(w, "fix/readme", {"README": "delivery text\n"}, 1)
    w.sb.checkout(w.work, "-B", "master", "origin/master")
    w.sb.commit(w.work, "master edits README", {"README": "master text\n"})
    w.sb.push(w.work, "master")
    doc = push_event(repo="team/app", branch="delivery", after=landing, inst=INSTALLATION)
    w.post("push", doc)
    w.drain()
    w.post("push", doc)
    w.drain()
    (comment,) = w.repo.prs[1].comments
    assert "`README`" in comment and "prodfix backmerge --from delivery" in comment
    assert not [p for p in w.repo.prs.values() if p.head.startswith("backmerge/")]


def test_app_jwt_and_a_cached_installation_token(w: GhWorld) -> None:
    fix_branch(w)
    opened(w, 1, "fix/npe")
    fix_branch(w, "fix/two")
    opened(w, 2, "fix/two")
    w.drain()
    assert w.app.tokens_issued == 1  # cached across jobs
    for claims in w.app.jwts_seen:
        assert claims["iss"] == "4242"
        assert claims["exp"] - claims["iat"] <= 600
        assert claims["iat"] <= claims["exp"] - 60
    assert JWT_BACKDATE == 60


def test_an_expired_installation_token_is_renewed(w: GhWorld) -> None:
    fix_branch(w)
    w.app.token_ttl = 1.0  # GitHub says it expires in a second: within the renewal margin
    opened(w, 1, "fix/npe")
    w.drain()
    fix_branch(w, "fix/two")
    opened(w, 2, "fix/two")
    w.drain()
    assert w.app.tokens_issued >= 2
    assert [r["conclusion"] for r in w.runs()] == ["success", "success"]


def test_failed_deliveries_are_redelivered_once_on_start(w: GhWorld) -> None:
    import time as _t

    now = _t.strftime("%Y-%m-%dT%H:%M:%SZ", _t.gmtime())
    old = _t.strftime("%Y-%m-%dT%H:%M:%SZ", _t.gmtime(_t.time() - 5 * 86400))
    w.app.deliveries = [
        FakeDelivery(1, "g-failed", now, 502, "pull_request"),
        FakeDelivery(2, "g-ok", now, 200, "push"),
        FakeDelivery(3, "g-retried", now, 500, "push"),
        FakeDelivery(4, "g-retried", now, 202, "push", redelivery=True),
        FakeDelivery(5, "g-known", now, 503, "push"),
        FakeDelivery(6, "g-old", old, 500, "push"),
    ]
    with w.svc.db.tx() as cur:
        cur.run("INSERT INTO deliveries (id, event, received) VALUES ('g-known', 'push', 0)")
    assert redeliver_failed(w.svc) == 1
    assert w.app.redelivered == [1]


def test_auto_merge_merges_a_clean_backmerge_once_checks_pass(tmp_path: Path) -> None:
    with FakeGitHub(tokens={}) as github:
        w = gh_world(tmp_path, github, auto_merge=True)
        w.repo.required_checks = ("ci/build",)
        landing = merged_fix(w, "fix/npe", {"npe.py": "OK = 1\n"}, 1)
        doc = push_event(repo="team/app", branch="delivery", after=landing, inst=INSTALLATION)
        w.post("push", doc)
        w.drain()
        (bm,) = [p for p in w.repo.prs.values() if p.head.startswith("backmerge/")]
        assert bm.state == "open"  # its required check has not reported
        w.repo.statuses[landing] = {"ci/build": "success"}
        w.post("push", doc, delivery="again")
        w.drain()
        assert (bm.state, bm.merged_at is not None) == ("closed", True)
        assert github.requests_to("PUT", r"/pulls/\d+/merge$")[0].body["merge_method"] == "merge"
        assert github.violations == []


def test_a_missing_backmerge_is_a_warning_that_never_blocks(w: GhWorld) -> None:
    merged_fix(w, "fix/old", {"old.py": "O = 1\n"}, 1)  # landed long ago (fixed test dates)
    fix_branch(w, "fix/new")
    opened(w, 2, "fix/new")
    w.drain()
    (run,) = [r for r in w.runs() if r["head_sha"] == w.repo.prs[2].head_sha]
    assert run["conclusion"] == "success"
    summary = str(run["output"]["summary"])  # type: ignore[index]
    assert "### Warnings (not blocking)" in summary and "**missing-backmerge** (warning)" in summary
    assert [n["annotation_level"] for n in run["annotations"]] == ["warning"]  # type: ignore[attr-defined]


def test_no_secret_reaches_the_database_the_clones_or_the_logs(
    w: GhWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.serve.helpers import SECRET

    caplog.set_level("DEBUG")
    fix_branch(w)
    w.github.fail("POST", r"/check-runs$", 502, times=6)
    opened(w, 1, "fix/npe")
    w.drain()
    w.drain(later=60)
    tokens = [t.encode() for t in w.github.tokens if t.startswith("ghs_")]
    assert tokens
    secrets = [*tokens, SECRET, app_keys_private()]
    files = [
        p
        for p in tmp_path.rglob("*")
        if p.is_file() and "sb" not in p.relative_to(tmp_path).parts[:1]
    ]
    files = [p for p in files if p.name != "app.pem"]
    for p in files:
        data = p.read_bytes()
        for s in secrets:
            assert s not in data, f"secret in {p}"
    for s in secrets:
        assert s.decode() not in caplog.text


def app_keys_private() -> bytes:
    from tests.serve.helpers import app_keys

    return app_keys().private_pem.splitlines()[1].encode()


def test_github_enterprise_server_paths(tmp_path: Path) -> None:
    with FakeGitHub(tokens={}, flavour="ghes") as github:
        w = gh_world(tmp_path, github)
        head = fix_branch(w)
        opened(w, 1, "fix/npe")
        assert w.drain() == ["done"]
        (run,) = w.runs()
        assert (run["head_sha"], run["conclusion"]) == (head, "success")
        assert all(s.path.startswith("/api/v3/") or s.path == "/api/graphql" for s in github.log)
        assert github.violations == []
