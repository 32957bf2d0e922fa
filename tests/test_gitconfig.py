"""A remote's URL read from the clone's config file agrees with `git config --get`, on config
files written to be hard to read; where the reader is not sure it says so and git is asked."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prodfix.adapters.git import Repo
from prodfix.adapters.gitconfig import remote_url

TRICKY = [
    '[remote "origin"]\n\turl = git@example.com:team/svc.git\n',
    '[remote "origin"]\n\turl = a\n\turl = b\n',
    '[Remote "origin"]\n\tURL = "c d" ; a comment\n',
    '[remote "Origin"]\n\turl = wrong\n[remote "origin"]\n\turl = right # comment\n',
    '[remote "origin"]\n\turl\n',
    '[remote "origin"]\n\turl = "  spaced  "\n',
    '[remote "origin"]\n\turl = a\\tb\n',
    '[remote "origin"]\n\turl = x\\\n y\n',
    "[remote.origin]\n\turl = old-form\n",
    '[include]\n\tpath = other\n[remote "origin"]\n\turl = a\n',
    '[remote "o\\"q"]\n\turl = quoted-name\n',
    '[remote "origin"]\n\tpushurl = p\n',
    "",
    '[remote "origin"] url = same-line\n',
    '[remote "origin"]\n\turl = "unterminated\n',
    '[remote "origin"]\n\turl = one ; two\n\turl = "three;four"\n',
]


def _git(d: Path, remote: str) -> str | None:
    r = subprocess.run(
        ("git", "config", "--get", f"remote.{remote}.url"),
        cwd=d,
        capture_output=True,
        text=True,
        check=False,
    )
    return r.stdout.strip() or None if r.returncode == 0 else None


def _clone(d: Path, extra: str) -> Path:
    subprocess.run(("git", "init", "-q", str(d)), check=True)
    with (d / ".git" / "config").open("a") as f:
        f.write(extra)
    return d


@pytest.mark.parametrize("text", TRICKY)
@pytest.mark.parametrize("remote", ["origin", 'o"q'])
def test_the_file_reader_agrees_with_git_or_defers(tmp_path: Path, text: str, remote: str) -> None:
    d = _clone(tmp_path / "r", text)
    if "[include]" in text:
        (d / ".git" / "other").write_text('[remote "origin"]\n\turl = included\n')
    known, url = remote_url(str(d / ".git"), remote)
    git = _git(d, remote)
    if known:  # as prodfix reads both answers: outer blanks dropped, empty is no URL
        assert ((url or "").strip() or None) == git
    assert Repo(d).remote_url(remote) == git


_line = st.sampled_from(
    [
        '[remote "origin"]',
        '[REMOTE "origin"]',
        '[remote "other"]',
        "[core]",
        "\turl = a",
        "\tURL=b",
        '\turl = "x y"',
        "\turl = c ; note",
        "\turl = d#e",
        '\turl = "f;g"',
        "\turl",
        "# comment",
        "\tname = value",
        '\turl = "h\\"i"',
        "\turl = j\\\\k",
        "\turl =   spaced out   ",
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_line, max_size=8))
def test_random_config_files(tmp_path_factory: pytest.TempPathFactory, lines: list[str]) -> None:
    d = _clone(tmp_path_factory.mktemp("r"), "\n".join(lines) + "\n")
    known, url = remote_url(str(d / ".git"), "origin")
    if known:
        assert ((url or "").strip() or None) == _git(d, "origin"), lines


def test_config_from_the_environment_never_counts_and_worktree_config_defers_to_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The git prodfix runs gets no GIT_CONFIG_* variables (its environment keeps only the GIT_
    variables it names): the file's answer stands, as git's does. A `config.worktree` may
    override the file: git is asked."""
    d = _clone(tmp_path / "r", '[remote "origin"]\n\turl = a\n')
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "remote.origin.url")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "from-env")
    assert remote_url(str(d / ".git"), "origin") == (True, "a")
    assert Repo(d).remote_url("origin") == "a"
    repo = Repo(d)
    repo.git("config", "extensions.worktreeConfig", "true")
    (d / ".git" / "config.worktree").write_text('[remote "origin"]\n\turl = per-worktree\n')
    assert remote_url(str(d / ".git"), "origin") == (False, None)
    assert repo.remote_url("origin") == "per-worktree"
