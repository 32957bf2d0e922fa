"""What the team's chat hears about a fix (`[notify]`): a wait on a person longer than
`wait-minutes`, a back-merge that conflicts, a fix that is done. Told from observed facts, so
`next --wait` and the team service say the same thing once (the notifier keeps what it said)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prodfix.adapters.notify import Notifier
    from prodfix.config import Config
    from prodfix.workflow.reconcile import Outcome

PEOPLE = ("reviewers", "you")  # who a wait can be on that a message can reach


def notifier_for(cfg: Config) -> Notifier | None:
    """The configured channels, or None when nothing is configured (nothing is imported)."""
    if not (cfg.notify.slack_webhook_url_env or cfg.notify.teams_webhook_url_env):
        return None
    from prodfix.adapters.notify import Notifier

    return Notifier.from_config(cfg.notify)


def tell(notifier: Notifier | None, outcome: Outcome, *, now: float) -> None:
    if notifier is None:
        return
    for w in outcome.waiting:
        since = w.step.since
        if w.step.who not in PEOPLE or not since:
            continue
        minutes = int((now - _seconds(since)) // 60)
        notifier.fix_waiting(outcome.fix, w.step.id, w.step.who, minutes, w.step.url, since=since)
    if outcome.done:
        notifier.fix_done(outcome.fix, [v.name for v in outcome.views])


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
