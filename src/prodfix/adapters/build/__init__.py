"""The build interface: delivery builds that publish an image, and CI runs of a fix branch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from prodfix.types import BranchName, ImageTag, Sha


class BuildState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILURE = "failure"
    ABORTED = "aborted"  # cancelled in the queue or stopped

    @property
    def finished(self) -> bool:
        return self in (BuildState.SUCCESS, BuildState.FAILURE, BuildState.ABORTED)


@dataclass(frozen=True)
class Build:
    id: str  # what the store remembers: a Jenkins build URL, a queue URL, a local run id
    state: BuildState
    sha: Sha | None = None
    number: int | None = None
    url: str | None = None
    image_tag: ImageTag | None = None
    console_tail: str = ""
    started_at: str | None = None  # ISO 8601, when the build system says


class Builder(Protocol):
    @property
    def name(self) -> str: ...

    def delivery_build(self, delivery: BranchName, sha: Sha) -> Build | None:
        """The build of `delivery` at `sha` (or a later build containing it), if any exists."""
        ...

    def trigger_delivery(self, delivery: BranchName, sha: Sha) -> Build: ...

    def poll(self, build: Build) -> Build: ...

    def built_commit(self, tag: ImageTag, deliveries: Sequence[BranchName] = ()) -> Sha | None:
        """The delivery commit the image `tag` was built from, if this build system knows it
        (the records of the last fetch, or the CI's build data)."""
        ...
