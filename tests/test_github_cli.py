"""The CLI end to end on a real git repository whose forge is the fake GitHub on 127.0.0.1.

The clone's remote is `git@github.com:team/app.git`, as on a developer's machine; git reaches
it through `core.sshCommand`, a two-line shim that runs git's own upload/receive-pack on the
bare repository (real git transport, no network). `forge.api-url` points at the fake GitHub,
whose branches are the bare repository's refs (GitHub serves the repository it hosts). The
fake does not move git refs when it merges, so "merged in the browser" pushes the merge commit
GitHub would create.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli import Run, prodfix
from tests.fakes.github import FakeGitHub, FakeRepo, Review
from tests.gitfix import Sandbox
from tests.repos import service_repo

TOKEN = "gh-t0ken-SENTINEL"
REMOTE = "git@github.com:team/app.git"


class GitBranches(dict[str, str]):
    """The fake's `branches`, read live from the bare repository's refs/heads. A merge through
    the API (the fake invents the merge SHA) is kept as an override, as the fake expects."""

    def __init__(self, sb: Sandbox) -> None:
        super().__init__()
        self.sb = sb
        self.overrides: dict[str, str] = {}

    def _refs(self) -> dict[str, str]:
        heads = {
            ref.removeprefix("refs/heads/"): sha
            for ref, sha in self.sb.remote_refs().items()
            if ref.startswith("refs/heads/")
        }
        return heads | self.overrides

    def __contains__(self, key: object) -> bool:
        return key in self._refs()

    def __getitem__(self, key: str) -> str:
        return self._refs()[key]

    def __setitem__(self, key: str, value: str) -> None:
        self.overrides[key] = value


@dataclass
class World:
    sb: Sandbox
    work: Path
    github: FakeGitHub
    repo: FakeRepo

    def run(self, *args: str) -> Run:
        return prodfix(self.work, *args)


def ssh_shim(sb: Sandbox, srv: Path) -> Path:
    shim = sb.root / "fake-ssh"
    shim.write_text(
        "#!/bin/sh\n"
        "# ssh.variant=simple: git runs `fake-ssh HOST COMMAND`; serve COMMAND from the bare repos\n"
        'test "$1" = git@github.com || { echo "unexpected host $1" >&2; exit 255; }\n'
        f'cd "{srv}" && exec sh -c "$2"\n'
    )
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    return shim


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    sb = Sandbox(tmp_path / "sb")
    srv = sb.root / "srv"
    sb.origin = srv / "team" / "app.git"
    work = service_repo(sb)
    sb.g(work, "remote", "set-url", "origin", REMOTE)
    sb.g(work, "config", "core.sshCommand", str(ssh_shim(sb, srv)))
    sb.g(work, "config", "ssh.variant", "simple")
    with FakeGitHub(tokens={TOKEN: "alice", "bob-token": "bob"}) as github:
        (work / ".prodfix.toml").write_text(
            'kind = "python"\n[test]\ncommand = "true"\n'
            f'[forge]\ntype = "github"\napi-url = "{github.api_url}"\nrepo = "team/app"\n'
        )
        repo = github.add_repo("team", "app", {}, required_approvals=1)
        repo.branches = GitBranches(sb)
        yield World(sb, work, github, repo)
        assert github.violations == []


def start_and_commit(w: World, name: str = "npe") -> str:
    r = w.run("start", name)
    assert r.code == 0, r.err
    head = w.sb.commit(w.work, f"fix {name}", {f"{name}.py": "FIXED = True\n"})
    r = w.run("test", "--skip", "covered by the delivery pipeline")
    assert r.code == 0, r.err
    return head


def proposed(w: World, monkeypatch: pytest.MonkeyPatch, name: str = "npe") -> str:
    monkeypatch.setenv("GH_TOKEN", TOKEN)
    head = start_and_commit(w, name)
    r = w.run("propose")
    assert r.code == 0, r.err
    return head


def status_steps(w: World) -> dict[str, tuple[str, str]]:
    r = w.run("status", "--json")
    assert r.code == 0, r.err
    (fix,) = json.loads(r.out)["fixes"]
    (repo,) = fix["repos"]
    return {s["id"]: (s["state"], s["detail"]) for s in repo["steps"]}


def test_propose_opens_one_pr_and_is_idempotent(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = proposed(world, monkeypatch)
    assert world.sb.remote_refs()["refs/heads/fix/npe"] == head
    (pr,) = world.repo.prs.values()
    assert (pr.number, pr.head, pr.base, pr.head_sha, pr.author, pr.state) == (
        1,
        "fix/npe",
        "delivery",
        head,
        "alice",
        "open",
    )
    assert pr.title == "[fix] fix npe"
    assert pr.body.startswith("Production fix `npe` into `delivery` (opened by prodfix).")

    again = world.run("propose")
    assert again.code == 0, again.err
    assert f"found PR #1: {world.github.origin}/team/app/pull/1" in again.out
    assert list(world.repo.prs) == [1]
    assert len(world.github.requests_to("POST", r"/repos/team/app/pulls$")) == 1
    assert TOKEN not in again.out + again.err


def test_without_token_propose_pushes_and_prints_the_compare_url(world: World) -> None:
    head = start_and_commit(world, "npe")
    r = world.run("propose")
    assert r.code == 0, r.err
    assert world.sb.remote_refs()["refs/heads/fix/npe"] == head
    url = "https://github.com/team/app/compare/delivery...fix%2Fnpe?expand=1"
    assert (
        f"no credentials for GitHub (github.com): open the PR yourself: {url}" in r.out.splitlines()
    )
    assert world.repo.prs == {}
    assert world.github.log == []  # no request without a token


def test_pr_list_json_is_the_cli_contract(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    proposed(world, monkeypatch)
    r = world.run("pr", "list", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out) == [
        {
            "number": 1,
            "title": "[fix] fix npe",
            "head": "fix/npe",
            "base": "delivery",
            "state": "open",
            "url": f"{world.github.origin}/team/app/pull/1",
        }
    ]


def merge_in_browser(w: World, number: int) -> str:
    """What GitHub does on "Merge pull request": a merge commit on the base, the PR merged."""
    pr = w.repo.prs[number]
    seed = w.sb.root / "seed"
    w.sb.g(seed, "fetch", "-q", "origin")
    w.sb.checkout(seed, "-B", pr.base, f"origin/{pr.base}")
    sha = w.sb.merge(seed, pr.head_sha, f"Merge pull request #{number} from team/{pr.head}")
    w.sb.push(seed, pr.base)
    pr.state, pr.merged_at, pr.closed_at = "closed", "2026-11-26T10:00:00Z", "2026-11-26T10:00:00Z"
    pr.merged_by, pr.merge_commit_sha = "bob", sha
    return sha


def test_status_sees_a_merge_done_in_the_browser(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    proposed(world, monkeypatch)
    before = status_steps(world)
    assert before["propose"][0] == "done"
    assert before["merge"][0] == "waiting"
    assert before["merge"][1] == "PR #1 waiting: approval required by branch protection"
    sha = merge_in_browser(world, 1)
    after = status_steps(world)
    assert after["merge"] == ("done", f"on delivery as {sha[:7]}")
    assert after["backmerge"][0] == "ready"
    listed = json.loads(world.run("pr", "list", "--all", "--json").out)
    assert [(p["number"], p["state"]) for p in listed] == [(1, "merged")]


@pytest.mark.slow
def test_pr_merge_squash_fix_allowed_backmerge_refused(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    proposed(world, monkeypatch)
    merge_in_browser(world, 1)
    # The back-merge PR delivery → master, opened by prodfix (head backmerge/...).
    r = world.run("backmerge")
    assert r.code == 0, r.err
    (bm,) = [p for p in world.repo.prs.values() if p.head.startswith("backmerge/")]
    assert (bm.base, bm.state) == ("master", "open")
    refused = world.run("pr", "merge", str(bm.number), "--method", "squash")
    assert refused.code == 2
    assert "refusing to squash a back-merge" in refused.err
    assert world.github.requests_to("PUT", r"/merge$") == []
    assert bm.state == "open"

    # A fix PR may be squashed (the team's choice; only back-merges must be true merges).
    proposed(world, monkeypatch, "typo")
    (fix,) = [p for p in world.repo.prs.values() if p.head == "fix/typo"]
    monkeypatch.setenv("GH_TOKEN", "bob-token")  # the reviewer
    approved = world.run("pr", "approve", str(fix.number))
    assert approved.code == 0
    assert approved.out.endswith(f"approved PR #{fix.number} (approvals: 1)\n")
    ok = world.run("pr", "merge", str(fix.number), "--method", "squash")
    assert ok.code == 0, ok.err
    (put,) = world.github.requests_to("PUT", rf"/pulls/{fix.number}/merge$")
    assert put.body["merge_method"] == "squash"
    assert fix.state == "closed" and fix.merged_at is not None


def test_backmerge_warns_when_merge_commits_are_disallowed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    proposed(world, monkeypatch)
    merge_in_browser(world, 1)
    world.repo.allow_merge_commit = False
    r = world.run("backmerge")
    assert r.code == 0, r.err
    assert (
        "prodfix: warning: team/app does not allow merge commits: the back-merge PR cannot be "
        "merged as it must be (a merge commit, never squash or rebase)"
    ) in r.err.splitlines()
    assert [p.head.startswith("backmerge/") for p in world.repo.prs.values()] == [False, True]
    bm = world.repo.prs[2]
    bm.reviews.append(Review(1, "bob", "APPROVED", bm.head_sha))
    merged = world.run("pr", "merge", "2")
    assert merged.code == 1
    assert merged.err.startswith("prodfix: warning: team/app does not allow merge commits")
    assert bm.state == "open"


def test_undo_of_propose_closes_the_pr_and_deletes_the_pushed_branch(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    proposed(world, monkeypatch)
    assert "refs/heads/fix/npe" in world.sb.remote_refs()
    r = world.run("undo")
    assert r.code == 0, r.err
    assert world.repo.prs[1].state == "closed" and world.repo.prs[1].merged_at is None
    refs = world.sb.remote_refs()  # back where `start` published it
    assert refs["refs/heads/fix/npe"] == refs["refs/heads/delivery"]
    (patch,) = world.github.requests_to("PATCH", r"/repos/team/app/pulls/1$")
    assert patch.body == {"state": "closed"}
