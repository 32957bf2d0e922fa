"""Worlds copied from a template are the worlds seeding would make: same refs and SHAs, same
clock afterwards, and every clone's remote is the copy's, not the template's."""

from __future__ import annotations

from pathlib import Path

from tests.gitfix import Sandbox
from tests.scenario import _seed_service, service_world


def refs(sb: Sandbox, repo: Path) -> str:
    return Sandbox(sb.root).g(  # reading does not move the clock
        repo, "for-each-ref", "--format=%(objectname) %(refname)"
    )


def test_a_copied_world_is_the_seeded_world(tmp_path: Path) -> None:
    fresh = Sandbox(tmp_path / "fresh")
    _seed_service(fresh, deploy=True, conflict_on_master=False, toml=None, reflogs=False)
    seeded_at = fresh.clock.now
    copies = [Sandbox(tmp_path / name) for name in ("one", "two")]
    worlds = [service_world(sb, deploy=True) for sb in copies]  # the second is a copy
    for sb, w in zip(copies, worlds, strict=True):
        assert sb.clock.now == seeded_at
        for name in ("origin.git", "dep/origin.git", "work", "seed", "deploy"):
            assert refs(sb, sb.root / name) == refs(fresh, fresh.root / name), name
        assert sb.g(w.work, "remote", "get-url", "origin") == str(sb.origin)
        assert sb.g(w.clones["deploy"], "remote", "get-url", "origin") == str(w.bares["deploy"])
        assert sb.g(w.work, "status", "--porcelain") == ""
        sb.commit(w.work, "after", {"x.txt": "x\n"})
    assert refs(copies[0], worlds[0].work) == refs(copies[1], worlds[1].work)
    assert "refs/heads/master" in refs(copies[0], copies[0].origin)
