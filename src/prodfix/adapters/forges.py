"""The forges prodfix knows: name → the package that builds one (imported only when used).

Adding a forge is one package under `adapters/forge/<name>/` whose `make(repo, cfg)` returns a
`Forge` (and whose `doctor_checks` adds its rows to `prodfix doctor`), plus one line here;
configuration validation reads this table. It lives outside the `forge` package so that reading
it (every command validates its config) does not import the forge model.
"""

from __future__ import annotations

TYPE_CHECKING = False  # no typing at run time: every command reads this table
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from prodfix.adapters.diagnostics import Check
    from prodfix.adapters.forge import Forge
    from prodfix.adapters.git import Repo
    from prodfix.config import Config

FORGES: dict[str, str] = {
    "git": "prodfix.adapters.forge.embedded",
    "github": "prodfix.adapters.forge.github",
}


def make_forge(repo: Repo, cfg: Config) -> Forge:
    module = _package(cfg.forge.type)
    forge: Forge = module.make(repo, cfg)
    return forge


def doctor_checks(where: str, repo: Repo, cfg: Config) -> Iterator[Check]:
    """The forge's own rows of `prodfix doctor` (credentials, repository settings)."""
    module = _package(cfg.forge.type)
    checks: Iterator[Check] = module.doctor_checks(where, repo, cfg)
    return checks


def _package(forge: str) -> Any:
    import importlib  # here: `check` reads FORGES and never builds a forge

    return importlib.import_module(FORGES[forge])
