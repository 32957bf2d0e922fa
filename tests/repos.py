"""Scenario repositories shared by the workflow tests (real git, fixed dates)."""

from __future__ import annotations

from pathlib import Path

from tests.gitfix import Sandbox, seeded


def service_repo(sb: Sandbox, deliveries: tuple[str, ...] = ("delivery",)) -> Path:
    """origin with master and the given delivery branches cut from it, master ahead; a clone."""
    seeded(sb, ("service_repo", deliveries), lambda s: _seed(s, deliveries))
    return sb.root / "work"


def _seed(sb: Sandbox, deliveries: tuple[str, ...]) -> None:
    sb.init_origin()
    seed = sb.clone("seed")
    sb.commit(seed, "initial", {"app.py": "def answer():\n    return 41\n", "README": "svc\n"})
    sb.commit(seed, "feature A", {"feature_a.py": "A = 1\n"})
    sb.push(seed, "master")
    for d in deliveries:
        sb.g(seed, "branch", d)
        sb.push(seed, d)
    sb.commit(seed, "master only: feature B", {"feature_b.py": "B = 2\n"})
    sb.push(seed, "master")
    sb.clone("work")
