"""What an operation may touch: the repository, its config, the store, the adapters, and how it
talks (a reporter) and tells time (a clock).

Adapters are built lazily from the configuration so a command that never talks to the forge
never imports httpx (start-up time) nor needs a token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from prodfix.adapters.git import Repo
from prodfix.adapters.store import Store
from prodfix.clock import Clock
from prodfix.config import Config
from prodfix.output import Reporter

if TYPE_CHECKING:
    from prodfix.adapters.build import Builder
    from prodfix.adapters.forge import Forge


@dataclass
class Ctx:
    repo: Repo
    cfg: Config
    store: Store
    fix: str | None = None
    dry_run: bool = False
    out: Reporter = field(default_factory=Reporter)
    clock: Clock = field(default_factory=Clock)
    vars: dict[str, Any] = field(default_factory=dict)  # values ops hand to later ops

    @property
    def remote(self) -> str:
        return self.cfg.remote

    @property
    def path(self) -> str:
        return str(self.repo.path)

    def tracking(self, branch: str) -> str:
        """The remote-tracking ref of a branch: `refs/remotes/origin/<branch>`."""
        return f"refs/remotes/{self.remote}/{branch}"

    @cached_property
    def forge(self) -> Forge:
        from prodfix.adapters.forges import make_forge

        return make_forge(self.repo, self.cfg)

    @cached_property
    def builder(self) -> Builder | None:
        from prodfix.adapters.build.factory import make_builder

        return make_builder(self.repo, self.cfg)

    def with_fix(self, fix: str | None) -> Ctx:
        """The same repository for another fix, sharing the adapters already built (and the
        embedded forge's snapshot: one read of the remote per repository, not per fix)."""
        c = Ctx(self.repo, self.cfg, self.store, fix, self.dry_run, self.out, self.clock)
        for name in ("forge", "builder"):
            if name in self.__dict__:
                c.__dict__[name] = self.__dict__[name]
        return c

    def for_repo(self, repo: Repo, cfg: Config) -> Ctx:
        """Another repository (the deploy repository) with this context's fix, store, reporter
        and clock."""
        return Ctx(repo, cfg, self.store, self.fix, self.dry_run, self.out, self.clock)
