"""Pick the forge the configuration names (the embedded one by default)."""

from __future__ import annotations

from prodfix.adapters.forge import Forge
from prodfix.adapters.git import Repo
from prodfix.config import Config


def make_forge(repo: Repo, cfg: Config) -> Forge:
    if cfg["forge.type"] == "github":
        from prodfix.adapters.forge.github_config import make_github_forge

        return make_github_forge(repo, cfg)
    from prodfix.adapters.forge.embedded import EmbeddedForge

    return EmbeddedForge(repo, remote=cfg["remote"], approvals_required=cfg["forge.approvals"])
