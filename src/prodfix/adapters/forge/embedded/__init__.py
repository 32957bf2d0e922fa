"""The embedded git forge (`forge.type = "git"`): pull requests kept inside the remote itself."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prodfix.adapters.forge.embedded.forge import EmbeddedForge

if TYPE_CHECKING:
    from prodfix.adapters.diagnostics import Check
    from prodfix.adapters.git import Repo
    from prodfix.config import Config

__all__ = ["EmbeddedForge", "doctor_checks", "make"]


def make(repo: Repo, cfg: Config) -> EmbeddedForge:
    return EmbeddedForge(repo, remote=cfg.remote, approvals_required=cfg.forge.approvals)


def doctor_checks(where: str, repo: Repo, cfg: Config) -> Iterator[Check]:
    from prodfix.adapters.diagnostics import OK, Check

    yield Check(where, "forge", OK, f"embedded (pull requests kept as refs in {cfg.remote})")
