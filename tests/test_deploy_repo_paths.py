"""`[deploy] repo` as the path of a bare repository, and `deploy --dry-run` saying why a DC is
refused (file, line, reason, what to do) in the human output, not only in --json."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from prodfix.workflow.deploy_repo import _bare
from tests.cli import prodfix
from tests.test_deploy_cmd import BRANCH, TAG, make_world


def test_a_bare_repository_path_is_cloned_into_the_cache_like_a_url(tmp_path: Path) -> None:
    # the service clone is sb/work/steps-python; the bare remote sb/remotes/deployment-infra.git
    w = make_world(tmp_path / "sb", repo="../../remotes/deployment-infra.git")
    r = prodfix(w.service, "deploy", "--tag", TAG, "--allow-missing")
    assert r.code == 0, r.err
    sha = w.remote_refs()[f"refs/heads/{BRANCH}"]
    assert w.git(w.infra_remote, "rev-parse", f"{sha}^") == w.remote_refs()["refs/heads/master"]
    (cache,) = (tmp_path / "prodfix-home" / "cache" / "deploy").iterdir()
    assert w.git(cache, "remote", "get-url", "origin") == str(w.infra_remote.resolve())
    assert w.git(cache, "rev-parse", BRANCH) == sha
    assert [(p["head"], p["state"]) for p in w.prs()] == [(BRANCH, "open")]
    # the next deploy fetches into the same cache clone
    new_master = w.push_infra("README: on-call", {"README.md": "on-call\n"})
    r = prodfix(w.service, "deploy", "--tag", "2026.11.2", "--dc", "eu1")
    assert r.code == 0, r.err
    other = w.remote_refs()["refs/heads/deploy/steps-python/2026.11.2"]
    assert w.git(w.infra_remote, "rev-parse", f"{other}^") == new_master
    assert list((tmp_path / "prodfix-home" / "cache" / "deploy").iterdir()) == [cache]


def test_a_path_that_is_no_repository_is_refused(tmp_path: Path) -> None:
    (tmp_path / "sb" / "nothing").mkdir(parents=True)
    w = make_world(tmp_path / "sb", repo="../../nothing")
    r = prodfix(w.service, "deploy", "--tag", TAG, "--dry-run")
    assert r.code == 2
    assert r.err.splitlines() == [
        f"prodfix: error: the deploy repository {tmp_path / 'sb' / 'nothing'} is neither a git "
        "clone nor a bare repository",
        "  next: set [deploy] repo to the path of a clone or of a bare repository, or a URL",
    ]


def test_dry_run_prints_why_a_dc_is_refused(tmp_path: Path) -> None:
    w = make_world(tmp_path / "sb", dcs=["us1", "eu1"])
    w.push_infra(
        "us1: a templated file",
        {
            "apps/sre-triggers/us1/templated.yaml": "apiVersion: apps/v1\nkind: Pod\n"
            "metadata:\n  name: {{ .Values.name }}\nspec:\n  containers:\n"
            "  - image: registry.example.com/sre-triggers/steps-python:1\n"
        },
    )
    r = prodfix(w.service, "deploy", "--tag", TAG, "--dry-run")
    assert r.code == 1
    lines = r.out.splitlines()
    i = lines.index("us1: refused")
    why = [n for n, ln in enumerate(lines) if "templated.yaml:4: cannot edit safely: " in ln]
    assert len(why) == 1 and why[0] > i  # under its DC, before the next DC's line
    assert lines[why[0]].startswith("  apps/sre-triggers/us1/templated.yaml:4: cannot edit")
    assert lines[why[0] + 1] == (
        "    next: a Go/Helm template is not YAML: pin the tag in the chart's values file instead"
    )
    assert lines.index("eu1: already at 2026.11.1, skipped") > why[0]


@pytest.mark.parametrize(
    "core",
    [
        "\tbare = true\n",
        "\tbare = false\n",
        "\tBare=TRUE\n",
        "\tbare\n",
        "\tbare = no ; a comment\n",
        "\tbare = on # another\n",
        '\tbare = "true"\n',
        "\tbare = 1\n",
        "\tbare =\n",
        "[include]\n\tpath = nowhere\n[core]\n\tbare = false\n",
        "",
    ],
)
def test_a_bare_repository_is_told_from_its_config_as_git_tells_it(
    tmp_path: Path, core: str
) -> None:
    """`_bare` reads core.bare from the config file where it can, else asks git: the two
    always agree (git's answer is `rev-parse --is-bare-repository` run on the directory)."""
    d = tmp_path / "r.git"
    subprocess.run(("git", "init", "-q", "--bare", str(d)), check=True)
    (d / "config").write_text("[core]\n\trepositoryformatversion = 0\n" + core)
    git = subprocess.run(
        ("git", "--git-dir", str(d), "rev-parse", "--is-bare-repository"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert _bare(d) is (git == "true")
