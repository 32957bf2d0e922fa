"""Notifications to Slack and Teams webhooks, against a loopback sink that records requests:
payload shapes, once per event, no retry after the request may have arrived, and the URL —
a secret — in no output and no log record, even at debug level."""

from __future__ import annotations

import logging
import socket
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from prodfix.adapters.notify import Channel, Dedupe, Notifier
from prodfix.config import parse
from prodfix.errors import ProdfixError
from tests.fakes.webhooks_sink import SLACK_PATH, TEAMS_PATH, Answer, WebhookSink

SLACK, TEAMS = Channel("Slack", "TEAM_SLACK_HOOK"), Channel("Teams", "TEAM_TEAMS_HOOK")
PR = "https://github.example/team/app/pull/7"


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    with WebhookSink() as s:
        yield s


@pytest.fixture
def warnings() -> list[str]:
    return []


def notifier(sink: WebhookSink, warnings: list[str], tmp_path: Path, **kw: object) -> Notifier:
    env = {"TEAM_SLACK_HOOK": sink.slack_url, "TEAM_TEAMS_HOOK": sink.teams_url}
    options: dict[str, object] = {
        "wait_minutes": 60,
        "dedupe": Dedupe(tmp_path / "notify.sqlite3"),
        "env": env,
        "warn": warnings.append,
        "timeout": 1.0,
        **kw,
    }
    return Notifier([SLACK, TEAMS], **options)  # type: ignore[arg-type]


def test_fix_waiting_payloads(sink: WebhookSink, warnings: list[str], tmp_path: Path) -> None:
    n = notifier(sink, warnings, tmp_path)
    sent = n.fix_waiting("npe", "merge", "a review", 75, PR, since="2026-11-29T10:00:00Z")
    assert sent == ("Slack", "Teams") and warnings == []
    (slack,) = sink.to(SLACK_PATH)
    (teams,) = sink.to(TEAMS_PATH)
    for r in (slack, teams):
        assert r.method == "POST" and r.headers["content-type"] == "application/json"
    assert slack.json == {
        "text": f"prodfix: fix npe has waited 1 h 15 min on a review\nstep: merge\nOpen it: {PR}",
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*prodfix: fix npe has waited 1 h 15 min on a review*\nstep: merge",
                },
            },
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Open it"}, "url": PR}
                ],
            },
        ],
    }
    assert teams.json == {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": "prodfix: fix npe has waited 1 h 15 min on a review",
                            "weight": "Bolder",
                            "size": "Medium",
                            "wrap": True,
                        },
                        {"type": "TextBlock", "text": "step: merge", "wrap": True},
                    ],
                    "actions": [{"type": "Action.OpenUrl", "title": "Open it", "url": PR}],
                },
            }
        ],
    }


def test_conflict_and_done_messages(sink: WebhookSink, warnings: list[str], tmp_path: Path) -> None:
    n = notifier(sink, warnings, tmp_path)
    paths = [f"src/m{i}.py" for i in range(12)]
    assert n.backmerge_conflict("delivery-2026.11", paths, "npe", None) == ("Slack", "Teams")
    assert n.fix_done("npe", ["steps-python", "deployment-infra"]) == ("Slack", "Teams")
    conflict, done = (r.json for r in sink.to(SLACK_PATH))
    assert conflict["text"] == (
        "prodfix: the back-merge of delivery-2026.11 into master has conflicts\n"
        "after fix npe\n"
        "conflicting paths: " + ", ".join(paths[:10]) + ", … and 2 more\n"
        "resolve: `prodfix backmerge --from delivery-2026.11`, fix the conflicts, "
        "`prodfix continue`"
    )
    assert len(conflict["blocks"]) == 1  # no URL, no button
    assert done["text"] == (
        "prodfix: fix npe is done\n"
        "merged, built, deployed and back-merged in steps-python, deployment-infra"
    )
    card = sink.to(TEAMS_PATH)[1].json["attachments"][0]["content"]
    assert [b["text"] for b in card["body"]] == done["text"].split("\n")
    assert "actions" not in card


def test_slack_text_is_escaped(sink: WebhookSink, warnings: list[str], tmp_path: Path) -> None:
    n = notifier(sink, warnings, tmp_path)
    n.fix_done("a<b>&c", ["r"])
    assert sink.to(SLACK_PATH)[0].json["text"].startswith("prodfix: fix a&lt;b&gt;&amp;c is")
    teams = sink.to(TEAMS_PATH)[0].json["attachments"][0]["content"]["body"][0]["text"]
    assert teams == "prodfix: fix a<b>&c is done"


def test_each_event_is_announced_once(
    sink: WebhookSink, warnings: list[str], tmp_path: Path
) -> None:
    n = notifier(sink, warnings, tmp_path)
    since = "2026-11-29T10:00:00Z"
    assert n.fix_waiting("npe", "merge", "a review", 59, PR, since=since) == ()  # too early
    assert sink.requests == []
    assert n.fix_waiting("npe", "merge", "a review", 60, PR, since=since) == ("Slack", "Teams")
    assert n.fix_waiting("npe", "merge", "a review", 90, PR, since=since) == ()
    again = notifier(sink, warnings, tmp_path)  # another process, the same PRODFIX_HOME
    assert again.fix_waiting("npe", "merge", "a review", 120, PR, since=since) == ()
    assert len(sink.requests) == 2
    # a new wait (it started later) is a new announcement; so is another step
    assert again.fix_waiting("npe", "merge", "a review", 60, PR, since="2026-11-30T08:00:00Z")
    assert again.fix_waiting("npe", "deploy", "a review", 60, PR, since=since)
    assert again.fix_done("npe", ["r"]) and not again.fix_done("npe", ["r"])
    assert len(sink.requests) == 8


