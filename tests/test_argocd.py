"""Argo CD client and deploy gate against the stateful fake, with real git for ancestry."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from prodfix.adapters.argocd import (
    APP_KEY,
    TOKEN_ENV,
    AppStatus,
    ArgoCd,
    assess,
    image_key,
    parse_app,
)
from prodfix.adapters.git import Repo
from prodfix.adapters.http import RetryPolicy
from prodfix.errors import Exit, ProdfixError, ServiceError
from prodfix.types import short
from tests.argocd_driver import DeployFailed, wait_deployed
from tests.fakes.argocd import DEGRADED, OP_FAILED, PROGRESSING, FakeArgoCd
from tests.gitfix import Sandbox

# A sentinel: asserted absent from every message, log and output.
TOKEN = "argocd-SENTINEL-7f3a9c"
APP = "sre-triggers-us1"
REPO = "registry.example.com/sre-triggers/steps-python"
OLD, NEW = f"{REPO}:1.0.0", f"{REPO}:1.1.0"


@dataclass
class FakeTime:
    """clock + sleep for the wait loop: sleeping advances the clock, no real time passes."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass(frozen=True)
class History:
    """deployment-infra master: base ← merge (the image-tag PR) ← later; side is off-branch."""

    repo: Repo
    base: str
    merge: str
    later: str
    side: str

    def is_descendant(self, rev: str, ancestor: str) -> bool:
        return self.repo.is_ancestor(ancestor, rev)


@pytest.fixture
def history(sandbox: Sandbox) -> History:
    sandbox.init_origin()
    work = sandbox.clone()
    base = sandbox.commit(work, "base")
    sandbox.g(work, "checkout", "-q", "-b", "deploy/1.1.0")
    sandbox.commit(work, "bump image tag to 1.1.0")
    sandbox.checkout(work, "master")
    merge = sandbox.merge(work, "deploy/1.1.0", "Merge pull request #7")
    later = sandbox.commit(work, "another team's change")
    sandbox.g(work, "checkout", "-q", "-b", "side", base)
    side = sandbox.commit(work, "unmerged experiment")
    return History(Repo(work), base, merge, later, side)


@pytest.fixture
def argo() -> Iterator[FakeArgoCd]:
    with FakeArgoCd(TOKEN) as fake:
        yield fake


def client(fake: FakeArgoCd, token: str = TOKEN, project: str | None = None) -> ArgoCd:
    policy = RetryPolicy(attempts=2, backoff=0.0, timeout=5.0, sleep=lambda s: None)
    return ArgoCd(fake.url, token=token, project=project, policy=policy)


def wait(
    fake: FakeArgoCd,
    h: History,
    t: FakeTime,
    ticks: list[str] | None = None,
    *,
    timeout: float = 600.0,
    grace: float = 30.0,
    refresh_every: float = 60.0,
    is_descendant: Callable[[str, str], bool] | None = None,
) -> AppStatus:
    return wait_deployed(
        client(fake),
        APP,
        merge_commit=h.merge,
        image=NEW,
        is_descendant=is_descendant or h.is_descendant,
        timeout=timeout,
        interval=5.0,
        grace=grace,
        refresh_every=refresh_every,
        clock=t.clock,
        sleep=t.sleep,
        on_tick=None if ticks is None else ticks.append,
    )


def test_happy_path_waits_through_every_gate(argo: FakeArgoCd, history: History) -> None:
    argo.add_app(APP, revision=history.base, images=[OLD, "redis:7"])
    argo.deploy(APP, revision=history.merge, image=NEW)
    t, ticks = FakeTime(), list[str]()

    st = wait(argo, history, t, ticks)

    assert (st.sync_status, st.health_status, st.operation_phase) == (
        "Synced",
        "Healthy",
        "Succeeded",
    )
    assert st.sync_revision == history.merge
    assert st.images == ("redis:7", NEW)
    m, b = short(history.merge), short(history.base)
    # The first frame is the stale-state race: new revision compared, old operation shown.
    assert [x.split("; waiting for ", 1)[1] if "; " in x else "done" for x in ticks] == [
        f"sync operation Succeeded at {m} or later (now Succeeded at {b})",
        f"sync operation Succeeded at {m} or later (now Running at {m})",
        f"health Healthy (now Progressing: {PROGRESSING})",
        "done",
    ]
    polls = argo.polls(APP)
    assert len(polls) == 4
    assert polls[0].query == {"refresh": ["normal"]}
    assert [p.query for p in polls[1:]] == [{}, {}, {}]
    assert t.sleeps == [5.0, 5.0, 5.0]


