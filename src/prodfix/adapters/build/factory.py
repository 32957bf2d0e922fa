"""Pick the builder the configuration names."""

from __future__ import annotations

from prodfix.adapters.build import Builder
from prodfix.adapters.git import Repo
from prodfix.config import Config


def make_builder(repo: Repo, cfg: Config) -> Builder | None:
    kind = cfg.build.type
    if kind == "command":
        from prodfix.adapters.build.command import CommandBuilder

        return CommandBuilder(repo, cfg.build.command or "", remote=cfg.remote)
    if kind == "jenkins":
        from prodfix.adapters.build.jenkins import make_jenkins_builder

        return make_jenkins_builder(repo, cfg)
    return None
