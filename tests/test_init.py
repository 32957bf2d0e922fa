from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from prodfix.adapters.remote_url import parse_remote_url
from prodfix.commands.init import meta_url
from tests.cli import prodfix
from tests.fakes.flaky import FlakyServer, Step
from tests.gitfix import Sandbox
from tests.repos import service_repo


def test_init_detects_python_and_embedded_forge(sandbox: Sandbox) -> None:
    work = service_repo(sandbox)
    r = prodfix(work, "init")
    assert r.code == 0, r.err
    doc = tomllib.loads((work / ".prodfix.toml").read_text())
    assert doc["kind"] == "python" and doc["delivery"] == "delivery*"
    assert doc["forge"] == {"type": "git", "approvals": 1}
    again = prodfix(work, "init")
    assert again.code == 2 and "--force" in again.err
    assert prodfix(work, "init", "--force", "--kind", "go").code == 0
    assert tomllib.loads((work / ".prodfix.toml").read_text())["kind"] == "go"


def test_init_go_module_and_github_enterprise_remote(sandbox: Sandbox) -> None:
    work = service_repo(sandbox)
    (work / "go.mod").write_text("module x\n")
    sandbox.g(work, "remote", "set-url", "--push", "origin", str(sandbox.origin))
    sandbox.g(work, "remote", "add", "upstream", "git@github.acme.corp:team/steps-python.git")
    sandbox.g(work, "remote", "rename", "origin", "local")
    sandbox.g(work, "remote", "rename", "upstream", "origin")
    r = prodfix(work, "init", "--dry-run")
    assert r.code == 0, r.err  # the host is unreachable: a warning, the file from the URL
    doc = tomllib.loads(r.out)
    assert doc["kind"] == "go"
    assert doc["forge"] == {
        "type": "github",
        "api-url": "https://github.acme.corp/api/v3",
        "repo": "team/steps-python",
    }
    assert not (work / ".prodfix.toml").exists()


GHES_META = {"installed_version": "3.14.2", "verifiable_password_authentication": False}


def remote_at(sandbox: Sandbox, url: str) -> Path:
    work = service_repo(sandbox)
    sandbox.g(work, "remote", "set-url", "origin", url)
    return work


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("git@gitlab.example.com:payments/core/steps-python.git", "GitLab"),
        ("https://bitbucket.org/team/steps-python.git", "Bitbucket"),
    ],
)
def test_gitlab_and_bitbucket_get_a_question_not_a_silent_embedded_forge(
    sandbox: Sandbox, url: str, name: str
) -> None:
    work = remote_at(sandbox, url)
    r = prodfix(work, "init")
    assert r.code == 0, r.err
    text = (work / ".prodfix.toml").read_text()
    host = url.split("@")[-1].split(":")[0] if url.startswith("git@") else url.split("/")[2]
    assert f"# ? {host} looks like {name}, where prodfix cannot open pull requests yet." in text
    assert tomllib.loads(text)["forge"] == {"type": "git", "approvals": 1}
    assert f"{host} looks like {name}, which prodfix does not support" in r.err
    assert "(a question for you in the file)" in r.out


def test_unknown_host_is_not_asked_without_probe(sandbox: Sandbox) -> None:
    with FlakyServer([], then=Step(200, GHES_META)) as srv:
        work = remote_at(sandbox, f"{srv.url}/team/steps-python.git")
        r = prodfix(work, "init", "--dry-run")
    assert r.code == 0, r.err
    assert [s.path for s in srv.seen if s.path.startswith("/api/")] == []
    lines = r.out.splitlines()
    i = lines.index("[forge]")
    assert lines[i + 1 : i + 7] == [
        "# ? which forge is 127.0.0.1? prodfix could not tell: not asked "
        f"(`prodfix init --probe` asks {srv.url}/api/v3/meta whether it is GitHub).",
        "#   Keep the type below, or switch to the commented GitHub lines:",
        '# type = "github"  # GitHub Enterprise Server',
        f'# api-url = "{srv.url}/api/v3"',
        '# repo = "team/steps-python"',
        'type = "git"',
    ]
    assert "could not tell which forge 127.0.0.1 is" in r.err
    assert "`prodfix init --probe --force`" in r.err


@pytest.mark.parametrize(
    "answer",
    [
        Step(200, GHES_META),  # GHES: GET /meta answers without credentials
        Step(401, {"message": "Must authenticate"}, (("X-GitHub-Request-Id", "AB:CD"),)),
    ],
)
def test_probe_detects_github_enterprise(sandbox: Sandbox, answer: Step) -> None:
    with FlakyServer([], then=answer) as srv:
        work = remote_at(sandbox, f"{srv.url}/team/steps-python.git")
        r = prodfix(work, "init", "--probe")
    assert r.code == 0, r.err
    assert [s.path for s in srv.seen if s.path.startswith("/api/")] == ["/api/v3/meta"]
    doc = tomllib.loads((work / ".prodfix.toml").read_text())
    assert doc["forge"] == {
        "type": "github",
        "api-url": f"{srv.url}/api/v3",
        "repo": "team/steps-python",
    }
    assert "could not tell" not in r.err


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (Step(404, {"message": "404 Not Found"}), "answered, and not as GitHub Enterprise does"),
        (Step(200, {"version": "17.2.0"}), "answered, and not as GitHub Enterprise does"),
        (Step(drop="close"), "did not answer"),
    ],
)
def test_probe_that_finds_no_github_asks_the_user(sandbox: Sandbox, answer: Step, why: str) -> None:
    with FlakyServer([], then=answer) as srv:
        work = remote_at(sandbox, f"{srv.url}/team/steps-python.git")
        r = prodfix(work, "init", "--probe", "--dry-run")
    assert r.code == 0, r.err
    assert f"{srv.url}/api/v3/meta {why}" in r.out
    assert tomllib.loads(r.out)["forge"]["type"] == "git"
    assert f"could not tell which forge 127.0.0.1 is ({srv.url}/api/v3/meta {why})" in r.err


def test_probe_uses_https_except_on_loopback() -> None:
    remote = parse_remote_url("http://git.acme.corp:8080/team/app.git")
    assert meta_url("git.acme.corp", remote) == "https://git.acme.corp:8080/api/v3/meta"
    ssh = parse_remote_url("git@git.acme.corp:team/app.git")
    assert meta_url("git.acme.corp", ssh) == "https://git.acme.corp/api/v3/meta"
    local = parse_remote_url("http://127.0.0.1:9/team/app.git")
    assert meta_url("127.0.0.1", local) == "http://127.0.0.1:9/api/v3/meta"


def test_empty_repository_says_nothing_was_detected(sandbox: Sandbox) -> None:
    work = service_repo(sandbox)  # app.py and a README: no pyproject.toml, setup.py or go.mod
    r = prodfix(work, "init", "--dry-run")
    assert r.code == 0, r.err
    assert r.out.splitlines()[1:4] == [
        "# ? nothing detected: no pyproject.toml, setup.py or go.mod at the repository root;",
        '#   python is a guess — set kind = "go" for a Go module',
        'kind = "python"',
    ]
    assert "nothing told the kind of this repository" in r.err
    (work / "setup.py").write_text("from setuptools import setup\nsetup()\n")
    r = prodfix(work, "init", "--dry-run")
    assert "# ?" not in r.out and "kind" not in r.err
    assert tomllib.loads(r.out)["kind"] == "python"
