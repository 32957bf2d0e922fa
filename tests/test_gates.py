"""`prodfix check` where teams put gates, run for real: the shipped pre-commit hook through the
real `pre-commit` package (pre-push), and the GitHub Actions step and Jenkins stage of
docs/gates.md, whose shell lines are read from the doc itself so the two cannot drift."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests.gitfix import Sandbox
from tests.repos import service_repo

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # prodfix and pre-commit of this environment


def gate(name: str) -> tuple[str, str]:
    """(language, text) of the code block marked `<!-- gate: NAME -->` in docs/gates.md."""
    doc = (ROOT / "docs" / "gates.md").read_text()
    m = re.search(rf"<!-- gate: {re.escape(name)} -->\n```(\w+)\n(.*?)\n```\n", doc, re.S)
    assert m is not None, f"docs/gates.md has no block marked {name}"
    return m.group(1), m.group(2)


def yaml_gate(name: str) -> Any:
    lang, text = gate(name)
    assert lang == "yaml"
    return YAML(typ="safe").load(text)


@dataclass
class Repo:
    sb: Sandbox
    work: Path
    good: str  # fix/good: one commit on origin/delivery
    bad: str  # fix/bad: one commit on origin/master, which carries a master-only commit

    def env(self, **extra: str) -> dict[str, str]:
        # pre-commit builds the hook's environment with virtualenv and pip: no byte-compiling
        # of what pip installs (the hook compiles what it imports), and no background
        # update check of virtualenv's bundled wheels (a process that would outlive the test).
        # PIP_COMPILE=0, not PIP_NO_COMPILE=1: pip gives a `--no-…` option's variable to the
        # option's destination as it is, so PIP_NO_COMPILE=1 *turns compiling on*.
        quiet = {"PIP_COMPILE": "0", "VIRTUALENV_NO_PERIODIC_UPDATE": "1"}
        return {**os.environ, **quiet, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **extra}

    def sh(
        self, argv: list[str], cwd: Path | None = None, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            cwd=cwd or self.work,
            env=self.env(**env),
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )


@pytest.fixture
def repo(sandbox: Sandbox) -> Repo:
    work = service_repo(sandbox)
    sandbox.g(work, "switch", "-q", "-c", "fix/bad", "origin/master")
    bad = sandbox.commit(work, "fix: from master by mistake", {"bad.txt": "x\n"})
    sandbox.g(work, "switch", "-q", "-c", "fix/good", "origin/delivery")
    good = sandbox.commit(work, "fix: the npe", {"good.txt": "y\n"})
    return Repo(sandbox, work, good, bad)


# -- pre-commit ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the module: pre-commit installs the hook's environment once."""
    return tmp_path_factory.mktemp("pre-commit-home")


def install_hook(repo: Repo, config: Any, home: Path) -> None:
    out = io.StringIO()
    YAML().dump(config, out)
    (repo.work / ".pre-commit-config.yaml").write_text(out.getvalue())
    lang, line = gate("pre-commit-install")
    assert lang == "sh"
    r = repo.sh(["sh", "-ec", line], PRE_COMMIT_HOME=str(home))
    assert r.returncode == 0, r.stdout + r.stderr


def push(repo: Repo, branch: str, home: Path) -> subprocess.CompletedProcess[str]:
    repo.sb.g(repo.work, "switch", "-q", branch)
    return repo.sh(["git", "push", "-q", "origin", branch], PRE_COMMIT_HOME=str(home))


def assert_gate(repo: Repo, home: Path) -> None:
    refused = push(repo, "fix/bad", home)
    assert refused.returncode != 0
    said = refused.stdout + refused.stderr
    assert "prodfix check" in said and "Failed" in said
    assert "branched-from-master" in said and "error: fix/bad:" in said
    assert "refs/heads/fix/bad" not in repo.sb.remote_refs()
    passed = push(repo, "fix/good", home)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert repo.sb.remote_refs()["refs/heads/fix/good"] == repo.good