def test_degraded_fails_only_after_the_grace_period(argo: FakeArgoCd, history: History) -> None:
    argo.add_app(APP, revision=history.base, images=[OLD])
    argo.deploy(APP, revision=history.merge, image=NEW, outcome="degraded")
    t = FakeTime()

    with pytest.raises(DeployFailed) as exc:
        wait(argo, history, t, grace=12.0)

    # Degraded first seen at t=15 (4th poll); it must persist 12 s: fails at t=30, not before.
    assert t.now == 30.0
    assert exc.value.code == Exit.FAILED
    assert exc.value.message == (
        f"Argo CD app {APP}: health Degraded for 15s at {short(history.merge)}: {DEGRADED}"
    )
    assert "rollback" in exc.value.hint
    assert len(argo.polls(APP)) == 7


def test_a_degraded_blip_within_the_grace_is_tolerated(argo: FakeArgoCd, history: History) -> None:
    argo.add_app(APP, revision=history.base, images=[OLD])
    argo.deploy(APP, revision=history.merge, image=NEW)
    frames = argo.apps[APP].frames
    frames.insert(3, {"health": "Degraded", "health_message": DEGRADED})  # one poll Degraded
    t = FakeTime()

    st = wait(argo, history, t, grace=10.0)

    assert st.health_status == "Healthy"
    assert len(argo.polls(APP)) == 5


def test_failed_sync_operation_fails_fast_with_argo_message(
    argo: FakeArgoCd, history: History
) -> None:
    argo.add_app(APP, revision=history.base, images=[OLD])
    argo.deploy(APP, revision=history.merge, image=NEW, outcome="failed")
    t = FakeTime()

    with pytest.raises(DeployFailed) as exc:
        wait(argo, history, t)

    assert exc.value.code == Exit.FAILED
    assert (
        exc.value.message
        == f"Argo CD app {APP}: sync operation Failed after 2 retries: {OP_FAILED}"
    )
    assert exc.value.status.operation_phase == "Failed"
    assert len(argo.polls(APP)) == 3  # refresh, Running, Failed: no more polls


def test_a_failed_operation_of_an_older_revision_is_stale_not_fatal(
    argo: FakeArgoCd, history: History
) -> None:
    argo.add_app(
        APP, revision=history.base, images=[OLD], op_phase="Failed", op_message="old failure"
    )
    argo.deploy(APP, revision=history.merge, image=NEW)

    st = wait(argo, history, FakeTime())

    assert st.health_status == "Healthy"


def test_revision_before_the_merge_keeps_waiting_then_merge_is_accepted(
    argo: FakeArgoCd, history: History
) -> None:
    argo.add_app(APP, revision=history.base, images=[OLD])
    argo.deploy(APP, revision=history.merge, image=NEW, hold_polls=3)
    ticks = list[str]()

    st = wait(argo, history, FakeTime(), ticks)

    waiting_rev = (
        f"waiting for revision {short(history.merge)} or later (Argo CD has {short(history.base)})"
    )
    assert [waiting_rev in x for x in ticks] == [True, True, True, False, False, False, False]
    assert st.sync_revision == history.merge


def test_a_descendant_of_the_merge_is_accepted(argo: FakeArgoCd, history: History) -> None:
    argo.add_app(APP, revision=history.base, images=[OLD])
    argo.deploy(APP, revision=history.later, image=NEW)
    asked = list[tuple[str, str]]()

    def is_descendant(rev: str, ancestor: str) -> bool:
        asked.append((rev, ancestor))
        return history.is_descendant(rev, ancestor)

    st = wait(argo, history, FakeTime(), is_descendant=is_descendant)

    assert st.sync_revision == history.later
    assert (history.later, history.merge) in asked  # the gate really asked git


