"""The embedded git forge (`forge.type = "git"`): pull requests kept inside the remote itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prodfix.adapters.forge.embedded.forge import EmbeddedForge

if TYPE_CHECKING:
    from prodfix.adapters.git import Repo
    from prodfix.config import Config

__all__ = ["EmbeddedForge", "make"]


def make(repo: Repo, cfg: Config) -> EmbeddedForge:
    return EmbeddedForge(repo, remote=cfg.remote, approvals_required=cfg.forge.approvals)
