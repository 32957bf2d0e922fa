"""The product's texts stand alone: what a user reads points only at what a user has.

(a) Nothing in the package, `docs/` or the README cites the team's internal notes or issue
    numbers: a user has the package and the repository, nothing else.
(b) Every command a text tells the user to run exists: each `` `prodfix ...` `` span in the
    package's strings (hints, messages, help, docstrings) and in docs/*.md and the README, and
    each command line in their examples, names a real command of the click tree, and each
    `--flag` in it is an option of that command.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from prodfix.cli import cli

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "prodfix"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Places a user does not have: the team's notes and contract files, and issue numbers.
OUTSIDE = re.compile(
    r"\bNOTES\b|\bCLI\.md\b|\bWORKFLOW\.md\b|\bDESIGN\.md\b|\bSTYLE\.md\b|\.\./shared\b|"
    r"\bshared/|(?i:\bissues? ?#?\d+)"
)
HOLE = "\x00"  # stands for an f-string's replacement field: a value only known at run time
SPAN = re.compile(r"`(prodfix(?: [^`]*)?)`")
# A command line on a line of its own: an example in help (indented, or after "Example:"), a
# hint that is only a command, a line of a shell block in the docs.
LINE = re.compile(
    r"^(?P<lead>\s*(?:\$ |Example: )?)(?P<cmd>prodfix(?: [^\n#]*)?)(?:#[^\n]*)?$", re.M
)
GLOBAL_WITH_VALUE = {"-C"}
GLOBAL_FLAGS = {"--debug", "--version", "--help", "-h"}


def _text_files() -> Iterator[Path]:
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file() and path.suffix not in (".pyc", ".png", ".ico"):
            yield path
    yield from DOCS


def test_no_text_points_outside_the_product() -> None:
    found = []
    for path in _text_files():
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert found == []


# The tests and benchmarks name where CI puts the data they read (`../shared/corpus`, the
# werkzeug bundle) but, like the product, never the team's notes, contract files or issues.
NOTES_OR_ISSUES = re.compile(
    r"\bNOTES\b|\bCLI\.md\b|\bWORKFLOW\.md\b|\bDESIGN\.md\b|\bSTYLE\.md\b|(?i:\bissues? ?#?\d+)"
)


def test_no_test_or_benchmark_cites_the_teams_notes() -> None:
    here = Path(__file__).resolve()
    found = []
    for folder in ("tests", "bench", "scripts"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path == here or not path.is_file() or path.suffix not in (".py", ".sh", ".md"):
                continue
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if NOTES_OR_ISSUES.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert found == []


def _strings(path: Path) -> Iterator[tuple[int, str, bool]]:
    """Every string constant of a module (f-strings with HOLE for their fields), and whether it
    is a `hint=` (what to do next: a hint that is one command line is that command)."""
    tree = ast.parse(path.read_text(), str(path))
    parts = {
        id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values
    }
    hints = {
        id(sub)
        for node in ast.walk(tree)
        if isinstance(node, ast.keyword) and node.arg == "hint"
        for sub in ast.walk(node.value)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in parts:
            yield node.lineno, node.value, id(node) in hints
        elif isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else HOLE for v in node.values)
            yield node.lineno, text, id(node) in hints


def _command_lines(text: str, *, anywhere: bool) -> Iterator[str]:
    """Command lines of a text outside its `code spans`. In the package's strings only lines
    shown as commands count (indented, after "Example:", or a hint): a sentence that begins
    with the word prodfix is prose."""
    for m in LINE.finditer(re.sub(r"`[^`]*`", "", text)):
        if anywhere or len(m["lead"]) >= 2 or "Example" in m["lead"]:
            yield m["cmd"].rstrip()


def _markdown_lines(text: str) -> str:
    """The lines of a markdown file's fenced code blocks (where command lines are examples)."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.M | re.S)
    return "\n".join(blocks)


def mentions() -> Iterator[tuple[str, str]]:
    """(where, command line) of every command line the product shows a user."""
    for path in sorted(PACKAGE.rglob("*.py")):
        for lineno, text, hint in _strings(path):
            where = f"{path.relative_to(ROOT)}:{lineno}"
            for m in SPAN.finditer(text):
                yield where, m.group(1)
            for line in _command_lines(text, anywhere=hint):
                yield where, line
    for path in DOCS:
        text = path.read_text()
        for m in SPAN.finditer(text):
            yield str(path.relative_to(ROOT)), m.group(1)
        for line in _command_lines(_markdown_lines(text), anywhere=True):
            yield str(path.relative_to(ROOT)), line


