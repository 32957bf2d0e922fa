"""What prodfix remembers about a repository to start fewer git processes: answers keyed by
object ids (kept across commands, per repository) and ref reads within one look (dropped when
prodfix itself runs a git command that may move a ref)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prodfix.adapters import gitrun, shacache
from prodfix.adapters.forge.embedded.merge import find_landing
from prodfix.adapters.git import Repo
from prodfix.adapters.gitlook import covered
from tests.gitfix import Sandbox
from tests.scenario import fix_proposed_and_approved, fixed_dates, service_world


@pytest.fixture(autouse=True)
def _fresh_shared_caches() -> None:
    shacache.save_shared()
    shacache._shared.clear()  # each test starts with nothing remembered in memory


def spawns(fn: object) -> tuple[object, int]:
    before = gitrun.spawned
    result = fn()  # type: ignore[operator]
    return result, gitrun.spawned - before


def history(sb: Sandbox) -> tuple[Path, str, str, str]:
    """A clone with master: base ← a, and a branch `side` forked at base: base ← b."""
    sb.init_origin()
    clone = sb.clone("c")
    base = sb.commit(clone, "base", {"f.txt": "0\n"})
    a = sb.commit(clone, "a", {"f.txt": "a\n"})
    sb.g(clone, "switch", "-q", "-c", "side", base)
    b = sb.commit(clone, "b", {"g.txt": "b\n"})
    sb.g(clone, "switch", "-q", "master")
    return clone, base, a, b


def test_ancestry_between_commits_is_asked_once_per_repository(sandbox: Sandbox) -> None:
    clone, base, a, b = history(sandbox)
    repo = Repo(clone)
    assert spawns(lambda: repo.is_ancestor(base, a)) == (True, 1)
    assert spawns(lambda: repo.is_ancestor(base, a)) == (True, 0)
    assert spawns(lambda: repo.is_ancestor(a, b)) == (False, 1)
    assert spawns(lambda: Repo(clone).is_ancestor(a, b)) == (False, 0)  # another command
    assert spawns(lambda: repo.merge_base(a, b)) == (base, 1)
    assert spawns(lambda: repo.merge_base(a, b)) == (base, 0)
    assert spawns(lambda: repo.parents(a)) == ([base], 1)
    assert spawns(lambda: repo.parents(a)) == ([base], 0)
    # Saved for the next process, in the repository's own file.
    shacache.save_shared()
    shacache._shared.clear()
    assert spawns(lambda: Repo(clone).is_ancestor(base, a)) == (True, 0)


def test_answers_about_refs_are_never_remembered(sandbox: Sandbox) -> None:
    clone, _, _, b = history(sandbox)
    repo = Repo(clone)
    assert repo.is_ancestor(b, "master") is False
    sandbox.g(clone, "merge", "-q", "--no-edit", "side")
    assert spawns(lambda: repo.is_ancestor(b, "master")) == (True, 1)
    assert spawns(lambda: repo.resolve("side")) == (b, 1)
    assert spawns(lambda: repo.resolve("side")) == (b, 1)


def test_one_repository_never_answers_for_another(sandbox: Sandbox) -> None:
    clone, base, a, _ = history(sandbox)
    other = sandbox.root / "other"
    sandbox.g(sandbox.root, "clone", "-q", str(clone), str(other))
    assert Repo(clone).is_ancestor(base, a) is True
    # A replace ref makes `a` a root commit in the other clone only: ancestry differs there.
    root = sandbox.g(other, "commit-tree", f"{a}^{{tree}}", "-m", "a without parents")
    sandbox.g(other, "replace", a, root)
    assert spawns(lambda: Repo(other).is_ancestor(base, a)) == (False, 1)
    assert spawns(lambda: Repo(clone).is_ancestor(base, a)) == (True, 0)


def test_a_landing_between_two_commits_is_found_once(sandbox: Sandbox) -> None:
    clone, _, _, b = history(sandbox)
    sandbox.g(clone, "merge", "-q", "--no-edit", "side")
    tip = sandbox.g(clone, "rev-parse", "HEAD")
    repo = Repo(clone)
    first, n = spawns(lambda: find_landing(repo, tip, b, base_sha=tip))
    assert first == tip and n > 0
    assert spawns(lambda: find_landing(Repo(clone), tip, b, base_sha=tip)) == (tip, 0)
    # Not remembered for a ref name: the branch may move.
    assert spawns(lambda: find_landing(repo, "master", b))[1] > 0


def test_refs_read_in_a_look_are_served_until_prodfix_moves_a_ref(sandbox: Sandbox) -> None:
    clone, base, a, b = history(sandbox)
    repo = Repo(clone)
    with repo.looking():
        everything, n = spawns(lambda: repo.refs("refs/heads/", "refs/remotes/origin"))
        assert n == 1 and everything["refs/heads/side"] == b
        assert spawns(lambda: repo.refs("refs/heads/side")) == ({"refs/heads/side": b}, 0)
        assert spawns(lambda: repo.refs("refs/tags/")) == ({}, 1)  # not covered: asked
        repo.git("update-ref", "refs/heads/new", a)  # prodfix writes: what it read is stale
        assert spawns(lambda: repo.refs("refs/heads/new")) == ({"refs/heads/new": a}, 1)
        assert spawns(lambda: repo.refs("refs/heads/new")) == ({"refs/heads/new": a}, 0)
        repo.is_ancestor(base, a)  # reads keep what was read
        assert spawns(lambda: repo.refs("refs/heads/new"))[1] == 0
    # Outside a look every read asks git: another process may have moved a ref.
    sandbox.g(clone, "update-ref", "refs/heads/new", b)
    assert spawns(lambda: repo.refs("refs/heads/new")) == ({"refs/heads/new": b}, 1)
    assert spawns(lambda: repo.refs("refs/heads/new")) == ({"refs/heads/new": b}, 1)


def test_a_branch_read_in_a_look_resolves_without_git(sandbox: Sandbox) -> None:
    clone, base, a, b = history(sandbox)
    repo = Repo(clone)
    with repo.looking():
        repo.refs("refs/heads/")
        assert spawns(lambda: repo.resolve("refs/heads/side")) == (b, 0)
        assert spawns(lambda: repo.resolve("refs/heads/gone")) == (None, 0)  # read: absent
        assert spawns(lambda: repo.resolve("refs/heads/side~1")) == (base, 1)  # a revision
        assert spawns(lambda: repo.resolve(b)) == (b, 0)  # a branch's commit is here
        assert spawns(lambda: repo.resolve("refs/tags/v1")) == (None, 1)  # not a branch: asked
        assert spawns(lambda: repo.resolve("refs/remotes/origin/master"))[1] == 1  # not read
        repo.git("update-ref", "refs/heads/side", a)  # prodfix moves a ref: read again
        assert spawns(lambda: repo.resolve("refs/heads/side")) == (a, 1)
    sandbox.g(clone, "update-ref", "refs/heads/side", b)  # outside a look: always asked
    assert spawns(lambda: repo.resolve("refs/heads/side")) == (b, 1)


def test_covered_patterns_follow_for_each_ref_matching() -> None:
    found = {"refs/heads/a": "1", "refs/heads/a/b": "2", "refs/heads/ab": "3", "refs/x": "4"}
    read = ("refs/heads/",)
    assert covered(("refs/heads/a",), read, found) == {"refs/heads/a": "1", "refs/heads/a/b": "2"}
    assert covered(("refs/heads/a/",), read, found) == {"refs/heads/a": "1", "refs/heads/a/b": "2"}
    assert covered(("refs/heads",), read, found) == {
        "refs/heads/a": "1",
        "refs/heads/a/b": "2",
        "refs/heads/ab": "3",
    }
    assert covered(("refs/x",), read, found) is None  # outside what was read
    assert covered(("refs/heads/*",), read, found) is None  # a glob: ask git
    assert covered((), read, found) is None
    assert covered(("refs/x",), (), found) == {"refs/x": "4"}  # everything was read


def test_status_of_a_seeded_world_starts_few_git_processes(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A merged, built fix whose deploy PR waits for review: `status` reads the service (one
    fetch), the deploy repository (one fetch for its branches and PRs) once, not once per fix;
    warm, every answer about commits comes from the SHA cache. Pinned, so a regression shows."""
    from prodfix.adapters.paths import home

    fixed_dates(monkeypatch)
    w = service_world(sandbox, deploy=True)
    fix_proposed_and_approved(w)
    w.ok("next", "--merge")  # merged and built; the deploy PR waits for a reviewer
    doc = json.loads(w.ok("status", "--json").out)
    steps = {s["id"]: s["state"] for s in doc["fixes"][0]["repos"][0]["steps"]}
    assert steps == {
        "branch": "done",
        "test": "done",
        "propose": "done",
        "merge": "done",
        "build": "done",
        "deploy": "waiting",
        "backmerge": "pending",
    }

    shown: list[str] = []

    def status() -> int:
        before = gitrun.spawned
        r = w.run("status", "--json")
        assert r.code == 0
        shown.append(r.out)
        return gitrun.spawned - before

    shacache._shared.clear()
    for f in (home() / "cache").glob("*.json"):
        f.unlink()  # cold: nothing remembered about commits
    cold = status()
    warm = status()  # the DCs' pins come from the cache too: no scratch tree of the deploy repo
    assert (cold, warm) == (20, 6)
    assert shown[0] == shown[1]


