"""GitHub and GitHub Enterprise Server as a forge (`forge.type = "github"`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prodfix.adapters.diagnostics import Check
    from prodfix.adapters.forge.github.forge import GitHubForge
    from prodfix.adapters.git import Repo
    from prodfix.config import Config

__all__ = ["doctor_checks", "make"]


def make(repo: Repo, cfg: Config) -> GitHubForge:
    from prodfix.adapters.forge.github.config import make_github_forge

    return make_github_forge(repo, cfg)


def doctor_checks(where: str, repo: Repo, cfg: Config) -> Iterator[Check]:
    from prodfix.adapters.forge.github.doctor import doctor_checks as checks

    yield from checks(where, repo, cfg)
