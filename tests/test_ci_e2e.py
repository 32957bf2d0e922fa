"""`prodfix test --ci` end to end: the CLI against the stateful fake Jenkins and real git.

The fake's "git remote" is the sandbox's bare origin itself (`OriginHeads`), so Jenkins builds
only what prodfix really pushed. For a Git branch-list job the fake builds like the git plugin:
the oldest unbuilt head among the listed branches (the Git plugin's default build chooser,
https://plugins.jenkins.io/git/), so a branch
prodfix did not add to config.xml is never built.
"""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from prodfix.adapters.build import jenkins as jenkins_mod
from prodfix.adapters.build import jenkins_xml as jx
from prodfix.adapters.build.jenkins_client import Waiter
from tests.cli import Run, prodfix, prodfix_proc
from tests.fakes.jenkins import FakeBuild, FakeJenkins, FakeJob
from tests.gitfix import Sandbox

FIXTURES = Path(__file__).parent / "fixtures" / "jenkins"
SENTINEL = "SENTINEL-jenkins-token-5b7e1d"
FIX = "fix/npe"
THEIRS = {  # an edit someone makes in the Jenkins UI while the fix is in flight: (old, new)
    "freestyle": (
        b"\n    </branches>",
        b"\n      <hudson.plugins.git.BranchSpec>\n        <name>refs/heads/hotfix/y</name>"
        b"\n      </hudson.plugins.git.BranchSpec>\n    </branches>",
    ),
    "multibranch": (b"</includes>", b" hotfix/*</includes>"),
}


class OriginHeads(MutableMapping[str, str]):
    """The fake's branch → SHA map, read live from the bare origin (Jenkins' git remote)."""

    def __init__(self, origin: Path) -> None:
        self.origin = origin

    def _all(self) -> dict[str, str]:
        out = _git(
            self.origin, "for-each-ref", "--format=%(refname:lstrip=2) %(objectname)", "refs/heads/"
        )
        return dict(ln.split(" ") for ln in out.splitlines())

    def __getitem__(self, key: str) -> str:
        return self._all()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __setitem__(self, key: str, value: str) -> None:
        raise AssertionError("the fake's remote is the real origin: push instead")

    def __delitem__(self, key: str) -> None:
        raise AssertionError("the fake's remote is the real origin")


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ("git", *args), cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


class GitJenkins(FakeJenkins):
    """FakeJenkins whose branch-list jobs choose what to build like the git plugin does, and
    whose builds of `fail_shas` fail (the commit's tests are broken)."""

    def __init__(self, origin: Path, **kw: Any) -> None:
        super().__init__(**kw)
        self.heads = OriginHeads(origin)  # type: ignore[assignment]
        self.origin = origin
        self.fail_shas: set[str] = set()

    def _new_build(
        self, job: FakeJob, queue_id: int, params: dict[str, str], sha: str = ""
    ) -> FakeBuild:
        if not job.multibranch and jx.BRANCH_SPEC.encode() in job.config:
            job.branch = self._oldest_unbuilt(job)
        b = super()._new_build(job, queue_id, params, sha)
        if b.sha in self.fail_shas:
            b.result = "FAILURE"
        return b

    def _oldest_unbuilt(self, job: FakeJob) -> str:
        names = [n.text or "" for n in ET.fromstring(job.config).iter("name")]
        listed = [
            n.removeprefix("refs/heads/").removeprefix("origin/")
            for n in names
            if n.startswith(("refs/heads/", "origin/"))
        ]
        heads = dict(self.heads)
        built = {b.sha for b in job.builds}
        unbuilt = [b for b in listed if b in heads and heads[b] not in built]
        if not unbuilt:
            return job.builds[-1].branch
        return min(unbuilt, key=lambda b: int(_git(self.origin, "log", "-1", "--format=%ct", b)))


@dataclass
class World:
    sb: Sandbox
    work: Path
    fake: GitJenkins
    job: FakeJob  # the fix-job
    delivery_job: FakeJob
    start_config: bytes
    shape: str

    def run(self, *args: str) -> Run:
        r = prodfix(self.work, *args)
        assert SENTINEL not in r.out + r.err
        return r

    def steps(self, code: int = 0) -> dict[str, dict[str, str]]:
        r = self.run("status", "--all", "--json")
        assert r.code == code, r.err
        (fix,) = json.loads(r.out)["fixes"]
        (repo,) = fix["repos"]
        return {s["id"]: s for s in repo["steps"]}

    def commit_fix(self) -> str:
        return self.sb.commit(
            self.work, "fix the npe", {"app.py": "def answer():\n    return 42\n"}
        )

    def listed(self) -> list[str]:
        return jx.branches(self.job.config)[1]