def test_the_deploy_repository_is_read_once_per_look(sandbox: Sandbox, tmp_path: Path) -> None:
    """Within a look, every `deploy_ctx` is the same clone with the same config (so its ops
    reuse the look's fetch); a new look locates it and reads its config again: a change pushed
    to the deploy repository's config between two looks is seen by the second."""
    from prodfix import config
    from prodfix.adapters.store import Store
    from prodfix.workflow.context import Ctx
    from prodfix.workflow.deploy_repo import deploy_ctx
    from prodfix.workflow.observe import observe_repository

    sandbox.init_origin()
    work = sandbox.clone()
    sandbox.commit(work, "deploy config", {".prodfix.toml": 'mainline = "master"\n'})
    sandbox.push(work, "master")
    url = f"file://{sandbox.origin}"
    service = tmp_path / "service"
    sandbox.g(tmp_path, "clone", "-q", str(sandbox.origin), str(service))
    (service / ".prodfix.toml").write_text(
        f'kind = "python"\n[deploy]\nrepo = "{url}"\ndcs = ["us1"]\n'
    )
    ctx = Ctx(repo=Repo(service), cfg=config.load(service), store=Store(tmp_path / "db"))
    first, again = deploy_ctx(ctx), deploy_ctx(ctx)
    assert first.repo is again.repo and first.cfg is again.cfg
    assert first.cfg.delivery == "delivery*"

    sandbox.commit(
        work,
        "deploy config: delivery branches",
        {".prodfix.toml": 'mainline = "master"\ndelivery = "release*"\n'},
    )
    sandbox.push(work, "master")
    first.repo.fetch("origin")
    assert deploy_ctx(ctx).cfg is first.cfg  # the same look: read once
    observe_repository(ctx)  # a new look
    later = deploy_ctx(ctx)
    assert later.repo is not first.repo and later.repo.path == first.repo.path
    assert later.cfg.delivery == "release*"


