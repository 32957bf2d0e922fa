"""GitHubForge against the stateful fake GitHub on 127.0.0.1 (validated against GitHub's
OpenAPI and GraphQL descriptions: any violation fails the test in the `fake` fixture)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from prodfix.adapters.credentials import Credential, doctor_report
from prodfix.adapters.forge import HeadMoved, MergeBlocked, MergeMethod, PrState
from prodfix.adapters.forge.github.api import AuthRejected
from prodfix.adapters.forge.github.forge import GitHubForge
from prodfix.adapters.http import RetryPolicy
from prodfix.adapters.remote_url import RemoteRepo, parse_remote_url
from prodfix.errors import Exit, ProdfixError, ServiceError
from prodfix.types import BranchName, PrNumber, Sha
from tests.fakes.github import FakeGitHub, FakePr, FakeRepo, Review

MASTER, DELIVERY, FIX, OTHER = "a" * 40, "b" * 40, "c" * 40, "d" * 40
BRANCHES = {"master": MASTER, "delivery": DELIVERY, "fix/npe": FIX, "fix/other": OTHER}
TOKENS = {"alice-token": "alice", "bob-token": "bob"}


@pytest.fixture(params=["github.com", "ghes"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeGitHub]:
    with FakeGitHub(flavour=request.param, tokens=TOKENS) as f:
        yield f
        assert f.violations == [], "requests/responses that GitHub's descriptions reject"


@pytest.fixture
def gh_fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(tokens=TOKENS) as f:
        yield f
        assert f.violations == []


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_forge(
    fake: FakeGitHub,
    token: str = "alice-token",
    *,
    source: str = "environment variable GH_TOKEN",
    sleeps: Sleeps | None = None,
    **kw: object,
) -> GitHubForge:
    remote = RemoteRepo("127.0.0.1", "team", "app", fake.origin, fake.api_url, fake.graphql_url)
    sleeps = sleeps if sleeps is not None else Sleeps()
    return GitHubForge(
        remote,
        Credential(source, token),
        policy=RetryPolicy(sleep=sleeps, backoff=0.01),
        poll_interval=0.01,
        sleep=sleeps,
        **kw,  # type: ignore[arg-type]
    )


def repo(fake: FakeGitHub, **settings: object) -> FakeRepo:
    return fake.add_repo("team", "app", BRANCHES, **settings)


def open_pr(fake: FakeGitHub, r: FakeRepo, head: str = "fix/npe", **kw: object) -> FakePr:
    n = max([0, *r.prs]) + 1
    r.prs[n] = FakePr(n, f"PR {n}", "", head, "delivery", r.branches[head], "alice", **kw)  # type: ignore[arg-type]
    return r.prs[n]


# -- the happy path ------------------------------------------------------------------------------


def test_create_find_approve_merge(fake: FakeGitHub) -> None:
    r = repo(fake, required_approvals=1, required_checks=("ci/jenkins",))
    alice, bob = make_forge(fake), make_forge(fake, "bob-token")

    pr = alice.create_pr(
        BranchName("fix/npe"), BranchName("delivery"), "Fix NPE", "why", draft=False
    )
    assert (pr.number, pr.head, pr.base, pr.head_sha, pr.state) == (
        1,
        "fix/npe",
        "delivery",
        FIX,
        PrState.OPEN,
    )
    assert pr.url == f"{fake.origin}/team/app/pull/1"
    assert pr.blockers == ("approval required by branch protection",)
    assert pr.merge_commit is None  # GitHub's test-merge SHA of an open PR is not reported

    again = alice.find_pr(BranchName("fix/npe"), BranchName("delivery"))
    assert again is not None and again.number == 1
    assert (
        alice.create_pr(BranchName("fix/npe"), BranchName("delivery"), "Fix NPE", "why").number == 1
    )
    assert list(r.prs) == [1]  # idempotent: no duplicate
    listed = fake.requests_to("GET", r"/repos/team/app/pulls$")
    assert listed and all(s.query["head"] == ["team:fix/npe"] for s in listed)
    assert all(s.query["base"] == ["delivery"] for s in listed)

    approved = bob.approve(PrNumber(1))
    assert [a.who for a in approved.approvals] == ["bob"]
    r.statuses[FIX] = {"ci/jenkins": "success"}
    assert alice.get_pr(PrNumber(1)).blockers == ()

    merged = alice.merge(
        PrNumber(1), method=MergeMethod.MERGE, expected_head=Sha(FIX), message="Merge fix\n\nbody"
    )
    assert merged.state is PrState.MERGED
    assert merged.merge_commit == r.branches["delivery"] != DELIVERY
    (put,) = fake.requests_to("PUT", r"/pulls/1/merge$")
    assert put.body == {
        "sha": FIX,
        "merge_method": "merge",
        "commit_title": "Merge fix",
        "commit_message": "body",
    }
    for seen in fake.log:
        assert seen.headers["x-github-api-version"] == "2022-11-28"
        assert seen.headers["accept"] == "application/vnd.github+json"
        assert seen.headers["user-agent"].startswith("prodfix")


def test_find_pr_matches_owner_branch_and_prefers_open(gh_fake: FakeGitHub) -> None:
    r = repo(gh_fake)
    open_pr(gh_fake, r, "fix/other")
    closed = open_pr(gh_fake, r, "fix/npe", state="closed")
    forge = make_forge(gh_fake)
    assert forge.find_pr(BranchName("fix/npe"), BranchName("delivery")) is None
    found = forge.find_pr(BranchName("fix/npe"), BranchName("delivery"), open_only=False)
    assert found is not None and (found.number, found.state) == (closed.number, PrState.CLOSED)
    newer = open_pr(gh_fake, r, "fix/npe")
    found = forge.find_pr(BranchName("fix/npe"), BranchName("delivery"), open_only=False)
    assert found is not None and found.number == newer.number
    assert [s.query["state"] for s in gh_fake.requests_to("GET", r"/pulls$")] == [
        ["open"],
        ["all"],
        ["all"],
    ]


# -- merge refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "arrange", "reasons"),
    [
        ({"required_approvals": 1}, {}, ["approval required by branch protection"]),
        (
            {"required_checks": ("ci/jenkins",)},
            {"status": "failure"},
            ["required check failed: ci/jenkins (failure)"],
        ),
        (
            {"required_checks": ("ci/jenkins",)},
            {"run": ("in_progress", None)},
            ["required check pending: ci/jenkins"],
        ),
        (
            {"required_checks": ("ci/jenkins",)},
            {},
            ['GitHub says: Required status check "ci/jenkins" is expected.'],
        ),
        (
            {"require_resolved_threads": True},
            {"threads": [False, True, False]},
            ["unresolved conversations: 2"],
        ),
        (
            {"allow_merge_commit": False},
            {},
            ["GitHub says: Merge commits are not allowed on this repository."],
        ),
        ({}, {"draft": True}, ["the pull request is a draft"]),
        (
            {
                "required_approvals": 1,
                "required_checks": ("ci/jenkins",),
                "require_resolved_threads": True,
            },
            {"status": "pending", "threads": [False]},
            [
                "approval required by branch protection",
                "unresolved conversations: 1",
                "required check pending: ci/jenkins",
            ],
        ),
    ],
)
def test_merge_405_names_each_blocker(
    fake: FakeGitHub, settings: dict[str, object], arrange: dict[str, object], reasons: list[str]
) -> None:
    r = repo(fake, **settings)
    threads: list[bool] = arrange.get("threads", [])  # type: ignore[assignment]
    pr = open_pr(fake, r, draft=bool(arrange.get("draft")), threads=threads)
    if "status" in arrange:
        r.statuses[FIX] = {"ci/jenkins": str(arrange["status"])}
        r.statuses[FIX]["ci/lint"] = "failure"  # not required: must not be named
    if "run" in arrange:
        r.check_runs[FIX] = {"ci/jenkins": arrange["run"]}  # type: ignore[dict-item]
    with pytest.raises(MergeBlocked) as info:
        make_forge(fake).merge(
            PrNumber(pr.number), method=MergeMethod.MERGE, expected_head=Sha(FIX)
        )
    assert info.value.reasons == reasons
    assert info.value.code is Exit.FAILED
    assert pr.merged_at is None and r.branches["delivery"] == DELIVERY


def test_merge_409_when_head_moved(fake: FakeGitHub) -> None:
    r = repo(fake)
    pr = open_pr(fake, r)
    pr.head_sha = r.branches["fix/npe"] = "e" * 40  # someone pushed after we planned
    with pytest.raises(HeadMoved) as info:
        make_forge(fake).merge(PrNumber(1), method=MergeMethod.SQUASH, expected_head=Sha(FIX))
    assert (
        info.value.message == "PR #1 head moved from ccccccc to eeeeeee while prodfix was merging"
    )
    assert info.value.code is Exit.SERVICE
    assert pr.merged_at is None


def test_merge_of_an_already_merged_pr_returns_it(gh_fake: FakeGitHub) -> None:
    r = repo(gh_fake)
    pr = open_pr(gh_fake, r)
    forge = make_forge(gh_fake)
    first = forge.merge(PrNumber(1), method=MergeMethod.MERGE, expected_head=Sha(FIX))
    second = forge.merge(PrNumber(1), method=MergeMethod.MERGE, expected_head=Sha(FIX))
    assert first == second and second.merge_commit == pr.merge_commit_sha


# -- mergeable: null, pagination, faults ---------------------------------------------------------


def test_mergeable_null_is_polled_until_known(gh_fake: FakeGitHub) -> None:
    r = repo(gh_fake)
    open_pr(gh_fake, r, mergeable_pending=3)
    sleeps = Sleeps()
    pr = make_forge(gh_fake, sleeps=sleeps).get_pr(PrNumber(1))
    assert pr.mergeable is True
    assert len(gh_fake.requests_to("GET", r"/pulls/1$")) == 4
    assert sleeps == [0.01, 0.01, 0.01]


def test_mergeable_polling_is_bounded(gh_fake: FakeGitHub) -> None:
    r = repo(gh_fake)
    open_pr(gh_fake, r, mergeable_pending=50)
    pr = make_forge(gh_fake, mergeable_polls=2).get_pr(PrNumber(1))
    assert pr.mergeable is None
    assert len(gh_fake.requests_to("GET", r"/pulls/1$")) == 3


def test_list_follows_link_pagination_over_three_pages(fake: FakeGitHub) -> None:
    r = repo(fake)
    for _ in range(250):
        open_pr(fake, r)
    prs = make_forge(fake).list_prs(state="all")
    assert sorted(p.number for p in prs) == list(range(1, 251))
    pages = fake.requests_to("GET", r"/pulls$")
    assert [s.query.get("page", ["1"]) for s in pages] == [["1"], ["2"], ["3"]]
    assert all(s.query["per_page"] == ["100"] for s in pages)


def test_reviews_are_paginated_and_latest_verdict_counts(gh_fake: FakeGitHub) -> None:
    r = repo(gh_fake)
    pr = open_pr(gh_fake, r)
    pr.reviews = [Review(i, f"user{i % 120}", "COMMENTED", FIX) for i in range(240)]
    pr.reviews += [Review(900, "carol", "APPROVED", FIX), Review(901, "dave", "APPROVED", FIX)]
    pr.reviews += [
        Review(902, "dave", "CHANGES_REQUESTED", FIX),
        Review(903, "carol", "COMMENTED", FIX),
    ]
    pr.reviews += [Review(904, "alice", "APPROVED", FIX)]  # the author's own does not count
    got = make_forge(gh_fake).get_pr(PrNumber(1))
    assert [a.who for a in got.approvals] == ["carol"]
    assert len(gh_fake.requests_to("GET", r"/pulls/1/reviews$")) == 3


def test_429_with_retry_after_is_waited_out(
    gh_fake: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    r = repo(gh_fake)
    open_pr(gh_fake, r)
    gh_fake.fail("GET", r"/pulls/1$", 429, headers={"Retry-After": "7"})
    sleeps = Sleeps()
    assert make_forge(gh_fake, sleeps=sleeps).get_pr(PrNumber(1)).number == 1
    assert len(gh_fake.requests_to("GET", r"/pulls/1$")) == 2
    assert sleeps == [1.0] * 7  # the whole Retry-After, in one-second ticks
    assert "waiting 7s" in capsys.readouterr().err


def test_403_secondary_rate_limit_is_retried(gh_fake: FakeGitHub) -> None:
    r = repo(gh_fake)
    open_pr(gh_fake, r)
    gh_fake.fail("GET", r"/pulls/1$", 403, times=2, headers={"Retry-After": "2"})
    assert make_forge(gh_fake).get_pr(PrNumber(1)).number == 1
    assert [s.status for s in gh_fake.requests_to("GET", r"/pulls/1$")] == [403, 403, 200]


def test_502_then_success(gh_fake: FakeGitHub) -> None:
    repo(gh_fake)
    gh_fake.fail("POST", r"/pulls$", 502, body={"message": "Bad Gateway"})
    sleeps = Sleeps()
    pr = make_forge(gh_fake, sleeps=sleeps).create_pr(
        BranchName("fix/npe"), BranchName("delivery"), "t", ""
    )
    assert pr.number == 1
    assert [s.status for s in gh_fake.requests_to("POST", r"/pulls$")] == [502, 201]
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.01


def test_502_forever_is_a_service_error(gh_fake: FakeGitHub) -> None:
    repo(gh_fake)
    gh_fake.fail("GET", r"/repos/team/app$", 502, times=10)
    with pytest.raises(ServiceError) as info:
        make_forge(gh_fake).repo_allows_merge_commits()
    assert info.value.message == "GitHub (127.0.0.1) failed after 4 attempts: HTTP 502"


# -- credentials in errors -----------------------------------------------------------------------


def test_401_names_the_token_source(fake: FakeGitHub) -> None:
    repo(fake)
    forge = make_forge(fake, "expired", source="environment variable GH_ENTERPRISE_TOKEN")
    with pytest.raises(AuthRejected) as info:
        forge.list_prs()
    assert (
        info.value.message
        == "the token from environment variable GH_ENTERPRISE_TOKEN was rejected by 127.0.0.1 (401: Bad credentials)"
    )
    assert "gh auth login" in info.value.hint and "repo scope" in info.value.hint
    assert info.value.code is Exit.USAGE


def test_403_permission_names_the_token_source(gh_fake: FakeGitHub) -> None:
    repo(gh_fake)
    gh_fake.fail(
        "PUT", r"/merge$", 403, body={"message": "Resource not accessible by personal access token"}
    )
    open_pr(gh_fake, gh_fake.repos[("team", "app")])
    with pytest.raises(AuthRejected) as info:
        make_forge(gh_fake).merge(PrNumber(1), method=MergeMethod.MERGE, expected_head=Sha(FIX))
    assert info.value.message == (
        "the token from environment variable GH_TOKEN may not do this on team/app "
        "(403: Resource not accessible by personal access token)"
    )


def test_approving_own_pr_is_refused_with_a_hint(gh_fake: FakeGitHub) -> None:
    open_pr(gh_fake, repo(gh_fake))
    with pytest.raises(ProdfixError) as info:
        make_forge(gh_fake).approve(PrNumber(1))
    assert "Can not approve your own pull request" in info.value.message
    assert info.value.hint == "a pull request must be approved by someone other than its author"


def test_create_without_commits_is_refused(gh_fake: FakeGitHub) -> None:
    r = repo(gh_fake)
    r.branches["fix/empty"] = DELIVERY
    with pytest.raises(ProdfixError) as info:
        make_forge(gh_fake).create_pr(BranchName("fix/empty"), BranchName("delivery"), "t", "")
    assert (
        info.value.message
        == "GitHub refused to open fix/empty → delivery: Validation Failed: No commits between delivery and fix/empty"
    )


# -- the rest of the protocol --------------------------------------------------------------------


def test_close_comment_and_repo_settings(fake: FakeGitHub) -> None:
    r = repo(fake, allow_merge_commit=False)
    pr = open_pr(fake, r)
    forge = make_forge(fake)
    forge.comment(PrNumber(1), "Build #12 passed")
    assert pr.comments == ["Build #12 passed"]
    assert forge.close(PrNumber(1)).state is PrState.CLOSED
    assert pr.state == "closed"
    assert forge.repo_allows_merge_commits() is False


def test_ghe_paths(fake: FakeGitHub) -> None:
    if fake.flavour != "ghes":
        pytest.skip("GHE only")
    remote = parse_remote_url("git@ghe.example.com:team/app.git")
    assert (remote.api_url, remote.graphql_url) == (
        "https://ghe.example.com/api/v3",
        "https://ghe.example.com/api/graphql",
    )
    r = repo(fake, required_approvals=1)
    open_pr(fake, r)
    forge = make_forge(fake)
    assert forge.get_pr(PrNumber(1)).blockers == ("approval required by branch protection",)
    paths = [s.path for s in fake.log]
    assert paths == [
        "/api/v3/repos/team/app/pulls/1",
        "/api/v3/repos/team/app/pulls/1/reviews",
        "/api/graphql",
    ]


def test_compare_url_escapes_and_keeps_base() -> None:
    remote = parse_remote_url("https://ghe.example.com/team/app.git")
    forge = GitHubForge(remote, None)
    url = forge.compare_url(BranchName("delivery-2026.11"), BranchName("fix/PROD 1"))
    assert (
        url == "https://ghe.example.com/team/app/compare/delivery-2026.11...fix%2FPROD%201?expand=1"
    )
    forge.shutdown()


def test_pagination_link_to_another_host_is_refused(gh_fake: FakeGitHub) -> None:
    repo(gh_fake)
    gh_fake.fail(
        "GET",
        r"/pulls$",
        200,
        headers={"Link": '<https://evil.example/x?page=2>; rel="next"'},
        body=[],
    )
    with pytest.raises(ServiceError) as info:
        make_forge(gh_fake).list_prs()
    assert "another host (evil.example)" in info.value.message


def test_doctor_report(gh_fake: FakeGitHub) -> None:
    ok = doctor_report(make_forge(gh_fake))
    assert (ok.source, ok.authenticated, ok.login, ok.scopes) == (
        "environment variable GH_TOKEN",
        True,
        "alice",
        ("repo", "read:org"),
    )
    assert ok.lines() == [
        "token for 127.0.0.1 from environment variable GH_TOKEN",
        "authenticates as alice",
        "scopes: repo, read:org",
    ]
    gh_fake.scopes = None  # fine-grained tokens: GitHub sends no X-OAuth-Scopes
    assert doctor_report(make_forge(gh_fake)).scopes is None
    bad = doctor_report(make_forge(gh_fake, "nope"))
    assert bad.authenticated is False and "GH_TOKEN was rejected" in bad.problem
    none = doctor_report(GitHubForge(make_forge(gh_fake).remote, None))
    first, hint = none.lines()
    assert first.startswith(
        "no GitHub token for 127.0.0.1: read GH_ENTERPRISE_TOKEN and GITHUB_ENTERPRISE_TOKEN "
        "(neither set), then "
    )
    assert hint == (
        "next: set GH_ENTERPRISE_TOKEN or GITHUB_ENTERPRISE_TOKEN, or run "
        "`gh auth login --hostname 127.0.0.1`"
    )


def test_token_never_appears_in_output(
    gh_fake: FakeGitHub, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    sentinel = "ghp_SENTINEL0do0not0print0anywhere0123"
    gh_fake.tokens[sentinel] = "alice"
    caplog.set_level(logging.DEBUG)
    r = repo(gh_fake, required_approvals=1)
    forge = make_forge(gh_fake, sentinel)
    texts = [repr(forge), str(forge.credential), repr(forge.api)]
    pr = forge.create_pr(BranchName("fix/npe"), BranchName("delivery"), "t", "")
    gh_fake.fail("GET", r"/pulls/1$", 429, headers={"Retry-After": "1"})
    forge.get_pr(pr.number)
    for call in (
        lambda: forge.merge(pr.number, method=MergeMethod.MERGE, expected_head=Sha(FIX)),
        lambda: make_forge(gh_fake, sentinel + "x").list_prs(),
    ):
        with pytest.raises(ProdfixError) as info:
            call()
        texts += [str(info.value), info.value.message, info.value.hint, repr(info.value)]
    texts += doctor_report(forge).lines()
    out, err = capsys.readouterr()
    texts += [out, err, caplog.text, *(repr(rec.__dict__) for rec in caplog.records)]
    assert r.prs[1].author == "alice"
    assert any(sentinel in s.headers.get("authorization", "") for s in gh_fake.log)  # it was sent
    assert caplog.records, "debug logging was on: the absence below means something"
    for text in texts:
        assert sentinel not in text


# -- the validators themselves can fail -----------------------------------------------------------


def test_fake_rejects_requests_github_would_reject(gh_fake: FakeGitHub) -> None:
    r = repo(gh_fake)
    open_pr(gh_fake, r)
    headers = {"Authorization": "Bearer alice-token", "User-Agent": "t"}
    url = f"{gh_fake.api_url}/repos/team/app/pulls/1/merge"
    resp = httpx.put(url, json={"merge_method": "fastforward"}, headers=headers)
    assert resp.status_code == 422
    assert gh_fake.violations == [
        "PUT /repos/team/app/pulls/1/merge: body merge_method: 'fastforward' is not one of ['merge', 'squash', 'rebase']"
    ]
    gh_fake.violations.clear()
    resp = httpx.get(
        f"{gh_fake.api_url}/repos/team/app/pulls", params={"color": "red"}, headers=headers
    )
    assert gh_fake.violations == [
        "GET /repos/team/app/pulls: query parameter 'color' is not declared for pulls/list"
    ]
    gh_fake.violations.clear()
    resp = httpx.post(
        gh_fake.graphql_url,
        json={"query": '{ repository(owner: "team", name: "app") { merged } }'},
        headers=headers,
    )
    assert resp.json()["errors"] and gh_fake.violations == [
        "GraphQL: Cannot query field 'merged' on type 'Repository'."
    ]
    gh_fake.violations.clear()


def test_response_validation_catches_a_wrong_shape(gh_fake: FakeGitHub) -> None:
    spec = gh_fake.spec
    op, _ = spec.match("GET", "/repos/team/app/pulls/1") or (None, None)
    assert op is not None
    from tests.fakes.github_routes import pull

    good = pull(gh_fake, repo(gh_fake), FakePr(1, "t", "", "fix/npe", "delivery", FIX, "alice"))
    assert spec.check_response(op, 200, good) == []
    assert spec.check_response(op, 200, {**good, "mergeable": "yes"}) == [
        "mergeable: 'yes' is not of type 'boolean', 'null'"
    ]
    del good["merged"]
    assert spec.check_response(op, 200, good) == ["(root): 'merged' is a required property"]
    assert spec.check_response(op, 418, None) == []  # undeclared error without a body
    assert spec.check_response(op, 201, good) == ["pulls/get does not declare status 201"]


# -- merged PRs (the sync preview asks which PR brought a mainline commit) ------------------------


def test_merged_prs_reads_closed_prs_into_the_base_until_older_than_since(
    gh_fake: FakeGitHub,
) -> None:
    r = repo(gh_fake)
    day = "2026-11-{:02d}T10:00:00Z".format
    for n, (base, merged, updated) in enumerate(
        [("master", True, day(1))] * 150  # old: never read past the page that reaches them
        + [("master", True, day(20)), ("delivery", True, day(21)), ("master", False, day(22))]
        + [("master", True, day(23))],
        1,
    ):
        r.prs[n] = FakePr(
            n, f"PR {n}", "", f"feat/{n}", base, "e" * 40, "alice", state="closed",
            merged_at=updated if merged else None, closed_at=updated,
            merge_commit_sha=f"{n:040x}" if merged else None, updated_at=updated,
        )  # fmt: skip
    forge = make_forge(gh_fake)
    recent = forge.merged_prs(BranchName("master"), since=day(10))
    assert [int(p.number) for p in recent[:2]] == [154, 151]
    assert all(p.state is PrState.MERGED and p.base == "master" for p in recent)
    assert {p.merge_commit for p in recent[:2]} == {f"{154:040x}", f"{151:040x}"}
    pulls = gh_fake.requests_to("GET", r"/pulls$")
    assert len(pulls) == 1  # the first page held everything since: no second request
    assert pulls[0].query["sort"] == ["updated"] and pulls[0].query["direction"] == ["desc"]
    assert pulls[0].query["state"] == ["closed"] and pulls[0].query["base"] == ["master"]
    everything = forge.merged_prs(BranchName("master"))
    assert len(everything) == 152 and len(gh_fake.requests_to("GET", r"/pulls$")) == 3
