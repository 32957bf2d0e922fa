"""The messages prodfix sends to a team channel, and their Slack and Teams payloads.

Slack: an incoming webhook takes `{"text": …, "blocks": […]}`, with `&`, `<` and `>` escaped in
text (api.slack.com/messaging/webhooks; "Formatting text for app surfaces"). Microsoft Teams:
a Workflows webhook ("When a Teams webhook request is received") takes a `message` whose one
attachment is an Adaptive Card (learn.microsoft.com, "Create and send messages" with the
Workflows app; adaptivecards.io for the card schema).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MAX_PATHS = 10  # conflicting paths listed in a message; the rest is counted
CARD_VERSION = "1.4"  # Adaptive Card schema version Teams renders on every client


@dataclass(frozen=True)
class Message:
    title: str
    lines: tuple[str, ...]
    link: tuple[str, str] | None = None  # (label, URL)

    @property
    def text(self) -> str:
        """Plain text: the title, the lines, the link."""
        parts = [self.title, *self.lines]
        if self.link:
            parts.append(f"{self.link[0]}: {self.link[1]}")
        return "\n".join(parts)


def waiting(fix: str, step: str, who: str, minutes: int, url: str | None) -> Message:
    hours, mins = divmod(minutes, 60)
    waited = f"{hours} h {mins} min" if hours else f"{mins} min"
    return Message(
        f"prodfix: fix {fix} has waited {waited} on {who}",
        (f"step: {step}",),
        ("Open it", url) if url else None,
    )


def conflict(delivery: str, paths: Sequence[str], fix: str | None, url: str | None) -> Message:
    shown = list(paths[:MAX_PATHS])
    if len(paths) > MAX_PATHS:
        shown.append(f"… and {len(paths) - MAX_PATHS} more")
    lines = [f"conflicting paths: {', '.join(shown) or '(none named)'}"]
    if fix:
        lines.insert(0, f"after fix {fix}")
    lines.append(
        f"resolve: `prodfix backmerge --from {delivery}`, fix the conflicts, `prodfix continue`"
    )
    return Message(
        f"prodfix: the back-merge of {delivery} into master has conflicts",
        tuple(lines),
        ("Open it", url) if url else None,
    )


def done(fix: str, repos: Sequence[str]) -> Message:
    where = ", ".join(repos) or "(no repository named)"
    return Message(
        f"prodfix: fix {fix} is done",
        (f"merged, built, deployed and back-merged in {where}",),
    )


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(m: Message) -> dict[str, Any]:
    body = "\n".join([f"*{_slack_escape(m.title)}*", *(_slack_escape(x) for x in m.lines)])
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": body}}]
    if m.link:
        label, url = m.link
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}
                ],
            }
        )
    return {"text": _slack_escape(m.text), "blocks": blocks}


def teams(m: Message) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": m.title, "weight": "Bolder", "size": "Medium", "wrap": True},
        *({"type": "TextBlock", "text": line, "wrap": True} for line in m.lines),
    ]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
    }
    if m.link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": m.link[0], "url": m.link[1]}]
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }
