"""`prodfix doctor` against the fake GitHub, Jenkins and Argo CD on 127.0.0.1 and real git."""

from __future__ import annotations

import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli import Run, prodfix, prodfix_proc
from tests.fakes.argocd import FakeArgoCd
from tests.fakes.github import FakeGitHub
from tests.fakes.jenkins import FakeJenkins, running
from tests.gitfix import Sandbox
from tests.repos import service_repo

SENTINEL = "s3cret-SENTINEL-91c4e"
TOKEN_VARS = ("GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN")
REMOTE = "https://ada:{secret}@github.com/team/app.git"  # never fetched: doctor only reads it


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(tokens={"t0ken": "alice", SENTINEL: "alice"}) as fake:
        fake.add_repo("team", "app", {"master": "a" * 40, "delivery": "b" * 40})
        yield fake
        assert fake.violations == []


@pytest.fixture
def jenkins() -> Iterator[FakeJenkins]:
    with running(user="ada", token="jt0ken") as fake:
        fake.add_job("app-fix")
        fake.add_job("app-delivery")
        yield fake


@pytest.fixture
def argocd() -> Iterator[FakeArgoCd]:
    with FakeArgoCd("at0ken") as fake:
        fake.add_app("sre-triggers-us1", revision="c" * 40, images=["reg/app:1.0.0"])
        yield fake


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_repo(
    sandbox: Sandbox,
    github: FakeGitHub,
    *,
    jenkins_url: str | None = None,
    argocd_url: str | None = None,
    remote: str = REMOTE.format(secret="pw"),
) -> Path:
    work = service_repo(sandbox)
    sandbox.g(work, "remote", "set-url", "origin", remote)
    # git reaches "github.com" through the sandbox's origin (the displayed URL stays as set)
    sandbox.g(work, "config", f"url.{sandbox.origin}.insteadOf", remote)
    toml = [
        'kind = "python"',
        "[forge]",
        'type = "github"',
        f'api-url = "{github.api_url}"',
        'repo = "team/app"',
    ]
    if jenkins_url:
        toml += ["[build]", 'type = "jenkins"', f'url = "{jenkins_url}"']
        toml += ['fix-job = "app-fix"', 'delivery-job = "app-delivery"']
    toml += ["[deploy]", 'repo = "../deploy"', 'dcs = ["us1", "eu1"]']
    if argocd_url:
        toml += [f'argocd = {{ url = "{argocd_url}", app = "sre-triggers-{{dc}}" }}']
    (work / ".prodfix.toml").write_text("\n".join(toml) + "\n")
    deploy = sandbox.root / "deploy"
    sandbox.g(sandbox.root, "init", "-q", str(deploy))
    sandbox.g(sandbox.root, "init", "-q", "--bare", str(sandbox.root / "deploy-origin.git"))
    sandbox.g(deploy, "remote", "add", "origin", str(sandbox.root / "deploy-origin.git"))
    return work


def rows(run: Run) -> dict[tuple[str, str], tuple[str, str]]:
    """(repository, check) → (result, detail) from the plain-text table."""
    lines = run.out.splitlines()
    header = lines[0]
    starts = [header.index(c) for c in ("repository", "check", "result", "detail")]
    out: dict[tuple[str, str], tuple[str, str]] = {}
    for line in lines[1:]:
        if line.startswith("next (") or re.match(r"^\d+ checks: ", line):
            break
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
        out[(cells[0], cells[1])] = (cells[2], cells[3])
    return out


def git_version() -> str:
    out = subprocess.run(("git", "version"), capture_output=True, text=True, check=True).stdout
    m = re.search(r"(\d+)\.(\d+)", out)
    assert m
    return f"git {m.group(1)}.{m.group(2)}"


