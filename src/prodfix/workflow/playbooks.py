"""The two flows of the strategy as data: step ids and their order (docs/workflow.md) — and
the sync's, observed the same way (docs/sync.md)."""

from __future__ import annotations

from enum import StrEnum

PLAYBOOKS: dict[str, tuple[str, ...]] = {
    # Python step code, 7 steps: build and deploy come before the back-merge PR.
    "python": ("branch", "test", "propose", "merge", "build", "deploy", "backmerge"),
    # Go code, 10 steps: the back-merge PR (7) comes before the deployment-infra bump (8-10).
    "go": ("branch", "test", "propose", "merge", "build", "backmerge", "deploy"),
    # The planned sync of the mainline into a delivery branch (kind "sync"): its head is
    # prepared, tested on the team's side, proposed, merged, built and deployed like a fix;
    # the back-merge is always skipped (its content is the mainline's already).
    "sync": ("prepare", "test", "propose", "merge", "build", "deploy", "backmerge"),
}


class State(StrEnum):
    DONE = "done"
    READY = "ready"  # prodfix can do it now
    WAITING = "waiting"  # on a person or an external system
    PENDING = "pending"  # an earlier step is not done
    FAILED = "failed"
    SKIPPED = "skipped"


FINISHED = (State.DONE, State.SKIPPED)


def steps_for(kind: str) -> tuple[str, ...]:
    return PLAYBOOKS.get(kind, PLAYBOOKS["python"])