@pytest.mark.parametrize(
    ("setup", "unmet"),
    [
        ("never-deployed", "revision {m} or later (Argo CD has {b})"),
        ("unmerged-side-branch", "revision {m} or later (Argo CD has {s})"),
        ("stuck-progressing", "health Healthy (now Progressing: " + PROGRESSING + ")"),
        ("green-but-old-image", "live image " + NEW + " only (live: " + OLD + ")"),
        ("synced-then-drifted", "sync status Synced (now OutOfSync)"),
    ],
)
def test_timeout_names_the_unmet_condition_and_the_app(
    argo: FakeArgoCd, history: History, setup: str, unmet: str
) -> None:
    if setup == "green-but-old-image":  # synced and healthy, yet ignoreDifferences hid the tag
        argo.add_app(APP, revision=history.merge, images=[OLD])
    elif setup == "synced-then-drifted":  # the sync succeeded, then someone edited live objects
        argo.add_app(APP, revision=history.merge, images=[NEW], sync_status="OutOfSync")
    else:
        argo.add_app(APP, revision=history.base, images=[OLD])
    if setup == "unmerged-side-branch":
        argo.deploy(APP, revision=history.side, image=NEW)
    if setup == "stuck-progressing":
        argo.deploy(APP, revision=history.merge, image=NEW, outcome="stuck")
    t = FakeTime()

    with pytest.raises(ServiceError) as exc:
        wait(argo, history, t, timeout=60.0)

    expected = unmet.format(m=short(history.merge), b=short(history.base), s=short(history.side))
    assert exc.value.code == Exit.SERVICE
    assert exc.value.message == (
        f"Argo CD app {APP} not deployed after 60s: still waiting for {expected}"
    )
    assert t.now == 60.0
    assert APP in exc.value.hint


def test_refreshes_again_while_before_the_merge(argo: FakeArgoCd, history: History) -> None:
    argo.add_app(APP, revision=history.base, images=[OLD])

    with pytest.raises(ServiceError):
        wait(argo, history, FakeTime(), timeout=30.0, refresh_every=10.0)

    # t=0 refresh, 5 get, 10 refresh, 15 get, 20 refresh, 25 get, 30 refresh → timeout
    assert [bool(p.query) for p in argo.polls(APP)] == [True, False, True, False, True, False, True]


def test_timeout_reports_error_conditions(argo: FakeArgoCd, history: History) -> None:
    cond = {"type": "ComparisonError", "message": "kustomize build failed: missing resource"}
    argo.add_app(APP, revision=history.base, images=[OLD], conditions=[cond])

    with pytest.raises(ServiceError) as exc:
        wait(argo, history, FakeTime(), timeout=5.0)

    assert exc.value.message.endswith(
        "(conditions: ComparisonError: kustomize build failed: missing resource)"
    )


@pytest.mark.parametrize(("project", "status"), [(None, 403), ("default", 404)])
def test_missing_app_names_the_app_and_the_template_key(
    argo: FakeArgoCd, project: str | None, status: int
) -> None:
    with pytest.raises(ProdfixError) as exc:
        client(argo, project=project).get("sre-triggers-xx1")

    assert exc.value.code == Exit.USAGE
    assert exc.value.message == (
        f"Argo CD app 'sre-triggers-xx1' not found (HTTP {status}), or the token may not read it"
    )
    assert APP_KEY in exc.value.hint
    assert [r.status for r in argo.requests] == [status]  # not retried


def test_an_app_in_another_project_is_not_found_with_project(argo: FakeArgoCd) -> None:
    argo.add_app(APP, revision="a" * 40, images=[OLD], project="other")

    with pytest.raises(ProdfixError):
        client(argo, project="default").get(APP)
    assert client(argo).get(APP).name == APP
    assert argo.requests[0].query == {"project": ["default"]}


