from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from prodfix.adapters.credentials import Credential, discover_token

SECRET = "ghp_credential_sentinel_123"


@pytest.mark.parametrize(
    ("host", "env", "source"),
    [
        ("github.com", {"GH_TOKEN": "a", "GITHUB_TOKEN": "b"}, "environment variable GH_TOKEN"),
        (
            "github.com",
            {"GITHUB_TOKEN": "b", "GH_ENTERPRISE_TOKEN": "c"},
            "environment variable GITHUB_TOKEN",
        ),
        (
            "octo.ghe.com",
            {"GH_TOKEN": "a", "GH_ENTERPRISE_TOKEN": "c"},
            "environment variable GH_TOKEN",
        ),
        (
            "ghe.example.com",
            {"GH_TOKEN": "a", "GH_ENTERPRISE_TOKEN": "c", "GITHUB_ENTERPRISE_TOKEN": "d"},
            "environment variable GH_ENTERPRISE_TOKEN",
        ),
        (
            "ghe.example.com",
            {"GITHUB_TOKEN": "b", "GITHUB_ENTERPRISE_TOKEN": "d"},
            "environment variable GITHUB_ENTERPRISE_TOKEN",
        ),
    ],
)
def test_environment_order_per_host(
    host: str, env: dict[str, str], source: str, tmp_path: Path
) -> None:
    cred = discover_token(host, env={**env, "PATH": str(tmp_path)})
    assert cred is not None and cred.source == source
    assert cred.secret == env[source.rsplit(" ", 1)[1]]


def test_github_com_token_is_not_used_for_enterprise(tmp_path: Path) -> None:
    env = {"GH_TOKEN": "a", "GITHUB_TOKEN": "b", "PATH": str(tmp_path)}
    assert discover_token("ghe.example.com", env=env) is None


def fake_gh(tmp_path: Path, body: str) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    gh = bindir / "gh"
    gh.write_text("#!/bin/sh\n" + body)
    gh.chmod(gh.stat().st_mode | stat.S_IXUSR)
    return bindir


def test_gh_auth_token_fallback(tmp_path: Path) -> None:
    argv = tmp_path / "argv"
    bindir = fake_gh(
        tmp_path,
        f'echo "$@" > {argv}\n'
        f'[ "$*" = "auth token --hostname ghe.example.com" ] && echo {SECRET} && exit 0\nexit 1\n',
    )
    cred = discover_token("ghe.example.com", env={"PATH": str(bindir)})
    assert cred is not None
    assert cred.source == "`gh auth token --hostname ghe.example.com`"
    assert cred.secret == SECRET
    assert argv.read_text() == "auth token --hostname ghe.example.com\n"
    assert SECRET not in repr(cred) and SECRET not in str(cred) and SECRET not in f"{cred}"


def test_environment_wins_over_gh(tmp_path: Path) -> None:
    bindir = fake_gh(tmp_path, f"echo {SECRET}\n")
    cred = discover_token("github.com", env={"PATH": str(bindir), "GITHUB_TOKEN": "env"})
    assert cred == Credential("environment variable GITHUB_TOKEN", "env")


@pytest.mark.parametrize(
    "script",
    [
        "echo 'no oauth token found for ghe.example.com' >&2; exit 1\n",
        "exit 0\n",  # success without output
        "exec sleep 5\n",  # hangs: the timeout applies
    ],
)
def test_gh_without_a_token_means_none(tmp_path: Path, script: str) -> None:
    bindir = fake_gh(tmp_path, script)
    assert discover_token("ghe.example.com", env={"PATH": str(bindir)}, timeout=0.5) is None


def test_no_gh_on_path_means_none(tmp_path: Path) -> None:
    assert discover_token("github.com", env={"PATH": str(tmp_path)}) is None


def test_discovery_reads_the_process_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GH_TOKEN", SECRET)
    monkeypatch.setenv("PATH", str(tmp_path) + os.pathsep + "/nonexistent")
    cred = discover_token("github.com")
    assert cred is not None and cred.secret == SECRET
    assert repr(cred) == "Credential(source='environment variable GH_TOKEN')"