def _option_names(cmd: click.Command) -> set[str]:
    names = {"--help", "-h"}
    for p in cmd.params:
        if isinstance(p, click.Option):
            names.update(p.opts)
            names.update(p.secondary_opts)
    return names


def problem(line: str) -> str | None:
    """Why `line` (a command line as shown to a user) is not a real command, or None."""
    words = [w.strip("[]()") for w in line.replace("|", " | ").split()][1:]
    i = 0
    while i < len(words) and words[i].startswith("-"):  # prodfix's own options
        if words[i] in GLOBAL_WITH_VALUE:
            i += 2
        elif words[i] in GLOBAL_FLAGS:
            i += 1
        else:
            return f"prodfix has no option {words[i]}"
    cmd: click.Command = cli
    path = ["prodfix"]
    rest = words[i:]
    while isinstance(cmd, click.Group) and rest:
        name = rest[0]
        if HOLE in name or not re.fullmatch(r"[a-z][a-z-]*", name):
            return None  # a placeholder (COMMAND) or a value only known at run time
        alternatives = [name]
        while len(rest) > 2 and rest[1] == "|":  # `pr list|show|approve|merge`
            alternatives.append(rest[2])
            rest = rest[2:]
        for alt in alternatives:
            if alt not in cmd.commands:
                return f"{' '.join(path)} has no command {alt!r}"
        cmd, rest = cmd.commands[alternatives[0]], rest[1:]
        path.append(alternatives[0])
        if len(alternatives) > 1:
            return None
    known = _option_names(cmd)
    for word in rest:
        flag = word.split("=", 1)[0].rstrip(".,;:…")
        is_flag = flag.startswith("-") and flag not in ("-", "--") and HOLE not in flag
        if is_flag and flag not in known:
            return f"{cmd.name} has no option {flag}"
    return None


def test_every_command_named_in_a_text_exists() -> None:
    wrong = sorted(
        {f"{where}: `{line}`: {why}" for where, line in mentions() if (why := problem(line))}
    )
    assert wrong == []


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("prodfix status --all", None),
        ("prodfix -C /tmp/x --debug next NAME --merge --wait", None),
        ("prodfix pr list|show|approve|merge", None),
        ("prodfix COMMAND --help", None),
        (f"prodfix {HOLE}", None),
        ("prodfix config", "prodfix has no command 'config'"),
        ("prodfix rollback --tag 1", "prodfix has no command 'rollback'"),
        ("prodfix deploy --tag T --rolback", "deploy has no option --rolback"),
        ("prodfix pr close 3", "prodfix pr has no command 'close'"),
        ("prodfix --verbose status", "prodfix has no option --verbose"),
    ],
)
def test_the_checker_itself(line: str, why: str | None) -> None:
    assert problem(line) == why


def test_the_scanner_finds_hints_in_fstrings(tmp_path: Path) -> None:
    mod = tmp_path / "m.py"
    mod.write_text(
        "n = 1\n"
        'text = f"run `prodfix nxt {n}` then"\n'
        'epilog = "Examples:\\n  prodfix stats --all   # all of them\\n"\n'
        'e = Error("x", hint="prodfix deploy --tag T --dryrun")\n'
        'title = "prodfix could not decide"\n'
    )
    found = [
        problem(line)
        for _, text, hint in _strings(mod)
        for line in [
            *(m.group(1) for m in SPAN.finditer(text)),
            *_command_lines(text, anywhere=hint),
        ]
    ]
    assert sorted(str(w) for w in found) == [
        "deploy has no option --dryrun",
        "prodfix has no command 'nxt'",
        "prodfix has no command 'stats'",
    ]


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors of a markdown file: lower case, punctuation dropped, spaces to
    hyphens."""
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.M | re.S)
    found = set()
    for heading in re.findall(r"^#+ (.+)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def test_every_link_between_the_docs_resolves() -> None:
    """A page renamed or a heading reworded must not leave a dead link behind."""
    dead = []
    for path in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # https://…, mailto:…
            file, _, anchor = target.partition("#")
            dest = (path.parent / file).resolve() if file else path
            if not dest.exists():
                dead.append(f"{path.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and anchor not in _anchors(dest):
                dead.append(f"{path.relative_to(ROOT)}: {target} (no such heading)")
    assert dead == []
