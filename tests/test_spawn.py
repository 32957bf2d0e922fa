"""Local git commands run without subprocess (adapters/spawn.py): the same exit codes and text
as `subprocess.run(text=True)`, pipes that cannot stall, no descriptor left open."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from prodfix.adapters import git
from prodfix.adapters.gitproc import clean_env
from prodfix.adapters.spawn import run_to_end
from prodfix.errors import ProdfixError
from tests.gitfix import Sandbox


def by_subprocess(argv: list[str], cwd: Path, input: str | None = None) -> tuple[int, str, str]:
    p = subprocess.run(
        argv,
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="surrogateescape",
        env=clean_env(),
        check=False,
    )
    return p.returncode, p.stdout, p.stderr


def both(argv: list[str], cwd: Path, input: str | None = None) -> tuple[int, str, str]:
    ours = run_to_end(argv, str(cwd), input, clean_env())
    assert ours == by_subprocess(argv, cwd, input)
    return ours


@pytest.fixture
def work(sandbox: Sandbox) -> Path:
    sandbox.init_origin()
    return sandbox.clone("work")


def test_big_input_and_big_output_at_once_do_not_stall(sandbox: Sandbox, work: Path) -> None:
    # cat-file --batch answers while it reads: with either pipe full and unread, git and
    # prodfix would wait on each other for ever.
    blob = sandbox.g(work, "hash-object", "-w", "--stdin", input="x" * 100_000)
    code, out, _ = both(["git", "cat-file", "--batch"], work, f"{blob}\n" * 40)
    assert code == 0 and len(out) == 40 * (len(f"{blob} blob 100000\n") + 100_001)


def test_text_is_decoded_as_subprocess_decodes_it(sandbox: Sandbox, work: Path) -> None:
    # Universal newlines (\r\n and \r become \n) and undecodable bytes kept as surrogates.
    raw = work.parent / "raw"
    raw.write_bytes(b"crlf\r\nbare cr\rlatin-1 \xe9 end\n")
    blob = sandbox.g(work, "hash-object", "-w", str(raw))
    code, out, _ = both(["git", "cat-file", "blob", blob], work)
    assert (code, out) == (0, "crlf\nbare cr\nlatin-1 \udce9 end\n")


def test_a_failure_is_its_exit_code_and_stderr(work: Path) -> None:
    code, out, err = both(["git", "rev-parse", "--verify", "no-such-ref"], work)
    assert (code, out, err) == (128, "", "fatal: Needed a single revision\n")


def test_input_git_does_not_read_is_no_error(work: Path) -> None:
    code, out, _ = both(["git", "rev-parse", "--git-dir"], work, "x" * 1_000_000)
    assert (code, out) == (0, ".git\n")


def test_no_descriptor_is_left_open(work: Path) -> None:
    before = sorted(os.listdir("/proc/self/fd"))
    for input in (None, "", "x\n" * 100_000):
        run_to_end(["git", "hash-object", "--stdin"], str(work), input, clean_env())
    run_to_end(["git", "rev-parse", "no-such-ref"], str(work), None, clean_env())
    with pytest.raises(FileNotFoundError):
        run_to_end(["git", "status"], str(work / "missing"), None, clean_env())
    with pytest.raises(FileNotFoundError):
        run_to_end(["git", "status"], str(work), None, {"PATH": str(work)})
    assert sorted(os.listdir("/proc/self/fd")) == before


def test_a_missing_directory_or_git_is_a_clear_error(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ProdfixError, match="does not exist"):
        git.run(work / "missing", "status")
    monkeypatch.setenv("PATH", str(work))
    with pytest.raises(ProdfixError, match="git is not installed"):
        git.run(work, "status")


def test_git_and_its_children_get_sigpipe_back(work: Path) -> None:
    # Python ignores SIGPIPE; an ignored signal stays ignored across exec unless reset.
    alias = ["git", "-c", "alias.ign=!grep SigIgn /proc/self/status", "ign"]
    ours = run_to_end(alias, str(work), None, clean_env())
    theirs = by_subprocess(alias, work)
    # The standard signals 1-31 (glibc's posix_spawn leaves its own internal 32 and 33 ignored).
    masks = [int(r[1].split()[1], 16) & 0x7FFF_FFFF for r in (ours, theirs)]
    assert ours[0] == theirs[0] == 0 and masks[0] == masks[1]
    assert not masks[0] & (1 << (13 - 1))  # SIGPIPE is 13


def test_a_callers_inheritable_descriptor_does_not_reach_git(work: Path) -> None:
    r, w = os.pipe()
    os.set_inheritable(w, True)
    try:
        code, out, _ = both(["git", "-c", "alias.fds=!ls /proc/self/fd", "fds"], work)
        assert code == 0 and str(w) not in out.split()
    finally:
        os.close(r)
        os.close(w)
