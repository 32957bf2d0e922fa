"""The forge interface the workflow depends on; implementations: embedded (git), github."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from prodfix.errors import Exit, ProdfixError
from prodfix.types import BranchName, PrNumber, Sha


class PrState(StrEnum):
    OPEN = "open"
    MERGED = "merged"
    CLOSED = "closed"


class MergeMethod(StrEnum):
    MERGE = "merge"
    SQUASH = "squash"
    REBASE = "rebase"


@dataclass(frozen=True)
class Approval:
    who: str
    when: str  # ISO 8601


@dataclass(frozen=True)
class PullRequest:
    number: PrNumber
    title: str
    head: BranchName
    base: BranchName
    head_sha: Sha
    state: PrState
    url: str
    body: str = ""
    draft: bool = False
    merge_commit: Sha | None = None
    approvals: tuple[Approval, ...] = ()
    mergeable: bool | None = None  # None: the forge is still computing it
    # Why it cannot be merged now, in words a person acts on: "1 approval required",
    # "unresolved conversations: 2", "required check pending: ci/jenkins". Empty = mergeable.
    blockers: tuple[str, ...] = ()
    labels: tuple[str, ...] = field(default=())
    created_at: str | None = None  # ISO 8601, when the forge says
    author: str = ""  # who opened it: a login, or "Name <email>" on the embedded forge


class MergeBlocked(ProdfixError):
    """The forge refused the merge (reviews, checks, conversations, conflicts)."""

    def __init__(self, number: int, reasons: list[str], hint: str = "") -> None:
        super().__init__(
            f"PR #{number} cannot be merged yet: {'; '.join(reasons) or 'blocked'}",
            hint=hint or f"resolve that, then run `prodfix pr merge {number}` again",
            code=Exit.FAILED,
        )
        self.reasons = reasons


class HeadMoved(ProdfixError):
    """The PR head is not the SHA we reviewed/planned on: re-plan from fresh facts."""

    def __init__(self, number: int, expected: str, actual: str) -> None:
        super().__init__(
            f"PR #{number} head moved from {expected[:7]} to {actual[:7]} while prodfix was merging",
            hint="run the command again: prodfix re-reads the PR and plans from there",
            code=Exit.SERVICE,
        )


class Forge(Protocol):
    """Small on purpose (ghstack's ~80-line interface): everything the workflow asks a forge."""

    @property
    def name(self) -> str: ...  # "embedded git forge", "GitHub (ghe.example.com)"

    def find_pr(
        self, head: BranchName, base: BranchName, *, open_only: bool = True
    ) -> PullRequest | None: ...

    def create_pr(
        self, head: BranchName, base: BranchName, title: str, body: str, *, draft: bool = False
    ) -> PullRequest: ...

    def get_pr(self, number: PrNumber) -> PullRequest: ...

    def list_prs(self, *, state: str = "open") -> list[PullRequest]: ...  # open | all

    def merged_prs(self, base: BranchName, *, since: str | None = None) -> list[PullRequest]:
        """PRs merged into `base` (at least those merged at or after `since`, ISO 8601, when
        given): which PR brought a commit of `base` in is the one whose merge commit it is."""
        ...

    def approve(self, number: PrNumber, body: str = "") -> PullRequest: ...

    def merge(
        self,
        number: PrNumber,
        *,
        method: MergeMethod,
        expected_head: Sha,
        message: str | None = None,
    ) -> PullRequest: ...  # raises MergeBlocked, HeadMoved

    def close(self, number: PrNumber) -> PullRequest: ...

    def comment(self, number: PrNumber, body: str) -> None: ...

    def compare_url(self, base: BranchName, head: BranchName) -> str | None: ...

    # -- capabilities the workflow asks for, so that no caller tests the forge's type ---------
    def prime(self) -> Mapping[str, Sha] | None:
        """Read the remote now (branches and PRs) and return every ref read, when this forge's
        read *is* a fetch of the remote (the embedded forge); None when the caller must fetch."""
        ...

    def has_credentials(self) -> bool:
        """Whether this forge can act (open and merge PRs) with the credentials found."""
        ...

    def credentials_problem(self) -> tuple[str, str] | None:
        """Without credentials: (what was looked for, what to set), for the user."""
        ...

    def backmerge_warnings(self) -> list[tuple[str, str]]:
        """(warning, what to do) about this repository's settings that would keep a back-merge
        from being merged as it must be: a true merge commit."""
        ...
