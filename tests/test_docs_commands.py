"""docs/commands.md cannot drift from the command line: each command's synopsis and option table
there is generated from the click command tree, and this test regenerates and compares them.

A new command or option, a changed help text, a removed flag: the test fails and says to run

    python -m tests.test_docs_commands

which rewrites the generated blocks in place (and appends a section for a command the page does
not have yet, to be described by hand). Everything outside the blocks is prose, written by hand.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from prodfix.cli import cli

DOC = Path(__file__).resolve().parents[1] / "docs" / "commands.md"
BLOCK = re.compile(
    r"<!-- generated: (?P<name>prodfix[^>]*?) -->\n(?P<body>.*?)<!-- end -->\n", re.S
)
HOWTO = "run `python -m tests.test_docs_commands` to regenerate docs/commands.md"


def commands(
    group: click.Group = cli, path: tuple[str, ...] = ("prodfix",)
) -> Iterator[tuple[str, click.Command, click.Context]]:
    """(full name, command, context) of the program itself and every command, in CLI order."""
    ctx = click.Context(group, info_name=path[-1])
    if group is cli:
        yield "prodfix", group, ctx
    for name, cmd in group.commands.items():
        sub = click.Context(cmd, info_name=name, parent=ctx)
        full = " ".join((*path, name))
        if isinstance(cmd, click.Group):
            yield full, cmd, sub
            yield from commands(cmd, (*path, name))
        else:
            yield full, cmd, sub


def _usage_piece(param: click.Parameter, ctx: click.Context) -> str:
    metavar = param.make_metavar(ctx)
    if isinstance(param, click.Argument):
        return metavar
    assert isinstance(param, click.Option)
    name = max(param.opts, key=len)
    if param.is_flag:
        piece = name
    else:
        choice = metavar.startswith("[") and metavar.endswith("]")
        piece = f"{name} {metavar[1:-1] if choice else metavar}"
    if param.multiple:
        return f"[{piece}]..."
    return piece if param.required else f"[{piece}]"


def _is_help(param: click.Parameter) -> bool:
    return isinstance(param, click.Option) and "--help" in param.opts


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def generate(full: str, cmd: click.Command, ctx: click.Context) -> str:
    """The generated block of one command: its synopsis and its options as `--help` shows them."""
    params = [p for p in cmd.get_params(ctx) if not _is_help(p)]
    if isinstance(cmd, click.Group) and cmd is not cli:
        verbs = "|".join(cmd.commands)
        synopsis = f"{full} {verbs} ..."
    else:
        pieces = [_usage_piece(p, ctx) for p in params]
        synopsis = " ".join([full, *pieces])
        if cmd is cli:
            synopsis += " COMMAND ..."
    lines = ["```text", synopsis, "```", ""]
    rows = [p.get_help_record(ctx) for p in params if isinstance(p, click.Option)]
    if cmd is cli:
        rows.append(("-h, --help", "Show the help of prodfix or of a command, and exit."))
    if rows:
        lines += ["| option | meaning |", "|---|---|"]
        lines += [f"| `{_cell(opt)}` | {_cell(text)} |" for opt, text in (r for r in rows if r)]
        lines.append("")
    return "\n".join(lines)


def expected() -> dict[str, str]:
    return {full: generate(full, cmd, ctx) for full, cmd, ctx in commands()}


def test_every_command_has_its_generated_block() -> None:
    found = {m["name"]: m["body"] for m in BLOCK.finditer(DOC.read_text())}
    want = expected()
    assert sorted(set(want) - set(found)) == [], f"commands missing from the page: {HOWTO}"
    assert sorted(set(found) - set(want)) == [], f"blocks of commands that do not exist: {HOWTO}"
    for name, body in want.items():
        assert found[name] == body, f"{name}: the page differs from the command line; {HOWTO}"


def test_every_option_appears_in_its_commands_section() -> None:
    """Belt and braces for the prose: each option is named in the section of its command."""
    text = DOC.read_text()
    for full, cmd, ctx in commands():
        if cmd is cli:
            continue
        heading = re.search(rf"^#+ `{re.escape(full)}`.*$", text, re.M)
        assert heading is not None, f"docs/commands.md has no heading for `{full}`"
        rest = text[heading.end() :]
        nxt = re.search(r"^#{1,3} `prodfix", rest, re.M)
        section = rest[: nxt.start()] if nxt else rest
        for p in cmd.get_params(ctx):
            if isinstance(p, click.Option) and not _is_help(p):
                assert max(p.opts, key=len) in section, f"{full}: {p.opts} not in its section"


def write() -> None:
    text = DOC.read_text()
    want = expected()
    seen: set[str] = set()

    def replace(m: re.Match[str]) -> str:
        name = m["name"]
        if name not in want:
            return ""  # the command is gone; its prose is left for a person to remove
        seen.add(name)
        return f"<!-- generated: {name} -->\n{want[name]}<!-- end -->\n"

    text = BLOCK.sub(replace, text)
    for name, body in want.items():
        if name not in seen:
            text += f"\n## `{name}`\n\n<!-- generated: {name} -->\n{body}<!-- end -->\n"
    DOC.write_text(text)


if __name__ == "__main__":
    write()
    print(f"rewrote the generated blocks of {DOC}", file=sys.stderr)
