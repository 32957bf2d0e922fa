"""`prodfix check` through the CLI: exit codes, human output, the --json document."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prodfix.cli import main
from tests.gitfix import Sandbox
from tests.test_policy import World

FINDING_KEYS = {"rule", "severity", "branch", "commits", "message", "hint"}


def prodfix(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.fixture
def world(sandbox: Sandbox) -> World:
    return World(sandbox)


def test_clean_repository_exits_0(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = prodfix(capsys, "-C", str(world.w), "check")
    assert (code, out, err) == (0, "check passed: no findings\n", "")


def test_violation_exits_1_grouped_by_rule(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.fix("fix/bad", "the fix", start="origin/master")
    code, out, _ = prodfix(capsys, "-C", str(world.w), "check", "--no-fetch")
    assert code == 1
    assert out.splitlines()[0] == "branched-from-master"
    assert f"    {world.b[:7]} master: feature B" in out.splitlines()
    assert f"    {world.a[:7]} master: feature A" in out.splitlines()
    own = world.g("rev-parse", "fix/bad")
    assert out.splitlines()[4:9] == [
        "    next: recreate fix/bad from origin/delivery with only its own commits:",
        "            git branch -f fix/bad-before-rebuild fix/bad   # keep the old commits",
        "            git switch -C fix/bad origin/delivery",
        f"            git cherry-pick {own}",
        "            git push --force-with-lease origin fix/bad   # if it was pushed",
    ]
    assert out.splitlines()[-1] == "check failed: 1 error"


def test_json_is_one_document_with_full_shas(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.fix("fix/bad", "the fix", start="origin/master")
    code, out, _ = prodfix(capsys, "-C", str(world.w), "check", "--json", "--into", "delivery")
    doc = json.loads(out)
    assert code == 1
    assert set(doc) == {"ok", "findings"}
    assert doc["ok"] is False
    assert all(set(f) == FINDING_KEYS for f in doc["findings"])
    by_rule = {f["rule"]: f for f in doc["findings"]}
    assert by_rule["branched-from-master"]["commits"] == [world.b, world.a]
    assert by_rule["branched-from-master"]["branch"] == "fix/bad"
    assert by_rule["master-merged-into-delivery"]["commits"] == [world.b, world.a]
    assert by_rule["master-merged-into-delivery"]["branch"] == "fix/bad"
    assert set(by_rule) == {"branched-from-master", "master-merged-into-delivery"}


def test_warning_and_info_exit_0(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.sb.clock.now = int(time.time()) - 86_400  # landed yesterday: within the 7 days
    world.fix("fix/one", "fix one")
    world.land("fix/one", "Merge PR #1 fix/one into delivery")
    world.land("origin/master", "Sync\n\nProdfix-Sync: train 12")
    code, out, _ = prodfix(capsys, "-C", str(world.w), "check", "master", "--json")
    doc = json.loads(out)
    assert [(f["rule"], f["severity"]) for f in doc["findings"]] == [
        ("master-merged-into-delivery", "info"),
        ("missing-backmerge", "warning"),
    ]
    assert doc["ok"] is True
    assert code == 0


@pytest.mark.parametrize("args", [("nope",), ("master", "--into", "nope")])
def test_unknown_ref_exits_2(
    world: World, capsys: pytest.CaptureFixture[str], args: tuple[str, ...]
) -> None:
    code, out, err = prodfix(capsys, "-C", str(world.w), "check", *args)
    assert (code, out) == (2, "")
    assert err.startswith("prodfix: error: ")
    assert "  next: " in err


def test_tie_exits_2_asking_for_into(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.g("push", "-q", "origin", "origin/delivery:refs/heads/delivery-2")
    world.fix("topic", "hand-made fix")
    code, _, err = prodfix(capsys, "-C", str(world.w), "check")
    assert code == 2
    assert "--into delivery" in err


def test_not_a_repository_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = prodfix(capsys, "-C", str(tmp_path), "check")
    assert code == 2
    assert "not inside a git repository" in err


def test_fetches_first_unless_told_not_to(
    world: World, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    other = sandbox.clone("other")
    sandbox.g(other, "checkout", "-q", "delivery")
    sandbox.g(other, "merge", "-q", "--no-ff", "-m", "oops", "origin/master")
    sandbox.push(other, "delivery")
    assert prodfix(capsys, "-C", str(world.w), "check", "master", "--no-fetch")[0] == 0
    code, out, _ = prodfix(capsys, "-C", str(world.w), "check", "master", "--json")
    assert code == 1
    assert json.loads(out)["findings"][0]["commits"] == [sandbox.g(other, "rev-parse", "HEAD")]


def test_config_comes_from_the_mainline_when_the_checkout_has_none(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.g("checkout", "-q", "master")
    world.commit("adopt prodfix", {".prodfix.toml": 'fix-branch = "hotfix/{name}"\n'})
    world.sb.push(world.w, "master")
    world.fix("hotfix/npe", "the fix")
    code, out, err = prodfix(capsys, "-C", str(world.w), "check", "--into", "delivery")
    assert (code, out) == (0, "check passed: no findings\n")
    assert "using the one on origin/master" in err


def test_json_stdout_is_clean_in_a_subprocess(world: World) -> None:
    world.g("remote", "remove", "origin")
    p = subprocess.run(
        [sys.executable, "-m", "prodfix", "-C", str(world.w), "check", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"ok": True, "findings": []}
    assert p.stderr == "prodfix: no remote 'origin': judging the local branches\n"