def test_a_5xx_is_not_retried_and_not_posted_again(
    sink: WebhookSink, warnings: list[str], tmp_path: Path
) -> None:
    sink.answer(SLACK_PATH, Answer(503, b"rollup_error"))
    n = notifier(sink, warnings, tmp_path)
    assert n.fix_done("npe", ["r"]) == ("Teams",)
    assert len(sink.to(SLACK_PATH)) == 1
    assert warnings == [
        "Slack notification (webhook from TEAM_SLACK_HOOK) was refused: HTTP 503 rollup_error"
    ]
    assert n.fix_done("npe", ["r"]) == ()  # it may have posted: never twice
    assert len(sink.to(SLACK_PATH)) == 1


def test_no_answer_is_not_retried(sink: WebhookSink, warnings: list[str], tmp_path: Path) -> None:
    sink.answer(TEAMS_PATH, Answer(202, delay=3.0))
    n = notifier(sink, warnings, tmp_path, timeout=0.3)
    assert n.fix_done("npe", ["r"]) == ("Slack",)
    assert len(sink.to(TEAMS_PATH)) == 1
    assert warnings == [
        "Teams notification (webhook from TEAM_TEAMS_HOOK) got no answer (ReadTimeout); not retried"
    ]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_refused_connection_is_tried_again_on_the_next_pass(
    sink: WebhookSink, warnings: list[str], tmp_path: Path
) -> None:
    down = notifier(sink, warnings, tmp_path)
    down.env = {**down.env, "TEAM_SLACK_HOOK": f"http://127.0.0.1:{closed_port()}{SLACK_PATH}"}
    assert down.fix_done("npe", ["r"]) == ("Teams",)
    assert warnings == [
        "Slack notification (webhook from TEAM_SLACK_HOOK) failed: could not connect (ConnectError)"
    ]
    up = notifier(sink, warnings, tmp_path)
    assert up.fix_done("npe", ["r"]) == ("Slack",)  # Teams has it already
    assert len(sink.to(SLACK_PATH)) == 1 and len(sink.to(TEAMS_PATH)) == 1


def test_missing_or_clear_text_urls_are_warned_once(
    sink: WebhookSink, warnings: list[str], tmp_path: Path
) -> None:
    n = notifier(sink, warnings, tmp_path)
    n.env = {"TEAM_TEAMS_HOOK": "http://hooks.example.com/x?sig=CLEARTEXTSECRET"}
    for fix in ("a", "b"):
        assert n.fix_done(fix, ["r"]) == ()
    assert warnings == [
        "Slack notifications are off: TEAM_SLACK_HOOK is not set",
        "Teams notifications are off: the URL in TEAM_TEAMS_HOOK must use https:// "
        "(http:// only for 127.0.0.1, ::1 and localhost)",
    ]
    assert sink.requests == []


def test_the_url_is_in_no_output_and_no_log_record(
    sink: WebhookSink,
    warnings: list[str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """As with --debug: every logger at DEBUG. The error body echoes the URL, as some
    proxies do; the warnings go through prodfix's own warning line (stderr)."""
    caplog.set_level(logging.DEBUG)
    secrets = ("sLaCkSeCrEt0123456789abcd", "tEaMsSeCrEt-0123456789")
    sink.answer(SLACK_PATH, Answer(200), Answer(500, f"no route to {SLACK_PATH}".encode()))
    sink.answer(TEAMS_PATH, Answer(202), Answer(202, delay=3.0))
    n = notifier(sink, warnings, tmp_path, warn=None, timeout=0.3)
    n.fix_done("ok", ["r"])
    n.fix_done("failing", ["r"])
    n.env = {**n.env, "TEAM_SLACK_HOOK": f"http://127.0.0.1:{closed_port()}{SLACK_PATH}"}
    n.fix_done("refused", ["r"])
    out, err = capsys.readouterr()
    assert "was refused: HTTP 500 no route to <the URL in TEAM_SLACK_HOOK>" in err
    texts = [out, err, caplog.text]
    texts += [r.getMessage() for r in caplog.records]
    texts += [repr(r.args) for r in caplog.records]
    assert any("<the URL in TEAM_SLACK_HOOK>" in r.getMessage() for r in caplog.records), (
        "httpx logged the requests: the redaction below is not vacuous"
    )
    for secret in secrets:
        assert not [t for t in texts if secret in t]
    assert len(sink.requests) == 5


def test_notify_config() -> None:
    text = (
        '[notify]\nslack-webhook-url-env = "TEAM_SLACK_HOOK"\n'
        'teams-webhook-url-env = "TEAM_TEAMS_HOOK"\nwait-minutes = 30\n'
    )
    values = parse(text, ".prodfix.toml")
    assert tomllib.loads(text)["notify"]["wait-minutes"] == values["notify.wait-minutes"] == 30

    from prodfix.config import Config

    n = Notifier.from_config(Config.from_values(values).notify, env={})
    assert n.channels == (SLACK, TEAMS) and n.wait_minutes == 30
    assert Notifier.from_config(Config.from_values(parse("", "x")).notify, env={}).channels == ()
    url = "https://hooks.slack.com/services/T0/B0/PASTEDSECRET"
    with pytest.raises(ProdfixError) as info:
        parse(f'[notify]\nslack-webhook-url-env = "{url}"\n', ".prodfix.toml")
    assert info.value.message == (
        ".prodfix.toml: key 'notify.slack-webhook-url-env' must name an environment variable "
        "(the URL itself never goes in the file)"
    )
    assert "PASTEDSECRET" not in info.value.message + info.value.hint
