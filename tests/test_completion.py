"""Shell completion through click's real protocol: `prodfix` run as a process with
`_PRODFIX_COMPLETE`, `COMP_WORDS` and `COMP_CWORD`, as the shells' scripts run it; and the
lines of docs/completion.md run in the shells themselves."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from prodfix.cli import cli
from tests.gitfix import Sandbox
from tests.repos import service_repo

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the environment's `prodfix` script lives beside python


def complete(words: str, cword: int, cwd: Path | None = None) -> list[str]:
    env = {
        **os.environ,
        "_PRODFIX_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(cword),
    }
    p = subprocess.run(
        [str(BIN / "prodfix")], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    assert p.returncode == 0 and p.stderr == "", p.stderr
    return [ln for ln in p.stdout.splitlines() if ln]  # click prints one empty line for none


def test_command_names_complete() -> None:
    assert complete("prodfix st", 1) == ["plain,start", "plain,status"]
    assert complete("prodfix pr ", 2) == [
        "plain,approve",
        "plain,list",
        "plain,merge",
        "plain,show",
    ]
    every = complete("prodfix ", 1)
    assert sorted(every) == sorted(f"plain,{name}" for name in cli.commands)


@pytest.fixture
def repo(sandbox: Sandbox) -> Path:
    work = service_repo(sandbox, ("delivery-2026.10", "delivery-2026.11"))
    sandbox.g(work, "branch", "delivery-local")  # never pushed: still offered
    sandbox.g(work, "switch", "-q", "-c", "fix/npe", "origin/delivery-2026.11")
    sandbox.g(work, "push", "-q", "origin", "fix/npe", "HEAD:refs/heads/fix/timeout")
    sandbox.g(work, "fetch", "-q", "origin")
    return work


def test_delivery_branches_complete_offline_from_local_refs(repo: Path, sandbox: Sandbox) -> None:
    sandbox.g(repo, "remote", "set-url", "origin", str(sandbox.root / "gone.git"))  # offline
    words = f"prodfix -C {repo} start hotfix --from "
    assert complete(words, 6) == [
        "plain,delivery-local",
        "plain,delivery-2026.10",
        "plain,delivery-2026.11",
    ]
    assert complete(words + "delivery-2026.1", 6) == [
        "plain,delivery-2026.10",
        "plain,delivery-2026.11",
    ]
    # from inside the repository, without -C
    assert complete("prodfix backmerge --from delivery-2", 3, cwd=repo) == [
        "plain,delivery-2026.10",
        "plain,delivery-2026.11",
    ]


def test_fix_names_follow_the_configured_template(repo: Path, sandbox: Sandbox) -> None:
    assert complete("prodfix status ", 2, cwd=repo) == ["plain,npe", "plain,timeout"]
    assert complete("prodfix next t", 2, cwd=repo) == ["plain,timeout"]
    (repo / ".prodfix.toml").write_text('fix-branch = "hotfix/{name}-fix"\n')
    sandbox.g(repo, "branch", "hotfix/parser-fix")
    assert complete("prodfix status ", 2, cwd=repo) == ["plain,parser"]


def test_outside_a_repository_values_complete_to_nothing(tmp_path: Path) -> None:
    assert complete("prodfix start x --from ", 4, cwd=tmp_path) == []


def code_blocks(lang: str) -> list[str]:
    text = (ROOT / "docs" / "completion.md").read_text()
    return re.findall(rf"```{lang}\n(.*?)\n```", text, re.S)


def shell_env(home: Path) -> dict[str, str]:
    return {**os.environ, "HOME": str(home), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def test_the_documented_bash_line_completes_in_bash(repo: Path, tmp_path: Path) -> None:
    install, to_file, check = code_blocks("bash")
    script = (
        f"{install}\n"
        "COMP_WORDS=(prodfix st); COMP_CWORD=1; _prodfix_completion prodfix\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
        f"cd {repo}; COMPREPLY=(); COMP_WORDS=(prodfix start x --from delivery-2026)\n"
        "COMP_CWORD=4\n"
        '_prodfix_completion prodfix; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    p = subprocess.run(
        ["bash", "--norc", "-c", script],
        env=shell_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["start", "status", "delivery-2026.10", "delivery-2026.11"]
    # the file variant writes the same script, and the check line answers as documented
    p = subprocess.run(
        ["bash", "--norc", "-c", to_file],
        env=shell_env(tmp_path),
        capture_output=True,
        check=False,
    )
    assert p.returncode == 0
    assert "_prodfix_completion" in (tmp_path / ".prodfix-complete.bash").read_text()
    assert (tmp_path / ".bashrc").read_text() == ". ~/.prodfix-complete.bash\n"
    p = subprocess.run(
        ["bash", "--norc", "-c", check],
        env=shell_env(tmp_path),
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert p.stdout.splitlines() == [
        "plain,delivery-local",
        "plain,delivery-2026.10",
        "plain,delivery-2026.11",
    ]


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_the_documented_zsh_line_registers_the_completion(tmp_path: Path) -> None:
    (line,) = code_blocks("zsh")
    script = f"autoload -Uz compinit && compinit -u\n{line}\nprint -r -- $_comps[prodfix]\n"
    p = subprocess.run(
        ["zsh", "-f", "-c", script],
        env=shell_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "_prodfix_completion"


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_the_documented_fish_line_completes_in_fish(tmp_path: Path) -> None:
    (line,) = code_blocks("fish")
    (tmp_path / ".config" / "fish" / "completions").mkdir(parents=True)
    env = {**shell_env(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / ".config")}
    p = subprocess.run(
        ["fish", "--no-config", "-c", line], env=env, capture_output=True, text=True, check=False
    )
    assert p.returncode == 0, p.stderr
    written = tmp_path / ".config" / "fish" / "completions" / "prodfix.fish"
    script = f"source {written}; complete --do-complete 'prodfix st'"
    p = subprocess.run(
        ["fish", "--no-config", "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert p.returncode == 0, p.stderr
    assert [ln.split("\t")[0] for ln in p.stdout.splitlines()] == ["start", "status"]
