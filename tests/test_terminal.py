"""Terminal manners, in a real pseudo-terminal: NO_COLOR and TERM=dumb get plain ASCII (no box
drawing, no arrows); at 80 columns nothing is cut ("steps-p…"); wide (CJK) names align."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from prodfix.output import Reporter, cell_width
from tests.gitfix import Sandbox
from tests.scenario import World, fix_committed, service_world

BOX = set("─│┃━┏┓┗┛┡┩╇╈┼├┤┬┴╭╮╰╯│")


def in_terminal(w: World, *args: str, columns: int = 80, **env: str) -> str:
    """Run prodfix attached to a pseudo-terminal of `columns` columns; what the terminal shows."""
    leader, follower = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    full = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "LINES")}
    full.update({"TERM": "xterm-256color", **env})
    p = subprocess.Popen(
        [sys.executable, "-m", "prodfix", "-C", str(w.work), *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=full,
        close_fds=True,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    p.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def world(sandbox: Sandbox) -> World:
    w = service_world(sandbox)
    fix_committed(w)
    return w


def test_at_80_columns_the_repository_name_is_never_cut(world: World) -> None:
    shown = in_terminal(world, "status", columns=80)
    assert "work " in shown and "…" not in shown
    for line in shown.splitlines():
        assert cell_width(line.rstrip("\r")) <= 80, line


@pytest.mark.parametrize("env", [{"NO_COLOR": "1"}, {"TERM": "dumb"}])
def test_no_color_and_dumb_terminals_get_plain_ascii(world: World, env: dict[str, str]) -> None:
    shown = in_terminal(world, "status", columns=200, **env)
    assert "repository" in shown
    assert not BOX & set(shown), shown
    assert "\x1b[" not in shown  # no colour codes
    started = in_terminal(world, "test", "--dry-run", columns=200, **env)
    assert "→" not in started


def test_a_wide_terminal_gets_the_boxed_table(world: World) -> None:
    shown = in_terminal(world, "status", columns=200)
    assert BOX & set(shown)


def test_wide_characters_align(capsys: pytest.CaptureFixture[str]) -> None:
    Reporter().table("", ["repository", "test"], [["修正-リポ", "done"], ["steps-python", "ready"]])
    lines = capsys.readouterr().out.splitlines()
    cols = [cell_width(line.split("  ")[0]) for line in lines]
    positions = [cell_width(line[: line.rindex(line.split()[-1])]) for line in lines]
    assert len(set(positions)) == 1, (lines, cols)


def test_cell_width_counts_terminal_cells() -> None:
    assert cell_width("abc") == 3
    assert cell_width("修正") == 4
