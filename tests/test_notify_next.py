"""`next` tells the team's chat (`[notify]`) from observed facts: a PR waiting on reviewers
past `wait-minutes` (once, however often `next` looks), a back-merge that conflicts, and the fix
being done. The webhook URL comes from the environment and never shows in any output."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.webhooks_sink import WebhookSink
from tests.gitfix import Sandbox
from tests.scenario import fix_committed, service_toml, service_world

NOTIFY = '\n[notify]\nslack-webhook-url-env = "TEAM_SLACK"\nwait-minutes = 30\n'


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookSink]:
    with WebhookSink() as s:
        monkeypatch.setenv("TEAM_SLACK", s.slack_url)
        yield s


def texts(sink: WebhookSink) -> list[str]:
    return [str(r.json.get("text", "")) for r in sink.requests]


def test_a_long_review_wait_is_told_once(
    sandbox: Sandbox, sink: WebhookSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = service_world(sandbox, toml=service_toml() + NOTIFY)
    fix_committed(w)
    w.ok("test")
    w.ok("propose")
    r = w.ok("next")  # the PR just opened: nobody has waited long yet
    assert sink.requests == [] and "waiting at merge" in r.out
    monkeypatch.setenv("PRODFIX_NOW", str(4_102_444_800))  # years later, still unreviewed
    for _ in range(3):
        r = w.ok("next")
        assert sink.slack_url not in r.out + r.err
    (told,) = texts(sink)
    assert "npe" in told and "merge" in told and "reviewers" in told


def test_a_conflicting_backmerge_and_a_done_fix_are_told(
    sandbox: Sandbox, sink: WebhookSink
) -> None:
    w = service_world(sandbox, toml=service_toml() + NOTIFY, conflict_on_master=True)
    fix_committed(w)
    w.ok("test")
    w.ok("propose")
    w.ok("pr", "approve", "1")
    r = w.run("next", "--merge")  # merges, builds, then the back-merge conflicts
    assert r.code == 1 and "back-merge conflicts in: app.py" in r.err
    (conflict,) = texts(sink)
    assert "delivery" in conflict and "app.py" in conflict
    # Resolved keeping the fix's line (a changed line would fail verification as a lost fix).
    (w.work / "app.py").write_text("def answer():\n    return 42\n")
    w.sb.g(w.work, "add", "app.py")
    w.ok("continue")
    w.ok("pr", "approve", "2")
    r = w.ok("next", "--merge")
    assert "fix npe is done" in r.out
    assert len(texts(sink)) == 2 and "npe" in texts(sink)[1]
    assert all(sink.slack_url not in t for t in (r.out, r.err))
