from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from prodfix.adapters.credentials import Credential, discover_token, missing_token
from tests.cli import prodfix
from tests.gitfix import Sandbox
from tests.repos import service_repo

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


@pytest.mark.parametrize(
    ("host", "env", "message", "hint"),
    [
        (
            "ghe.example.com",
            {"GH_TOKEN": SECRET},
            "no GitHub token for ghe.example.com: read GH_ENTERPRISE_TOKEN and "
            "GITHUB_ENTERPRISE_TOKEN (neither set), then gh (not installed); GH_TOKEN is set, "
            "but like gh, prodfix uses it only for github.com and *.ghe.com hosts",
            "set GH_ENTERPRISE_TOKEN or GITHUB_ENTERPRISE_TOKEN, or run "
            "`gh auth login --hostname ghe.example.com`",
        ),
        (
            "github.com",
            {"GH_ENTERPRISE_TOKEN": SECRET, "GITHUB_ENTERPRISE_TOKEN": SECRET},
            "no GitHub token for github.com: read GH_TOKEN and GITHUB_TOKEN (neither set), then "
            "gh (not installed); GH_ENTERPRISE_TOKEN and GITHUB_ENTERPRISE_TOKEN are set, but "
            "like gh, prodfix uses them only for GitHub Enterprise Server hosts",
            "set GH_TOKEN or GITHUB_TOKEN, or run `gh auth login --hostname github.com`",
        ),
        (
            "octo.ghe.com",
            {},
            "no GitHub token for octo.ghe.com: read GH_TOKEN and GITHUB_TOKEN (neither set), "
            "then gh (not installed)",
            "set GH_TOKEN or GITHUB_TOKEN, or run `gh auth login --hostname octo.ghe.com`",
        ),
    ],
)
def test_missing_token_says_what_was_read_and_what_to_set(
    host: str, env: dict[str, str], message: str, hint: str, tmp_path: Path
) -> None:
    env = {**env, "PATH": str(tmp_path)}
    assert discover_token(host, env=env) is None
    missing = missing_token(host, env=env)
    assert (missing.message, missing.hint) == (message, hint)
    assert SECRET not in missing.message + missing.hint


def test_missing_token_names_gh_when_it_had_none(tmp_path: Path) -> None:
    bindir = fake_gh(tmp_path, "exit 1\n")
    env = {"PATH": str(bindir)}
    assert discover_token("ghe.example.com", env=env) is None
    assert missing_token("ghe.example.com", env=env).searched == (
        "GH_ENTERPRISE_TOKEN and GITHUB_ENTERPRISE_TOKEN (neither set), then "
        "`gh auth token --hostname ghe.example.com` (no token)"
    )


def test_doctor_on_an_enterprise_host_with_only_gh_token(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    work = service_repo(sandbox)
    sandbox.g(work, "remote", "set-url", "origin", "git@git.acme.invalid:team/app.git")
    (work / ".prodfix.toml").write_text('kind = "python"\n[forge]\ntype = "github"\n')
    bindir = tmp_path / "only-git"
    bindir.mkdir()
    git = shutil.which("git")
    assert git is not None
    (bindir / "git").symlink_to(git)
    monkeypatch.setenv("PATH", str(bindir))  # no gh here, whatever the machine has
    monkeypatch.setenv("GH_TOKEN", SECRET)
    r = prodfix(work, "doctor")
    assert SECRET not in r.out + r.err
    lines = r.out.splitlines()
    (row,) = [ln for ln in lines if "GitHub token" in ln and not ln.startswith("next")]
    assert row.split("warning", 1)[1].strip() == (
        "none found for git.acme.invalid; propose will push and print the compare URL instead "
        "of opening the PR; read GH_ENTERPRISE_TOKEN and GITHUB_ENTERPRISE_TOKEN (neither set), "
        "then gh (not installed); GH_TOKEN is set, but like gh, prodfix uses it only for "
        "github.com and *.ghe.com hosts"
    )
    assert (
        "next (GitHub token): set GH_ENTERPRISE_TOKEN or GITHUB_ENTERPRISE_TOKEN, or run "
        "`gh auth login --hostname git.acme.invalid`"
    ) in lines


def test_credentials_does_not_import_the_forge() -> None:
    """credentials ↔ forge/github imported each other; credentials sits below the forge."""
    import ast

    import prodfix.adapters.credentials as mod

    tree = ast.parse(Path(mod.__file__).read_text())
    imported = [
        n.module if isinstance(n, ast.ImportFrom) else alias.name
        for n in ast.walk(tree)
        if isinstance(n, ast.Import | ast.ImportFrom)
        for alias in n.names
    ]
    assert imported and not [m for m in imported if m and "forge" in m]
