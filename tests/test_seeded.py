"""The test helpers of tests/gitfix.py. Worlds copied from a template are the worlds seeding
would make: same refs and SHAs, same clock afterwards, and every clone's remote is the copy's,
not the template's. Refs read from git's files are what `git for-each-ref` lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gitfix import Sandbox, read_refs
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


def _for_each_ref(repo: Path, prefix: str) -> dict[str, str]:
    out = Sandbox(repo).g(repo, "for-each-ref", "--format=%(refname) %(objectname)", prefix)
    return dict(line.split(" ", 1) for line in out.splitlines())


@pytest.mark.parametrize("prefix", ["refs/", "refs/heads/", "refs/heads", "refs/tags/", "refs/x"])
def test_refs_read_from_files_are_what_for_each_ref_lists(tmp_path: Path, prefix: str) -> None:
    """Packed refs, loose refs over packed ones, a deleted packed ref, a symbolic ref (and a
    dangling one, which for-each-ref skips), an annotated tag (its own object, not the commit),
    nested names; in a bare origin and in a clone's .git."""
    sb = Sandbox(tmp_path)
    sb.init_origin()
    w = sb.clone()
    first = sb.commit(w, "one")
    sb.g(w, "branch", "a/b/c")
    sb.g(w, "branch", "gone")
    sb.g(w, "tag", "-a", "-m", "v1", "v1")
    sb.push(w, "--all")
    sb.push(w, "--tags")
    for repo in (sb.origin, w):
        sb.g(repo, "pack-refs", "--all")
    sb.commit(w, "two")  # master: loose over packed
    sb.g(w, "branch", "-D", "gone")  # removed from packed-refs
    sb.g(w, "symbolic-ref", "refs/heads/alias", "refs/heads/a/b/c")
    sb.g(w, "symbolic-ref", "refs/heads/dangling", "refs/heads/nowhere")
    sb.push(w, "master", "refs/heads/a/b/c:refs/heads/loose/x")
    sb.g(w, "fetch", "-q", "origin")
    for git_dir, cwd in ((sb.origin, sb.origin), (w / ".git", w)):
        expected = _for_each_ref(cwd, prefix)
        assert read_refs(git_dir, prefix) == expected, git_dir
        assert list(read_refs(git_dir, prefix) or {}) == list(expected)  # in refname order
    everything = read_refs(w / ".git") or {}
    assert everything["refs/heads/alias"] == first
    assert everything["refs/tags/v1"] != first  # the tag object
    assert "refs/heads/dangling" not in everything and "refs/heads/gone" not in everything
    assert read_refs(w) is None  # a work tree: its .git is where refs are