def test_a_deploying_next_fetches_the_deploy_repository_once_per_look(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`next --merge` merges, builds and opens the deploy PR: two looks (before and after
    the merge) and the deploy step's plan and ops in between. The plan and ops reuse their
    look's fetch of the deploy repository (each push is leased); the config is read once per
    look. Pinned, so a regression shows."""
    fixed_dates(monkeypatch)
    w = service_world(sandbox, deploy=True)
    fix_proposed_and_approved(w)
    fetched: list[str] = []
    shown: list[str] = []
    real_fetch, real_git = Repo.fetch, Repo.git

    def fetch(self: Repo, remote: str, *refspecs: str, prune: bool = True) -> None:
        fetched.append(self.path.name)
        real_fetch(self, remote, *refspecs, prune=prune)

    def git(self: Repo, *args: str, **kw: object) -> object:
        if args[:1] == ("show",) and args[1].endswith(":.prodfix.toml"):
            shown.append(self.path.name)
        return real_git(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Repo, "fetch", fetch)
    monkeypatch.setattr(Repo, "git", git)
    w.ok("next", "--merge")
    # one per look: the look that merges, the one whose deploy step opens the PR (its plan
    # and ops reuse that fetch), the last one (7 and 7 when each op fetched and read it)
    assert fetched.count("deploy") == 3 and shown == ["deploy"] * 3


def test_the_sync_preview_as_json_starts_one_git_per_question(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sync --dry-run --json --no-fetch` reads the preview and nothing of the sync's state:
    the remote's branches (which give both tips), the log of what would come, the merge
    prediction's commits and merge, CODEOWNERS. Pinned, so a regression shows."""
    fixed_dates(monkeypatch)
    w = service_world(sandbox)

    def preview() -> int:
        before = gitrun.spawned
        doc = json.loads(w.ok("sync", "--dry-run", "--json", "--no-fetch").out)
        assert len(doc["commits"]) == 1 and doc["conflicts"] == []
        return gitrun.spawned - before

    assert preview() in (5, 6)  # and git's version, unless this process has asked it before
    assert preview() == 5
