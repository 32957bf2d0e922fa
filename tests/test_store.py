from __future__ import annotations

import gc
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from prodfix.adapters.http import Http
from prodfix.adapters.store import SCHEMA_VERSION, Store
from prodfix.commands.start import StartFacts, plan
from prodfix.types import Sha
from prodfix.workflow.ops_git import CreateBranch, RecordFix, SetBranchConfig, Switch
from prodfix.workflow.ops_records import PublishFix
from tests.cli import prodfix
from tests.gitfix import Sandbox
from tests.repos import service_repo

WRITER = """
import sys
from prodfix.adapters.store import Store
s = Store()
for i in range(200):
    with s.tx() as db:  # read-modify-write: a counter two processes increment
        row = db.execute("SELECT value FROM ident WHERE fix='f' AND path='p' AND key='n'").fetchone()
        n = int(row[0]) if row else 0
        db.execute("INSERT INTO ident(fix, path, key, value, at) VALUES ('f','p','n',?,0) "
                   "ON CONFLICT(fix, path, key) DO UPDATE SET value=excluded.value", (str(n + 1),))
    s.set_ident("f", "p", f"w{sys.argv[1]}-{i}", i)
"""


def test_two_processes_lose_nothing() -> None:
    Store().add_repo("f", "p", role="service", kind="python")
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(k)]) for k in (1, 2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    ids = Store().idents("f", "p")
    assert ids["n"] == 400
    assert sum(1 for k in ids if k.startswith("w")) == 400


def test_database_is_private_and_versioned() -> None:
    s = Store()
    assert stat.S_IMODE(s.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(s.path.parent.stat().st_mode) == 0o700
    assert s.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_start_plan_as_data() -> None:
    f = StartFacts("npe", "fix/npe", "delivery-2026.11", Sha("a" * 40), "python")
    assert plan(f) == [
        CreateBranch("fix/npe", "a" * 40),
        SetBranchConfig("fix/npe", "prodfix-delivery", "delivery-2026.11"),
        RecordFix("npe", "service", "python", "delivery-2026.11", "fix/npe", "a" * 40),
        PublishFix("npe", "fix/npe", "delivery-2026.11", "a" * 40, "python"),
        Switch("fix/npe"),
    ]
    assert [op.to_json()["op"] for op in plan(f)] == [
        "CreateBranch",
        "SetBranchConfig",
        "RecordFix",
        "PublishFix",
        "Switch",
    ]


def test_missing_test_tool_is_not_installed_not_a_failed_test(sandbox: Sandbox) -> None:
    work = service_repo(sandbox)
    (work / ".prodfix.toml").write_text('[test]\ncommand = "no-such-tool-xyz --flag"\n')
    sandbox.g(work, "add", ".prodfix.toml")
    sandbox.g(work, "commit", "-qm", "config")
    sandbox.g(work, "push", "-q", "origin", "master")  # the fix branch reads master's copy
    assert prodfix(work, "start", "x").code == 0
    sandbox.commit(work, "fix", {"app.py": "x = 1\n"})
    r = prodfix(work, "test")
    assert r.code == 2  # the machine lacks a tool: not a failed test
    assert "no-such-tool-xyz is not installed (not found on PATH)" in r.err
    assert "[test] command" in r.err and "failed" not in r.err
    doc = json.loads(prodfix(work, "status", "--json").out)
    test = next(s for s in doc["fixes"][0]["repos"][0]["steps"] if s["id"] == "test")
    assert test["state"] == "ready"  # nothing recorded: the tests never ran


def test_status_survives_a_deleted_or_moved_clone(sandbox: Sandbox, tmp_path: Path) -> None:
    """A fix started in two repositories; one clone is deleted: status shows the fix in the
    clone that is left (no FAILED steps for the one that is gone), and a clone moved
    elsewhere finds its fixes again from the remote."""
    work = service_repo(sandbox)
    assert prodfix(work, "start", "x").code == 0
    other = Sandbox(tmp_path / "other")
    gone = service_repo(other)
    assert prodfix(gone, "start", "x").code == 0
    r = prodfix(work, "status", "--json")
    assert [len(f["repos"]) for f in json.loads(r.out)["fixes"]] == [2]
    moved = tmp_path / "moved"
    gone.rename(moved)
    r = prodfix(work, "status", "--json")
    assert r.code == 0, r.err
    (fix,) = json.loads(r.out)["fixes"]
    assert [rp["path"] for rp in fix["repos"]] == [str(work)]
    assert fix["repos"][0]["steps"][0]["state"] == "done"
    r = prodfix(moved, "status", "--json")
    assert r.code == 0, r.err
    (fix,) = json.loads(r.out)["fixes"]
    assert fix["name"] == "x" and fix["repos"][0]["path"] == str(moved)
    assert prodfix(work, "status").code == 0


def test_tls_verification_off_warns_every_time(capsys: object) -> None:
    for _ in range(2):
        Http("Jenkins", "https://jenkins.example.com", verify=False).close()
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert err.count("TLS verification is OFF for Jenkins") == 2
    assert "insecure-skip-tls-verify" in err
    assert os.environ.get("PRODFIX_HOME")


def test_the_test_command_gets_wildcards_expanded_like_a_shell(sandbox: Sandbox) -> None:
    """The Go default `go test -v ./test/*.go` names files: the command runs without a shell,
    so prodfix expands the pattern itself (two files here: the script sees two arguments)."""
    work = service_repo(sandbox)
    assert prodfix(work, "start", "x").code == 0
    files = {
        ".prodfix.toml": '[test]\ncommand = "sh count.sh ./t/*.txt"\n',
        "count.sh": '[ "$#" -eq 2 ] || { echo "got $# arguments: $*"; exit 1; }\n',
        "t/a.txt": "a\n",
        "t/b.txt": "b\n",
    }
    sandbox.commit(work, "the fix and its tests", files)
    r = prodfix(work, "test")
    assert r.code == 0, r.out + r.err


def _open_databases() -> list[str]:
    """This process's open descriptors on this test's prodfix.db (and its -wal/-shm files;
    other tests' stores are not this test's business)."""
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        pytest.skip("needs /proc")
    found = []
    for fd in fds.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # the listing's own descriptor, closed by now
            continue
        if target.startswith(os.environ["PRODFIX_HOME"]):
            found.append(target)
    return found


def test_a_command_run_in_process_closes_its_database(sandbox: Sandbox, tmp_path: Path) -> None:
    """prodfix as a library (and the team service, the tests) runs commands in one process:
    each closes the record store it opened, also when it fails, so nothing accumulates."""
    work = service_repo(sandbox)
    gc.disable()  # no collection closes a forgotten connection behind our back
    try:
        assert prodfix(work, "start", "x").code == 0
        assert _open_databases() == []
        assert prodfix(work, "start", "x").code != 0  # refused: the fix exists
        assert _open_databases() == []
        outside = tmp_path / "elsewhere"
        outside.mkdir()
        r = prodfix(outside, "status", "--all", "--json")  # the store, then the clone's context
        assert r.code == 0, r.err
        assert [f["name"] for f in json.loads(r.out)["fixes"]] == ["x"]
        assert _open_databases() == []
    finally:
        gc.enable()