def test_all_ok(
    sandbox: Sandbox,
    github: FakeGitHub,
    jenkins: FakeJenkins,
    argocd: FakeArgoCd,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GH_TOKEN", "t0ken")
    monkeypatch.setenv("JENKINS_USER", "ada")
    monkeypatch.setenv("JENKINS_API_TOKEN", "jt0ken")
    monkeypatch.setenv("ARGOCD_AUTH_TOKEN", "at0ken")
    work = make_repo(sandbox, github, jenkins_url=jenkins.url, argocd_url=argocd.url)

    r = prodfix(work, "doctor")

    assert (r.code, r.err) == (0, "")
    got = rows(r)
    assert got[("", "git")] == (
        "ok",
        f"{git_version()} (merge-tree --write-tree and --stdin available)",
    )
    assert got[("work", "repository")] == ("ok", f"{work} (python)")
    assert got[("work", "remote")] == (
        "ok",
        "origin → https://***@github.com/team/app.git reachable",
    )
    assert got[("work", "forge")] == (
        "ok",
        f"github team/app on github.com (API {github.api_url})",
    )
    assert got[("work", "GitHub token")] == (
        "ok",
        "from environment variable GH_TOKEN; authenticates as alice; scopes: repo, read:org",
    )
    assert got[("work", "GitHub repository")] == ("ok", "team/app readable; merge commits allowed")
    assert got[("work", "Jenkins credentials")] == ("ok", "from JENKINS_USER/JENKINS_API_TOKEN")
    assert got[("work", "Jenkins")] == ("ok", f"{jenkins.url} reachable")
    assert got[("work", "Jenkins fix-job")] == ("ok", "app-fix readable")
    assert got[("work", "Jenkins delivery-job")] == ("ok", "app-delivery readable")
    deploy_origin = sandbox.root / "deploy-origin.git"
    assert got[("deploy", "remote")] == ("ok", f"origin → {deploy_origin} reachable")
    assert got[("deploy", "forge")] == ("ok", "embedded (pull requests kept as refs in origin)")
    assert got[("work", "Argo CD token")] == ("ok", "from environment variable ARGOCD_AUTH_TOKEN")
    assert got[("work", "Argo CD")] == ("ok", f"{argocd.url} reachable, version v2.13.2+fake")
    assert got[("work", "Argo CD app")] == ("ok", "sre-triggers-us1 readable (Synced, Healthy)")
    assert len(got) == 15
    assert r.out.splitlines()[-1] == "15 checks: 0 failed, 0 warning(s)"
    assert "next" not in r.out
    # The credential went to the services, and only as headers.
    assert github.requests_to("GET", r"^/user$")[0].headers["authorization"] == "Bearer t0ken"
    assert ("GET", "/jenkins/me/api/json") in jenkins.requests
    assert [s.authorization for s in argocd.requests] == ["Bearer at0ken"] * 2


def test_no_token_is_a_warning_naming_gh_token_and_gh_auth_login(
    sandbox: Sandbox, github: FakeGitHub
) -> None:
    work = make_repo(sandbox, github)
    r = prodfix(work, "doctor")
    assert r.code == 0
    result, detail = rows(r)[("work", "GitHub token")]
    assert result == "warning"
    assert detail.startswith("none found for github.com; propose will push")
    assert (
        "next (GitHub token): set GH_TOKEN or GITHUB_TOKEN, or run "
        "`gh auth login --hostname github.com`"
    ) in r.out.splitlines()
    assert ("work", "GitHub repository") not in rows(r)
    assert github.log == []  # nothing to ask GitHub without a token
    assert r.out.splitlines()[-1].endswith(": 0 failed, 1 warning(s)")


def test_wrong_token_fails_naming_its_source(
    sandbox: Sandbox, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "expired")
    work = make_repo(sandbox, github)
    r = prodfix(work, "doctor")
    assert r.code == 1
    result, detail = rows(r)[("work", "GitHub token")]
    assert result == "FAILED"
    assert detail.startswith(
        "the token from environment variable GITHUB_TOKEN does not authenticate: the token "
        "from environment variable GITHUB_TOKEN was rejected by github.com (401: Bad credentials)"
    )
    hint = [ln for ln in r.out.splitlines() if ln.startswith("next (GitHub token)")]
    assert hint == [
        "next (GitHub token): replace the token in environment variable GITHUB_TOKEN (or unset "
        "it and run `gh auth login`); if GitHub was unreachable, check forge.api-url and the "
        "network"
    ]
    assert "expired" not in r.out + r.err


def test_merge_commits_disabled_is_a_warning(
    sandbox: Sandbox, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    github.repos[("team", "app")].allow_merge_commit = False
    monkeypatch.setenv("GH_TOKEN", "t0ken")
    r = prodfix(make_repo(sandbox, github), "doctor")
    assert r.code == 0
    assert rows(r)[("work", "GitHub repository")] == (
        "warning",
        "merge commits are disabled: back-merge PRs cannot be merged",
    )
    assert any(ln.startswith("next (GitHub repository): enable") for ln in r.out.splitlines())


def test_jenkins_unreachable_fails(
    sandbox: Sandbox, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GH_TOKEN", "t0ken")
    monkeypatch.setenv("JENKINS_USER", "ada")
    monkeypatch.setenv("JENKINS_API_TOKEN", "jt0ken")
    url = f"http://127.0.0.1:{closed_port()}/jenkins/"
    r = prodfix(make_repo(sandbox, github, jenkins_url=url), "doctor")
    assert r.code == 1
    result, detail = rows(r)[("work", "Jenkins")]
    assert result == "FAILED"
    assert detail.startswith(f"{url} is unreachable: Jenkins failed after 1 attempt")
    assert (
        "next (Jenkins): check build.url, the network or VPN, then run `prodfix doctor` again"
        in r.out.splitlines()
    )
    assert ("work", "Jenkins fix-job") not in rows(r)  # no job checks against a dead server


def test_jenkins_wrong_token_and_missing_job(
    sandbox: Sandbox,
    github: FakeGitHub,
    jenkins: FakeJenkins,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JENKINS_USER", "ada")
    monkeypatch.setenv("JENKINS_API_TOKEN", "wrong")
    work = make_repo(sandbox, github, jenkins_url=jenkins.url)
    r = prodfix(work, "doctor")
    assert r.code == 1
    assert rows(r)[("work", "Jenkins")] == (
        "FAILED",
        f"{jenkins.url} refused the credentials from JENKINS_USER/JENKINS_API_TOKEN (HTTP 401)",
    )
    monkeypatch.setenv("JENKINS_API_TOKEN", "jt0ken")
    del jenkins.jobs["app-fix"]
    got = rows(prodfix(work, "doctor"))
    assert got[("work", "Jenkins")] == ("ok", f"{jenkins.url} reachable")
    assert got[("work", "Jenkins fix-job")][0] == "FAILED"
    assert "job/app-fix/api/json was not found (HTTP 404)" in got[("work", "Jenkins fix-job")][1]
    assert got[("work", "Jenkins delivery-job")] == ("ok", "app-delivery readable")


def test_argocd_without_token_and_with_a_wrong_one(
    sandbox: Sandbox,
    github: FakeGitHub,
    argocd: FakeArgoCd,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = make_repo(sandbox, github, argocd_url=argocd.url)
    r = prodfix(work, "doctor")
    assert r.code == 1
    assert rows(r)[("work", "Argo CD token")] == (
        "FAILED",
        "no Argo CD token: ARGOCD_AUTH_TOKEN is not set",
    )
    assert argocd.requests == []
    monkeypatch.setenv("ARGOCD_AUTH_TOKEN", "stale")
    r = prodfix(work, "doctor")
    assert r.code == 1
    assert rows(r)[("work", "Argo CD")] == (
        "FAILED",
        f"{argocd.url} rejected the token in ARGOCD_AUTH_TOKEN (HTTP 401)",
    )


def test_outside_a_repository_and_without_remote(tmp_path: Path, sandbox: Sandbox) -> None:
    lone = tmp_path / "lone"
    lone.mkdir()
    r = prodfix(lone, "doctor")
    assert r.code == 1
    assert rows(r)[("lone", "repository")] == ("FAILED", f"{lone} is not inside a git repository")
    sandbox.root.mkdir()
    sandbox.g(sandbox.root, "init", "-q", "bare-clone")
    r = prodfix(sandbox.root / "bare-clone", "doctor")
    assert r.code == 1
    assert rows(r)[("bare-clone", "remote")] == ("FAILED", "no remote 'origin'")


@pytest.mark.parametrize("accepted", [True, False], ids=["accepted", "rejected"])
def test_tokens_never_appear(
    sandbox: Sandbox,
    github: FakeGitHub,
    monkeypatch: pytest.MonkeyPatch,
    accepted: bool,
) -> None:
    secret = SENTINEL if accepted else SENTINEL[::-1]
    env = dict.fromkeys((*TOKEN_VARS, "JENKINS_API_TOKEN", "ARGOCD_AUTH_TOKEN"), secret)
    env["JENKINS_USER"] = "ada"
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with running(user="ada", token=SENTINEL) as jenkins, FakeArgoCd(SENTINEL) as argocd:
        jenkins.add_job("app-fix")
        jenkins.add_job("app-delivery")
        argocd.add_app("sre-triggers-us1", revision="c" * 40, images=["reg/app:1.0.0"])
        work = make_repo(
            sandbox,
            github,
            jenkins_url=jenkins.url,
            argocd_url=argocd.url,
            remote=REMOTE.format(secret=secret),
        )
        inproc = prodfix(work, "doctor")
        proc = prodfix_proc(work, "--debug", "doctor", env=env)
    for r in (inproc, proc):
        assert r.code == (0 if accepted else 1)
        assert secret not in r.out + r.err
        assert "***@github.com" in r.out
    got = rows(inproc)
    assert got[("work", "GitHub token")][0] == ("ok" if accepted else "FAILED")
    assert got[("work", "Argo CD")][0] == ("ok" if accepted else "FAILED")
    assert "debug: prodfix.http" in proc.err  # the debug log ran, and redacted


def test_a_remote_that_no_longer_exists_fails(sandbox: Sandbox) -> None:
    work = service_repo(sandbox)
    sandbox.g(work, "remote", "set-url", "origin", str(sandbox.root / "gone.git"))
    r = prodfix(work, "doctor")
    assert r.code == 1
    result, detail = rows(r)[("work", "remote")]
    assert result == "FAILED" and detail.startswith(
        f"origin → {sandbox.root / 'gone.git'} cannot be read"
    )
    assert "next (remote): check the URL" in r.out
