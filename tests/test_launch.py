"""The click-free start of `prodfix check`: same arguments as click, same results, else click."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from prodfix import launch
from prodfix.cli import cli
from prodfix.cli import main as full_main
from tests.gitfix import Sandbox
from tests.test_policy import World

PLAIN = [
    ["check"],
    ["check", "--json"],
    ["check", "--no-fetch", "--json"],
    ["check", "fix/x"],
    ["check", "--into", "delivery"],
    ["check", "--into=delivery", "fix/x"],
    ["check", "fix/x", "--into", "delivery", "--json", "--no-fetch"],
    ["check", "--json", "fix/x", "--no-fetch"],
    ["-C", "some/dir", "check"],
    ["--debug", "check", "--json"],
    ["-C", "d", "--debug", "check", "master", "--into", "delivery-2026.11"],
]
NOT_PLAIN = [
    [],
    ["--version"],
    ["--help"],
    ["status"],
    ["check", "--help"],
    ["check", "-h"],
    ["check", "--json", "--json"],
    ["check", "a", "b"],
    ["check", "--into"],
    ["check", "--into", "--json"],
    ["check", "--into=a", "--into", "b"],
    ["check", "--bogus"],
    ["check", "--", "fix/x"],
    ["check", "--js"],
    ["-C"],
    ["-C", "a", "-C", "b", "check"],
    ["--debug", "--debug", "check"],
    ["-Cdir", "check"],
]


def click_parse(argv: list[str]) -> tuple[str | None, bool, dict[str, Any]]:
    """What click gives the group and `check` for argv (no command runs)."""
    ctx = cli.make_context("prodfix", list(argv))
    with warnings.catch_warnings():  # click 8.2 deprecates protected_args; 8.1 needs it
        warnings.simplefilter("ignore", DeprecationWarning)
        name, cmd, rest = cli.resolve_command(ctx, [*ctx.protected_args, *ctx.args])
    assert name == "check" and cmd is not None
    sub = cmd.make_context(name, rest, parent=ctx)
    p = sub.params
    kw = {"ref": p["ref"], "into": p["into"], "as_json": p["as_json"], "fetch": not p["no_fetch"]}
    directory = ctx.params["directory"]
    return (None if directory is None else str(directory)), ctx.params["debug"], kw


@pytest.mark.parametrize("argv", PLAIN, ids=" ".join)
def test_plain_arguments_parse_as_click_parses_them(argv: list[str]) -> None:
    assert launch.parse_check(argv) == click_parse(argv)


@pytest.mark.parametrize("argv", NOT_PLAIN, ids=lambda a: " ".join(a) or "(none)")
def test_anything_else_is_left_to_click(argv: list[str]) -> None:
    assert launch.parse_check(argv) is None


def run(capsys: pytest.CaptureFixture[str], entry: Any, argv: list[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        entry(argv)
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--no-fetch"],
        ["check", "--json", "--into", "delivery"],
        ["check", "nope"],
        ["check", "--help"],
    ],
    ids=" ".join,
)
def test_both_entries_give_the_same_result(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    world = World(sandbox)
    world.fix("fix/bad", "the fix", start="origin/master")
    argv = ["-C", str(world.w), *args]
    fast = run(capsys, launch.main, argv)
    assert fast == run(capsys, full_main, argv)
    assert fast[0] == {"--no-fetch": 1, "--json": 1, "nope": 2, "--help": 0}[args[1]]


def test_missing_directory_is_the_same_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["-C", "/nonexistent/prodfix", "check"]
    fast = run(capsys, launch.main, argv)
    assert fast == run(capsys, full_main, argv)
    assert fast == (
        2,
        "",
        "prodfix: error: cannot change to /nonexistent/prodfix: no such directory\n"
        "  next: check the path given to -C\n",
    )


# What `prodfix check` must not import: click (the full command line), and the standard modules
# the check never needs whose import costs more than its git processes (bench/bench_check_real.py):
# dataclasses (it imports inspect, ast, dis, tokenize), tomllib (once the configuration is
# cached), hashlib (locks and caches a --no-fetch check never takes), subprocess (local git
# commands start through adapters/spawn.py), and typing, re, pathlib, json, enum and what they
# bring (prodfix/tuples.py, jsontext.py, names.py stand in for the parts `check` uses).
NOT_ON_THE_CHECK_PATH = {
    "click", "dataclasses", "inspect", "tomllib", "hashlib", "subprocess", "threading",
    "typing", "re", "pathlib", "json", "enum", "functools", "fnmatch", "collections",
    "contextlib", "signal", "string", "urllib", "importlib",
}  # fmt: skip


def test_check_imports_nothing_it_does_not_use(sandbox: Sandbox) -> None:
    world = World(sandbox)
    world.fix("fix/bad", "the fix", start="origin/master")
    (world.w / ".prodfix.toml").write_text('delivery = "delivery*"\n')
    code = (
        "import atexit, sys; from prodfix.launch import main; "
        "atexit.register(lambda: print(' '.join(sorted(sys.modules)), file=sys.stderr)); "
        "main(['-C', sys.argv[1], 'check', '--no-fetch', '--json'])"
    )
    for _ in range(2):  # the first run caches the configuration
        p = subprocess.run(
            [sys.executable, "-c", code, str(world.w)], capture_output=True, text=True
        )
    assert p.returncode == 1 and json.loads(p.stdout)["findings"]
    loaded = {m.split(".")[0] for m in p.stderr.split()}
    assert loaded & NOT_ON_THE_CHECK_PATH == set()


def test_the_installed_command_imports_no_more_than_check_does(sandbox: Sandbox) -> None:
    """The `prodfix` script pip installed (bin/prodfix): unlike pip's entry-point wrapper, it
    imports nothing of its own (the wrapper imports `re`)."""
    world = World(sandbox)
    (world.w / ".prodfix.toml").write_text('delivery = "delivery*"\n')
    script = Path(sys.executable).with_name("prodfix")
    assert script.is_file(), "install prodfix (pip install -e .) to run this test"
    argv = [sys.executable, "-X", "importtime", str(script), "check", "--no-fetch", "--json"]
    for _ in range(2):  # the first run caches the configuration
        p = subprocess.run(argv, cwd=world.w, capture_output=True, text=True)
    assert p.returncode == 0 and json.loads(p.stdout) == {"ok": True, "findings": []}
    imported = {
        line.split("|")[-1].strip().split(".")[0]
        for line in p.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "prodfix" in imported
    assert imported & NOT_ON_THE_CHECK_PATH == set()
