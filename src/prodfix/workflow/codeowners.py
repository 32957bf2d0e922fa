"""CODEOWNERS as GitHub reads it: who owns the paths a sync would bring.

GitHub's rules ("About code owners", docs.github.com): the file is `.github/CODEOWNERS`,
`CODEOWNERS` or `docs/CODEOWNERS`, the first found in that order; each line is a pattern and
its owners (`@user`, `@org/team` or an e-mail address); the *last* matching line wins, and a
line with no owners leaves the paths it matches unowned. Patterns follow gitignore(5), except
that `!` (negation), `[ ]` (character ranges) and `\\#` (an escaped leading hash) do not work:

- a pattern with a slash at its start or in its middle is anchored at the repository root;
  otherwise it matches at any depth (`apps/` owns every `apps` directory, `*.js` every file);
- a trailing slash names a directory: everything below it is matched;
- `*` matches within one path component, `?` one character of it; a leading `**/` matches in
  every directory, `/**/` zero or more directories, a trailing `/**` everything inside;
- a pattern that names a directory owns everything below it (`/build/logs`), except a last
  component that is `*` alone after a slash: `docs/*` owns `docs/a.md` but not
  `docs/deep/b.md` (and `/*` the files at the root only).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prodfix.adapters.git import Repo

LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")  # GitHub's search order


@dataclass(frozen=True)
class Rule:
    pattern: str
    owners: tuple[str, ...]
    regex: re.Pattern[str]
    line: int


def translate(pattern: str) -> str:
    """The regular expression (for `fullmatch` on a repository-relative path) of a pattern."""
    directory = pattern.endswith("/")
    body = pattern.strip("/") if directory else pattern.lstrip("/")
    anchored = pattern.startswith("/") or "/" in body
    if body == "**":
        return ".*"
    parts = body.split("/")
    out: list[str] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "**":
            if i == 0:
                out.append("(?:.*/)?")  # leading `**/`: in every directory
                anchored = True
            elif last:
                out.append(".*")  # trailing `/**`: everything inside
            else:
                out.append("(?:[^/]+/)*")  # `/**/`: zero or more directories
            continue
        out.append(_segment(part) + ("" if last else "/"))
    regex = "".join(out)
    if not anchored:
        regex = "(?:.*/)?" + regex
    if parts[-1] == "**":
        return regex
    if directory:
        return regex + "/.*"
    if parts[-1] == "*" and anchored:
        return regex  # `docs/*`, `/*`: the directory's own files, not deeper ones
    return regex + "(?:/.*)?"  # a file, or a directory and everything below it


def _segment(part: str) -> str:
    """One path component: `*` and `?` stay within it; everything else is literal."""
    out = []
    i = 0
    while i < len(part):
        c = part[i]
        if c == "\\" and i + 1 < len(part):  # `\ ` keeps a space in a pattern (gitignore(5))
            out.append(re.escape(part[i + 1]))
            i += 2
            continue
        if c == "*":
            while i + 1 < len(part) and part[i + 1] == "*":
                i += 1  # other consecutive asterisks are plain asterisks (gitignore(5))
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def parse(text: str) -> list[Rule]:
    """The rules of a CODEOWNERS file, in file order; lines GitHub would reject (a negation,
    a character range) are skipped rather than guessed at."""
    rules = []
    for n, raw in enumerate(text.splitlines(), 1):
        tokens = _tokens(raw)
        if not tokens or tokens[0].startswith("#"):
            continue
        pattern, rest = tokens[0], tokens[1:]
        owners = []
        for tok in rest:
            if tok.startswith("#"):
                break  # an inline comment runs to the end of the line
            owners.append(tok)
        if pattern.startswith("!") or "[" in pattern:
            continue
        rules.append(Rule(pattern, tuple(owners), re.compile(translate(pattern)), n))
    return rules


def _tokens(line: str) -> list[str]:
    """Whitespace-separated tokens; a backslash keeps the next character (an escaped space)."""
    tokens: list[str] = []
    cur = ""
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            cur += line[i : i + 2]
            i += 2
            continue
        if c.isspace():
            if cur:
                tokens.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    if cur:
        tokens.append(cur)
    return tokens


def owners_of(rules: Sequence[Rule], path: str) -> tuple[str, ...]:
    """The owners of one path: the last matching rule's (none when it lists none)."""
    for rule in reversed(rules):
        if rule.regex.fullmatch(path):
            return rule.owners
    return ()


def owners(rules: Sequence[Rule], paths: Iterable[str]) -> list[str]:
    """Every owner of the paths, each once, in the order first met."""
    found: dict[str, None] = {}
    for path in paths:
        for owner in owners_of(rules, path):
            found.setdefault(owner, None)
    return list(found)


def read(repo: Repo, rev: str) -> tuple[str | None, list[Rule]]:
    """(where the file is, its rules) at `rev`: the first of GitHub's locations that holds
    one (one `cat-file --batch` for the three), or (None, [])."""
    blobs = repo.read_blobs([f"{rev}:{loc}" for loc in LOCATIONS])
    for loc, blob in zip(LOCATIONS, blobs, strict=True):
        if blob is not None:
            return loc, parse(blob.decode("utf-8", "replace"))
    return None, []
