"""A single-sign-on proxy in front of GitHub, Jenkins or Argo CD answers a login page (HTML with
200) or redirects to one (302). Every client says so, with exit 4 and the URL without its
query, instead of a JSONDecodeError ("internal error") or an Argo CD app read as "Unknown"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from prodfix.adapters.argocd import ArgoCd
from prodfix.adapters.build.jenkins_client import JenkinsClient
from prodfix.adapters.http import LoginPage, RetryPolicy
from prodfix.errors import Exit
from tests.cli import prodfix
from tests.fakes.flaky import FlakyServer, Step, sso_page, sso_redirect
from tests.gitfix import Sandbox
from tests.repos import service_repo
from tests.test_doctor import rows

LOGIN = "https://sso.example.com/login"
SUFFIX = "— SSO? check the URL and token"


@pytest.fixture(params=["html", "redirect"])
def sso(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(kind, base URL) of a proxy that answers every request with its login."""
    kind = str(request.param)
    step = sso_page() if kind == "html" else sso_redirect()
    with FlakyServer([], then=step) as srv:
        yield kind, srv.url


def said(kind: str, service: str, url: str, path: str) -> str:
    """What prodfix says when `service` answers GET `path` with the login."""
    if kind == "html":
        return f"got an HTML page from {service} ({url}{path}) {SUFFIX}"
    return f"{service} redirected GET {path} to {LOGIN} (HTTP 302) {SUFFIX}"


def world(sandbox: Sandbox, url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var, value in (
        ("GH_ENTERPRISE_TOKEN", "t0ken"),
        ("JENKINS_USER", "ada"),
        ("JENKINS_API_TOKEN", "jt0ken"),
        ("ARGOCD_AUTH_TOKEN", "at0ken"),
    ):
        monkeypatch.setenv(var, value)
    work = service_repo(sandbox)
    (work / ".prodfix.toml").write_text(
        f"""kind = "python"
[forge]
type = "github"
api-url = "{url}/api/v3"
repo = "team/app"
[build]
type = "jenkins"
url = "{url}/jenkins/"
fix-job = "app-fix"
delivery-job = "app-delivery"
[deploy]
repo = "../deploy"
dcs = ["us1"]
argocd = {{ url = "{url}/argo", app = "app-{{dc}}" }}
"""
    )
    deploy = sandbox.root / "deploy"
    sandbox.g(sandbox.root, "init", "-q", str(deploy))
    return work


def test_doctor_names_the_login_page_of_every_service(
    sandbox: Sandbox, sso: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    kind, url = sso
    r = prodfix(world(sandbox, url, monkeypatch), "doctor")
    assert r.code == 1, r.out + r.err
    got = rows(r)
    assert got[("work", "GitHub token")] == (
        "FAILED",
        "the token from environment variable GH_ENTERPRISE_TOKEN does not authenticate: "
        + said(kind, "GitHub (127.0.0.1)", url, "/api/v3/user"),
    )
    assert got[("work", "Jenkins")] == (
        "FAILED",
        said(kind, "Jenkins", url, "/jenkins/me/api/json"),
    )
    assert got[("work", "Argo CD")] == ("FAILED", said(kind, "Argo CD", url, "/argo/api/version"))
    assert "next (Jenkins): a login page means prodfix is not reaching the API itself" in r.out
    assert "Traceback" not in r.err and "internal error" not in r.out + r.err


def test_a_github_command_exits_4(
    sandbox: Sandbox, sso: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    kind, url = sso
    r = prodfix(world(sandbox, url, monkeypatch), "pr", "list")
    assert (r.code, r.out) == (4, "")
    path = "/api/v3/repos/team/app/pulls"
    assert r.err.splitlines()[0] == "prodfix: error: " + said(kind, "GitHub (127.0.0.1)", url, path)


def test_the_jenkins_client_says_login_page_exit_4(sso: tuple[str, str]) -> None:
    kind, url = sso
    client = JenkinsClient(f"{url}/jenkins/", credentials=None, policy=RetryPolicy(attempts=1))
    with pytest.raises(LoginPage) as exc:
        client.json("job/app-delivery/", tree="builds[number]")
    assert exc.value.code == Exit.SERVICE
    assert exc.value.message == said(kind, "Jenkins", url, "/jenkins/job/app-delivery/api/json")


def test_the_argocd_client_says_login_page_not_unknown(sso: tuple[str, str]) -> None:
    kind, url = sso
    argo = ArgoCd(url, token="at0ken", project="team", policy=RetryPolicy(attempts=1))
    with pytest.raises(LoginPage) as exc:
        argo.get("app-us1")
    assert exc.value.code == Exit.SERVICE
    assert exc.value.message == said(kind, "Argo CD", url, "/api/v1/applications/app-us1")


def test_a_jenkins_trigger_may_still_be_answered_by_a_redirect() -> None:
    """Jenkins answers a build trigger with 201, or 302/303 when it merged it into a queued
    item: those callers say so, and keep working."""
    queued = Step(303, b"", (("Location", "/queue/item/7/"),), content_type="text/html")
    with FlakyServer([queued]) as srv:
        client = JenkinsClient(srv.url, credentials=None, policy=RetryPolicy(attempts=1))
        assert client.trigger("job/app/", None) == "queue/item/7/"