@pytest.mark.slow
def test_the_shipped_pre_commit_hook_refuses_a_push_branched_from_master(
    repo: Repo, pre_commit_home: Path
) -> None:
    """pre-commit clones this checkout (offline, from its path) at HEAD and installs it."""
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    config = yaml_gate("pre-commit")
    (entry,) = config["repos"]
    assert [h["id"] for h in entry["hooks"]] == ["prodfix-check"]
    entry["repo"], entry["rev"] = str(ROOT), head
    install_hook(repo, config, pre_commit_home)
    assert_gate(repo, pre_commit_home)


def test_the_documented_local_hook(repo: Repo, tmp_path: Path) -> None:
    install_hook(repo, yaml_gate("pre-commit-local"), tmp_path / "pre-commit-home")
    assert_gate(repo, tmp_path / "pre-commit-home")


def test_the_hook_definition_is_the_documented_one() -> None:
    (shipped,) = YAML(typ="safe").load((ROOT / ".pre-commit-hooks.yaml").read_text())
    (local,) = yaml_gate("pre-commit-local")["repos"][0]["hooks"]
    for key in ("id", "entry", "pass_filenames", "always_run", "stages"):
        assert shipped[key] == local[key], key
    assert shipped["language"] == "python" and local["language"] == "system"


# -- CI systems --------------------------------------------------------------------------------


@pytest.fixture
def ci_checkout(repo: Repo) -> Iterator[Path]:
    """What a CI job sees: a fresh clone of origin where both fix branches were pushed."""
    repo.sb.g(repo.work, "push", "-q", "origin", "fix/bad", "fix/good")
    ci = repo.sb.clone("ci")
    yield ci


def actions_step() -> tuple[str, dict[str, str]]:
    workflow = yaml_gate("github-actions")
    (step,) = [s for s in workflow["jobs"]["check"]["steps"] if s.get("name") == "prodfix check"]
    return step["run"], step["env"]


@pytest.mark.parametrize(("branch", "code"), [("fix/bad", 1), ("fix/good", 0)])
def test_the_documented_github_actions_step(
    repo: Repo, ci_checkout: Path, branch: str, code: int
) -> None:
    script, env = actions_step()
    assert env == {"PR_HEAD_SHA": "${{ github.event.pull_request.head.sha }}"}
    head = repo.good if branch == "fix/good" else repo.bad
    repo.sb.g(ci_checkout, "checkout", "-q", "--detach", head)  # as actions/checkout leaves it
    # GitHub runs `run:` with bash --noprofile --norc -eo pipefail {0}
    r = repo.sh(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        cwd=ci_checkout,
        GITHUB_HEAD_REF=branch,
        GITHUB_BASE_REF="delivery",
        PR_HEAD_SHA=head,
    )
    assert r.returncode == code, r.stdout + r.stderr
    if code:
        assert "branched-from-master" in r.stdout and "error: fix/bad:" in r.stdout
    else:
        assert "check passed" in r.stdout


def jenkins_script() -> str:
    lang, text = gate("jenkins")
    assert lang == "groovy"
    m = re.search(r"sh '''\n(.*?)\n\s*'''", text, re.S)
    assert m is not None
    return m.group(1)


@pytest.mark.parametrize(("branch", "code"), [("fix/bad", 1), ("fix/good", 0)])
def test_the_documented_jenkins_stage(
    repo: Repo, ci_checkout: Path, branch: str, code: int
) -> None:
    head = repo.good if branch == "fix/good" else repo.bad
    repo.sb.g(ci_checkout, "checkout", "-q", "--detach", head)
    # Jenkins runs an `sh` step's script with `sh -xe`.
    r = repo.sh(
        ["sh", "-xe", "-c", jenkins_script()],
        cwd=ci_checkout,
        CHANGE_BRANCH=branch,
        CHANGE_TARGET="delivery",
    )
    assert r.returncode == code, r.stdout + r.stderr
    if code:
        assert "branched-from-master" in r.stdout and "error: fix/bad:" in r.stdout
    else:
        assert "check passed" in r.stdout