def test_rejected_token_is_a_clear_error_and_never_leaks(
    argo: FakeArgoCd,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = TOKEN + "-expired"
    caplog.set_level(logging.DEBUG)
    argo.add_app(APP, revision="a" * 40, images=[OLD])
    c = client(argo, token=wrong)

    with pytest.raises(ProdfixError) as exc:
        c.refresh(APP)

    assert exc.value.code == Exit.USAGE
    assert (
        exc.value.message == f"Argo CD at {argo.url} rejected the token in {TOKEN_ENV} (HTTP 401)"
    )
    assert TOKEN_ENV in exc.value.hint
    assert argo.requests[0].authorization == f"Bearer {wrong}"  # it was really sent
    assert "<redacted>" in caplog.text  # the debug log ran, with the header redacted
    out, err = capsys.readouterr()
    for text in (str(exc.value), exc.value.hint, repr(exc.value), repr(c), caplog.text, out, err):
        assert "SENTINEL" not in text


def test_token_comes_from_the_environment(argo: FakeArgoCd) -> None:
    argo.add_app(APP, revision="a" * 40, images=[OLD])

    st = ArgoCd.from_env(argo.url, env={TOKEN_ENV: TOKEN}).get(APP)

    assert st.images == (OLD,)
    assert argo.requests[0].authorization == f"Bearer {TOKEN}"


@pytest.mark.parametrize("env", [{}, {TOKEN_ENV: "  "}])
def test_missing_token_is_a_usage_error(env: dict[str, str]) -> None:
    with pytest.raises(ProdfixError) as exc:
        ArgoCd.from_env("https://argocd.example.com", env=env)

    assert exc.value.code == Exit.USAGE
    assert exc.value.message == f"no Argo CD token: {TOKEN_ENV} is not set"
    assert TOKEN_ENV in exc.value.hint


def test_parse_app_reads_multi_source_and_omitted_fields() -> None:
    st = parse_app(
        {
            "metadata": {"name": "x"},
            "status": {
                "sync": {"status": "Synced", "revisions": ["r1", "r2"]},
                "operationState": {"phase": "Running", "operation": {"sync": {"revision": "r1"}}},
                "conditions": [{"type": "SyncError", "message": "boom"}],
            },
        },
        "x",
    )
    assert (st.sync_revision, st.sync_revisions, st.operation_revision) == (
        "r1",
        ("r1", "r2"),
        "r1",
    )
    assert (st.health_status, st.health_message, st.images) == ("Unknown", "", ())
    assert [(c.type, c.message) for c in st.conditions] == [("SyncError", "boom")]


DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("ref", "key"),
    [
        ("registry:5000/team/app:1.2", ("registry:5000/team/app", "1.2", None)),
        ("registry:5000/team/app", ("registry:5000/team/app", None, None)),
        (f"app:1.2@{DIGEST}", ("docker.io/library/app", "1.2", DIGEST)),
        ("docker.io/library/redis", ("docker.io/library/redis", None, None)),
        ("redis:7", ("docker.io/library/redis", "7", None)),
        ("index.docker.io/library/redis:7", ("docker.io/library/redis", "7", None)),
    ],
)
def test_image_key_is_the_tag_editors_reading(ref: str, key: tuple[str, ...]) -> None:
    assert image_key(ref) == key


def test_the_live_image_gate_knows_docker_hub_spellings() -> None:
    """Argo CD reports `nginx:1.27` for the configured `docker.io/library/nginx`: the same
    image, so the gate passes (it used to wait until the timeout)."""
    st = AppStatus(
        name="app",
        sync_status="Synced",
        sync_revision="b" * 40,
        sync_revisions=("b" * 40,),
        operation_phase="Succeeded",
        operation_message="",
        operation_revision="b" * 40,
        retry_count=0,
        health_status="Healthy",
        health_message="",
        images=("nginx:1.27",),
        conditions=(),
    )
    v = assess(
        st,
        merge_commit="b" * 40,
        image="docker.io/library/nginx:1.27",
        is_descendant=lambda rev, base: rev == base,
    )
    assert v.done, v


def test_tmp_git_repo_is_real(history: History, tmp_path: Path) -> None:
    # Guards the ancestry fixture itself: a wrong fixture would make the revision tests vacuous.
    assert history.is_descendant(history.later, history.merge)
    assert history.is_descendant(history.merge, history.base)
    assert not history.is_descendant(history.base, history.merge)
    assert not history.is_descendant(history.side, history.merge)