def toml(url: str, fix_job: str) -> str:
    return f"""kind = "python"
[test]
command = "true"
[forge]
type = "git"
approvals = 1
[build]
type = "jenkins"
url = "{url}"
fix-job = "{fix_job}"
delivery-job = "app-delivery"
"""


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jenkins_mod, "Waiter", lambda: Waiter(interval=0.01, timeout=10.0))


def make_world(sb: Sandbox, shape: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("JENKINS_USER", "ada")
    monkeypatch.setenv("JENKINS_API_TOKEN", SENTINEL)
    origin = sb.init_origin()
    fake = GitJenkins(origin, token=SENTINEL).start()
    try:
        name = "app-ci" if shape == "freestyle" else "app-mb"
        seed = sb.clone("seed")
        sb.commit(
            seed,
            "initial",
            {"app.py": "def answer():\n    return 41\n", ".prodfix.toml": toml(fake.url, name)},
        )
        sb.push(seed, "master")
        sb.g(seed, "branch", "delivery")
        sb.push(seed, "delivery")
        sb.commit(seed, "master only: feature B", {"feature_b.py": "B = 2\n"})
        sb.push(seed, "master")
        config = FIXTURES / f"app-{'freestyle' if shape == 'freestyle' else 'mb-wild'}.xml"
        job = fake.add_job(name, config=config.read_bytes(), multibranch=shape != "freestyle")
        if job.multibranch:
            fake.scan(job)
            assert set(job.children) == {"delivery", "master"}
        delivery = fake.add_job("app-delivery", branch="delivery")
        yield World(sb, sb.clone("work"), fake, job, delivery, job.config, shape)
    finally:
        fake.stop()


@pytest.fixture(params=["freestyle", "multibranch"])
def world(sandbox: Sandbox, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    yield from make_world(sandbox, request.param, monkeypatch)


def ours_listed(w: World) -> list[str]:
    entry = f"refs/heads/{FIX}" if w.shape == "freestyle" else FIX
    return [e for e in w.listed() if e == entry]


def fix_builds(w: World) -> list[tuple[str, str, str]]:
    """(branch, sha, result) of the builds the fix-job ran."""
    builds = w.job.builds if w.shape == "freestyle" else w.job.children["fix%2Fnpe"].builds
    return [(b.branch, b.sha, b.result) for b in builds]


def test_test_ci_passes_and_records_the_result(world: World) -> None:
    w = world
    assert w.run("start", "npe").code == 0
    sha = w.commit_fix()
    r = w.run("test", "--ci")
    assert r.code == 0, r.err
    assert f"Jenkins passed for {sha[:7]}" in r.out
    assert "Jenkins Job Builder" in r.err  # the fixtures are JJB-managed: the edit won't last
    assert w.sb.remote_refs()[f"refs/heads/{FIX}"] == sha  # pushed: Jenkins builds the remote
    assert len(ours_listed(w)) == 1
    if w.shape == "freestyle":
        assert w.listed() == [
            "origin/delivery",
            "refs/heads/fix/already-there",
            f"refs/heads/{FIX}",
        ]
        delivery = w.sb.remote_refs()["refs/heads/delivery"]
        # The git plugin built the oldest unbuilt head (delivery) first; prodfix built again.
        assert fix_builds(w) == [("delivery", delivery, "SUCCESS"), (FIX, sha, "SUCCESS")]
        assert "not ours: again" in r.err
    else:
        assert w.listed() == ["delivery", "master", "PR-*", FIX]
        assert fix_builds(w) == [(FIX, sha, "SUCCESS")]  # the scan's build, not a second one
    steps = w.steps()
    assert (steps["test"]["state"], steps["test"]["detail"]) == (
        "done",
        f"passed for {sha[:7]} on Jenkins (Ada Tester)",
    )
    # Idempotent: again on the same HEAD finds the build instead of building again.
    again = w.run("test", "--ci")
    assert again.code == 0, again.err
    assert len(fix_builds(w)) == (2 if w.shape == "freestyle" else 1)
    assert len(ours_listed(w)) == 1  # still there once, not twice
    assert len(w.fake.config_posts) == 1


def test_test_ci_failure_exits_1_with_the_console_tail(world: World) -> None:
    w = world
    assert w.run("start", "npe").code == 0
    sha = w.commit_fix()
    w.fake.fail_shas.add(sha)
    r = w.run("test", "--ci")
    assert r.code == 1
    assert f"Checking out Revision {sha}" in r.err  # the console tail of the build
    assert "ERROR: tests failed\nFinished: FAILURE" in r.err
    assert f"Jenkins failed for {sha[:7]}" in r.err
    assert "then `prodfix test --ci` again" in r.err
    steps = w.steps(code=1)
    assert steps["test"]["state"] == "failed"
    assert steps["test"]["detail"].startswith(
        f"failed for {sha[:7]} on Jenkins (Ada Tester): Jenkins build {w.fake.url}"
    )
    assert steps["test"]["detail"].endswith("/ failure")
    assert ours_listed(w)  # the branch stays listed: the next commit is built the same way


def test_undo_removes_only_our_branch(world: World) -> None:
    w = world
    assert w.run("start", "npe").code == 0
    w.commit_fix()
    assert w.run("test", "--ci").code == 0
    old, new = THEIRS[w.shape]
    assert old in w.job.config
    w.job.config = w.job.config.replace(old, new)  # someone adds a pattern meanwhile
    r = w.run("undo")
    assert r.code == 0, r.err
    assert "undone: `prodfix test --ci`" in r.out
    assert w.job.config == w.start_config.replace(old, new)
    refs = w.sb.remote_refs()  # the push is undone too: the branch is back where `start` put it
    assert refs[f"refs/heads/{FIX}"] == refs["refs/heads/delivery"]
    if w.shape == "multibranch":
        assert w.job.scans == 3  # setup, after the push, after the removal


def test_kill_after_the_config_edit_then_continue(world: World) -> None:
    w = world
    assert w.run("start", "npe").code == 0
    sha = w.commit_fix()
    killed = prodfix_proc(w.work, "test", "--ci", env={"PRODFIX_DIE_AFTER": "1"})
    assert killed.code == -9
    assert SENTINEL not in killed.out + killed.err
    refs = w.sb.remote_refs()
    assert ours_listed(w) and refs[f"refs/heads/{FIX}"] == refs["refs/heads/delivery"]
    r = w.run("continue")
    assert r.code == 0, r.err
    assert w.sb.remote_refs()[f"refs/heads/{FIX}"] == sha
    assert w.steps()["test"]["state"] == "done"
    assert len(ours_listed(w)) == 1
    assert fix_builds(w)[-1] == (FIX, sha, "SUCCESS")


def test_kill_after_the_config_edit_then_abort(world: World) -> None:
    w = world
    assert w.run("start", "npe").code == 0
    w.commit_fix()
    killed = prodfix_proc(w.work, "test", "--ci", env={"PRODFIX_DIE_AFTER": "1"})
    assert killed.code == -9
    assert w.job.config != w.start_config
    r = w.run("abort")
    assert r.code == 0, r.err
    assert w.job.config == w.start_config  # byte for byte
    refs = w.sb.remote_refs()
    assert refs[f"refs/heads/{FIX}"] == refs["refs/heads/delivery"]
    assert w.steps()["test"]["state"] == "ready"


def test_test_ci_needs_a_fix_branch(world: World) -> None:
    """Only a fix branch (by the fix-branch template) goes into the job: its name is what
    removes it again when the fix is done. A fix branch made by hand is a fix like any."""
    w = world
    w.sb.g(w.work, "switch", "-q", "-c", "hotfix-by-hand", "origin/delivery")
    r = w.run("test", "--ci")
    assert r.code == 2
    assert "hotfix-by-hand is not a fix branch (fix/{name})" in r.err
    assert w.job.config == w.start_config and w.fake.config_posts == []


def test_token_never_stored(world: World) -> None:
    w = world
    assert w.run("start", "npe").code == 0
    w.commit_fix()
    assert w.run("test", "--ci").code == 0
    home = Path(str(w.sb.root)).parent / "prodfix-home"
    for f in home.rglob("*"):
        if f.is_file():
            assert SENTINEL.encode() not in f.read_bytes(), f


def test_a_sync_head_is_tested_on_jenkins_and_leaves_the_job_when_the_sync_is_done(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`test --ci` on the sync head lists it in the fix job like a fix branch; when the sync
    is merged, built and finished, `next` removes it from the list again."""
    built = make_world(sandbox, "freestyle", monkeypatch)
    w = next(built)
    try:
        assert w.run("sync").code == 0
        head = _git(w.work, "branch", "--list", "--format=%(refname:short)", "sync/*")
        sha = _git(w.work, "rev-parse", head)
        _git(w.work, "switch", "-q", head)
        r = w.run("test", "--ci")
        assert r.code == 0, r.out + r.err
        assert f"refs/heads/{head}" in w.listed()
        assert (w.job.builds[-1].branch, w.job.builds[-1].sha) == (head, sha)
        reviewer = w.run("pr", "approve", "1")
        assert reviewer.code == 0, reviewer.err
        done = w.run("next", "--merge", "--wait", "--interval", "1", "--timeout", "60")
        assert done.code == 0, done.out + done.err
        assert f"{head} is done" in done.out
        assert f"refs/heads/{head}" not in w.listed()
        assert w.listed() == jx.branches(w.start_config)[1]
    finally:
        built.close()  # stops the fake
