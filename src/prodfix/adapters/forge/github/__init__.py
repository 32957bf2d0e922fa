"""GitHub and GitHub Enterprise Server as a forge (`forge.type = "github"`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prodfix.adapters.forge.github.forge import GitHubForge
    from prodfix.adapters.git import Repo
    from prodfix.config import Config

__all__ = ["make"]


def make(repo: Repo, cfg: Config) -> GitHubForge:
    from prodfix.adapters.forge.github.config import make_github_forge

    return make_github_forge(repo, cfg)
