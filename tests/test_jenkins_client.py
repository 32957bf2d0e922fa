"""JenkinsClient / JenkinsBuilder against the stateful fake Jenkins (tests/fakes/jenkins.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from prodfix.adapters.build import BuildState
from prodfix.adapters.build import jenkins_xml as jx
from prodfix.adapters.build.jenkins import JenkinsBuilder
from prodfix.adapters.build.jenkins_auth import Credentials
from prodfix.adapters.build.jenkins_client import JenkinsAuthError, JenkinsClient, Waiter
from prodfix.adapters.http import RetryPolicy
from prodfix.errors import ProdfixError
from prodfix.types import BranchName, Sha
from tests.fakes.jenkins import FakeJenkins, FakeJob, running

FIXTURES = Path(__file__).parent / "fixtures" / "jenkins"
A, B = Sha("a" * 40), Sha("b" * 40)
DELIVERY = BranchName("delivery-2026.11")
FIX = BranchName("fix/a.b+c")
SENTINEL = "SENTINEL-tok-7f3a9c"


@pytest.fixture
def fake() -> Iterator[FakeJenkins]:
    with running() as f:
        yield f


def policy() -> RetryPolicy:
    return RetryPolicy(attempts=3, backoff=0.0, timeout=5.0, sleep=lambda s: None)


def client(fake: FakeJenkins, creds: Credentials | None = None) -> JenkinsClient:
    return JenkinsClient(
        fake.url, credentials=creds or Credentials("ada", "t0ken", "test"), policy=policy()
    )


def builder(fake: FakeJenkins, c: JenkinsClient | None = None, **kw: object) -> JenkinsBuilder:
    kw.setdefault("waiter", Waiter(interval=0.0, timeout=5.0, sleep=lambda s: None))
    return JenkinsBuilder(c or client(fake), delivery_job="app-delivery", **kw)  # type: ignore[arg-type]


def delivery_job(fake: FakeJenkins, **kw: object) -> FakeJob:
    fake.heads[DELIVERY] = A
    return fake.add_job("app-delivery", branch=DELIVERY, **kw)


def posts(fake: FakeJenkins) -> list[str]:
    return [p for m, p in fake.requests if m == "POST"]


def test_trigger_queue_build_success_with_template_tag(fake: FakeJenkins) -> None:
    delivery_job(fake, queue_polls=2, build_polls=2)
    b = builder(fake, image_tag="{delivery}-{build}-{short}")
    queued = b.trigger_delivery(DELIVERY, A)
    assert queued.state is BuildState.QUEUED and queued.sha == A
    assert queued.id == f"{fake.url}queue/item/101/#job/app-delivery/"
    assert posts(fake) == ["/jenkins/job/app-delivery/build"]
    assert b.poll(queued) == queued  # still waiting in the queue
    running_ = b.poll(queued)
    assert (running_.state, running_.number) == (BuildState.RUNNING, 1)
    assert running_.url == f"{fake.url}job/app-delivery/1/"
    done = b.wait(running_)
    assert (done.state, done.sha, done.image_tag) == (
        BuildState.SUCCESS,
        A,
        "delivery-2026.11-1-aaaaaaa",
    )
    assert done.console_tail == ""
    assert b.delivery_build(DELIVERY, A) == done


def test_parameterized_job_uses_build_with_parameters_and_param_tag(fake: FakeJenkins) -> None:
    """A job with parameters is triggered with its defaults; the tag is read from the build's
    parameter (`build.image-tag = "param:IMAGE_TAG"`)."""
    delivery_job(fake, params={"IMAGE_TAG": "release-7", "BRANCH": ""})
    b = builder(fake, image_tag="param:IMAGE_TAG")
    done = b.wait(b.trigger_delivery(DELIVERY, A))
    assert posts(fake) == ["/jenkins/job/app-delivery/buildWithParameters"]
    assert done.image_tag == "release-7"


def test_303_on_trigger_is_accepted_and_coalesces(fake: FakeJenkins) -> None:
    delivery_job(fake, queue_polls=5)
    b = builder(fake)
    first = b.trigger_delivery(DELIVERY, A)
    fake.see_other_next = True
    second = b.trigger_delivery(DELIVERY, A)
    assert second.id == first.id  # the 303's Location, read without following it
    assert [m for m, p in fake.requests if p.startswith("/jenkins/queue/")] == []


def test_cancelled_queue_item_is_aborted(fake: FakeJenkins) -> None:
    delivery_job(fake)
    fake.cancel_next = True
    b = builder(fake)
    done = b.wait(b.trigger_delivery(DELIVERY, A))
    assert (done.state, done.number, done.image_tag) == (BuildState.ABORTED, None, None)


def test_failing_build_has_console_tail(fake: FakeJenkins) -> None:
    delivery_job(fake, console_lines=["compiling", "ERROR: test_npe failed"])
    fake.fail_next_build = True
    b = builder(fake)
    done = b.wait(b.trigger_delivery(DELIVERY, A))
    assert done.state is BuildState.FAILURE and done.image_tag is None
    assert done.console_tail.splitlines()[-2:] == ["ERROR: test_npe failed", "Finished: FAILURE"]


def test_500_then_success(fake: FakeJenkins) -> None:
    delivery_job(fake)
    b = builder(fake)
    fake.fail_next = 2
    queued = b.trigger_delivery(DELIVERY, A)  # job api/json retried twice, then the trigger
    assert queued.state is BuildState.QUEUED
    assert [p for _m, p in fake.requests[:3]] == [
        "/jenkins/job/app-delivery/api/json?tree="
        "_class%2Cjobs%5Bname%5D%2Cproperty%5BparameterDefinitions%5Bname%5D%5D"
    ] * 3
    fake.fail_next = 5
    with pytest.raises(ProdfixError, match="Jenkins failed after 3 attempts: HTTP 500"):
        b.poll(queued)


def test_image_tag_sources(fake: FakeJenkins) -> None:
    job = delivery_job(
        fake,
        description="tag {number}-{sha}",
        env={"TAG": "env-{number}"},
        artifacts={"out/tag.txt": "building…\n1.2.{number}\n\n"},
    )
    fake.add_build(job, A)
    c = client(fake)  # one client: each costs ~0.1 s of CA-bundle loading
    for source, want in [
        ("description", f"tag 1-{A}"),
        ("param:TAG", "env-1"),
        ("artifact:out/tag.txt", "1.2.1"),
        ("{delivery}/{build}/{sha}", f"{DELIVERY}/1/{A}"),
    ]:
        found = builder(fake, c, image_tag=source).delivery_build(DELIVERY, A)
        assert found is not None and found.image_tag == want, source
    with pytest.raises(ProdfixError, match="has no image tag from 'param:NOPE'") as exc:
        builder(fake, c, image_tag="param:NOPE").delivery_build(DELIVERY, A)
    assert "build.image-tag" in exc.value.hint


def test_delivery_build_exact_or_containing(fake: FakeJenkins) -> None:
    job = delivery_job(fake)
    fake.add_build(job, A)
    fake.add_build(job, B)
    c = client(fake)
    exact = builder(fake, c).delivery_build(DELIVERY, A)
    assert exact is not None and exact.number == 1
    seen: list[tuple[str, str]] = []

    def contains(built: Sha, wanted: Sha) -> bool:
        seen.append((built, wanted))
        return built == B

    newer = builder(fake, c, contains=contains).delivery_build(DELIVERY, A)
    assert newer is not None and (newer.number, newer.sha) == (2, B)
    assert seen == [(B, A)]
    assert builder(fake, c).delivery_build(DELIVERY, Sha("c" * 40)) is None


def test_401_names_the_source_and_never_the_token(
    fake: FakeJenkins, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    delivery_job(fake)
    monkeypatch.setenv("JENKINS_USER", "ada")
    monkeypatch.setenv("JENKINS_API_TOKEN", SENTINEL)
    c = JenkinsClient.from_env(fake.url, policy=policy())
    with pytest.raises(JenkinsAuthError) as exc:
        JenkinsBuilder(c, delivery_job="app-delivery").trigger_delivery(DELIVERY, A)
    err = exc.value
    assert "rejected the credentials for user 'ada' (HTTP 401" in err.message
    assert "credentials came from JENKINS_USER/JENKINS_API_TOKEN" in err.message
    assert "API token" in err.hint
    out = capsys.readouterr()
    for text in (str(err), err.message, err.hint, repr(err), repr(c.credentials), out.out, out.err):
        assert SENTINEL not in text


def test_netrc_credentials_and_their_source(
    fake: FakeJenkins, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery_job(fake)
    rc = tmp_path / "netrc"
    rc.write_text(f"machine 127.0.0.1 login ada password {SENTINEL}\n")
    rc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(rc))
    c = JenkinsClient.from_env(fake.url, policy=policy())
    with pytest.raises(JenkinsAuthError) as exc:
        c.json("job/app-delivery/")
    assert f"credentials came from netrc {rc} (machine 127.0.0.1)" in exc.value.message
    assert SENTINEL not in str(exc.value) + exc.value.hint
    rc.write_text("machine 127.0.0.1 login ada password t0ken\n")
    assert JenkinsClient.from_env(fake.url, policy=policy()).json("job/app-delivery/")["name"] == (
        "app-delivery"
    )


def test_anonymous_403(fake: FakeJenkins) -> None:
    delivery_job(fake)
    c = JenkinsClient(fake.url, credentials=None, policy=policy())
    with pytest.raises(JenkinsAuthError, match=r"refused access \(HTTP 403.*no credentials"):
        c.json("job/app-delivery/")


def mb_job(fake: FakeJenkins, fixture: str) -> FakeJob:
    config = (FIXTURES / f"{fixture}.xml").read_bytes()
    job = fake.add_job("app-mb", config=config, multibranch=True)
    fake.heads.update({"delivery": A, "master": B, str(FIX): A, "fix/other": B})
    return job


@pytest.mark.parametrize("fixture", ["app-mb-wild", "app-mb-regex", "app-mb-gh"])
def test_multibranch_fix_flow_and_undo(fake: FakeJenkins, fixture: str) -> None:
    job = mb_job(fake, fixture)
    b = builder(fake)
    b.scan_multibranch("app-mb")
    assert set(job.children) == {"delivery", "master"}  # the filter keeps fix/* out
    edit = b.add_fix_branch("app-mb", FIX)
    assert edit.changed and edit.needs_scan
    assert edit.warnings and "Jenkins Job Builder" in edit.warnings[0]
    b.scan_multibranch("app-mb")  # Jenkins answers the scan's POST /build with a 302
    assert set(job.children) == {"delivery", "master", "fix%2Fa.b+c"}  # not fix/other
    build = b.trigger_branch_build("app-mb", FIX, A)
    done = b.wait(build)
    assert (done.state, done.sha, done.number) == (BuildState.SUCCESS, A, 1)
    assert done.url == f"{fake.url}job/app-mb/job/fix%252Fa.b%2Bc/1/"
    assert "/jenkins/job/app-mb/job/fix%252Fa.b%2Bc/build" in posts(fake)
    assert b.find_branch_build("app-mb", FIX, A) == done
    # Someone adds another pattern in the UI meanwhile; undo removes only ours.
    theirs = OTHERS[fixture]
    job.config = job.config.replace(theirs[0], theirs[1])
    undo = b.remove_fix_branch("app-mb", FIX)
    assert undo.changed
    assert job.config == config_of(fixture).replace(theirs[0], theirs[1])
    assert b.remove_fix_branch("app-mb", FIX).changed is False


OTHERS = {  # a hand edit made in Jenkins: (old bytes, new bytes)
    "app-mb-wild": (b"</includes>", b" hotfix/*</includes>"),
    "app-mb-gh": (b"</includes>", b" hotfix/*</includes>"),
    "app-mb-regex": (b"</regex>", b"|hotfix/.*</regex>"),
}


def config_of(fixture: str) -> bytes:
    return (FIXTURES / f"{fixture}.xml").read_bytes()


def test_pipeline_job_edit_round_trip_over_http(fake: FakeJenkins) -> None:
    job = fake.add_job("app-pipeline", config=config_of("app-pipeline"))
    b = builder(fake)
    edit = b.add_fix_branch("app-pipeline", FIX)
    assert (edit.shape, edit.entry) == (jx.Shape.BRANCH_SPEC, "refs/heads/fix/a.b+c")
    assert jx.branches(job.config)[1] == ["origin/delivery", "refs/heads/fix/a.b+c"]
    assert b.add_fix_branch("app-pipeline", FIX).changed is False
    assert len(fake.config_posts) == 1
    b.remove_fix_branch("app-pipeline", FIX)
    assert job.config == config_of("app-pipeline")


def test_crumb_fetched_on_403_and_sent_with_session_cookie() -> None:
    with running(require_crumb=True) as fake:
        fake.add_job("app-pipeline", config=config_of("app-pipeline"))
        b = builder(fake)
        assert b.add_fix_branch("app-pipeline", FIX).changed
        assert [(m, p) for m, p in fake.requests if "crumb" in p or m == "POST"] == [
            ("POST", "/jenkins/job/app-pipeline/config.xml"),
            ("GET", "/jenkins/crumbIssuer/api/json"),
            ("POST", "/jenkins/job/app-pipeline/config.xml"),
        ]
        assert len(fake.config_posts) == 1


def test_expired_queue_item_falls_back_to_queue_id(fake: FakeJenkins) -> None:
    delivery_job(fake, build_polls=1)
    b = builder(fake)
    queued = b.trigger_delivery(DELIVERY, A)
    assert b.poll(queued).number == 1
    fake.queue.clear()  # left items expire after 5 minutes (Jenkins core, hudson.model.Queue)
    found = b.poll(queued)
    assert (found.state, found.number) == (BuildState.SUCCESS, 1)


def test_wait_is_bounded(fake: FakeJenkins) -> None:
    delivery_job(fake, build_polls=10_000)
    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += s

    b = builder(fake, waiter=Waiter(interval=10.0, timeout=30.0, sleep=sleep, clock=lambda: now[0]))
    ticks: list[BuildState] = []
    last = b.wait(b.trigger_delivery(DELIVERY, A), on_tick=lambda x: ticks.append(x.state))
    assert last.state is BuildState.RUNNING and now[0] == 30.0
    assert ticks == [BuildState.RUNNING] * 4


def test_half_set_env_credentials_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JENKINS_API_TOKEN", SENTINEL)
    with pytest.raises(ProdfixError, match="JENKINS_USER is not set") as exc:
        JenkinsClient.from_env("https://jenkins.example.com", policy=policy())
    assert SENTINEL not in str(exc.value) + exc.value.hint


def test_configured_crumb_is_sent_up_front() -> None:
    with running(require_crumb=True) as fake:
        fake.add_job("app-pipeline", config=config_of("app-pipeline"))
        c = JenkinsClient(
            fake.url, credentials=Credentials("ada", "t0ken", "t"), policy=policy(), use_crumb=True
        )
        assert builder(fake, c).add_fix_branch("app-pipeline", FIX).changed
        assert [m for m, _p in fake.requests] == ["GET", "GET", "POST"]  # config, crumb, config
