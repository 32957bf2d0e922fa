"""One setting read from a repository's own config file, as `git config --get` would give it,
when the file says it plainly: every prodfix command asks for the remote's URL, and a git
process to read one line of a file costs more than the read.

Only the repository's `config` is read, and only when nothing else can have the last word
(git-config(1), "FILES" and "CONFIGURATION FILE"): no `include`/`includeIf` section, no
`config.worktree`. (Configuration in the environment, GIT_CONFIG_COUNT or
GIT_CONFIG_PARAMETERS, never reaches the git prodfix runs: gitproc.clean_env drops every GIT_
variable it does not name.) `--get` returns the last value of a key, and the repository's file
is read after the global and system ones, so when it sets the key its last value is git's
answer. In every other case (the file does not set it, or sets it in a way this does not read:
a continued line, the deprecated `[section.sub]` form) the answer is "unknown" and the caller
asks git.
"""

from __future__ import annotations

import os

_ESCAPES = {"n": "\n", "t": "\t", "b": "\b", '"': '"', "\\": "\\"}


def remote_url(git_dir: str, remote: str) -> tuple[bool, str | None]:
    """(known, url): known=False means "ask git"; a known None is a URL set to nothing."""
    known, value = lookup(git_dir, "remote", remote, "url")
    return known, value or None


def lookup(git_dir: str, section: str, subsection: str | None, key: str) -> tuple[bool, str | None]:
    """(known, value) of `section.subsection.key` (section and key in lower case); a known
    None is the key alone on its line (a boolean true), known=False means "ask git"."""
    if os.path.exists(os.path.join(git_dir, "config.worktree")):
        return False, None
    try:
        with open(os.path.join(git_dir, "config"), encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        return False, None
    found: str | None = None
    known = False
    inside = False
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line[0] == "[":
            header = _section(line)
            if header is None or header[0].startswith("include") or "." in header[0]:
                return False, None  # includes, or a header this does not read
            inside = header == (section, subsection)
            continue
        if not inside:
            continue
        name, eq, rest = line.partition("=")
        if name.strip().lower() != key:
            continue
        value = _value(rest) if eq else None
        if eq and value is None:
            return False, None
        known, found = True, value
    return known, found


def _section(line: str) -> tuple[str, str | None] | None:
    """(section name lower-cased, subsection) of a `[name "sub"]` header alone on its line."""
    body, close, after = line[1:].partition("]")
    if not close or after.strip()[:1] not in ("", "#", ";"):
        return None
    name, space, sub = body.strip().partition(" ")
    if not space:
        return name.lower(), None
    sub = sub.strip()
    if len(sub) < 2 or sub[0] != '"' or sub[-1] != '"':
        return None
    text, i, inner = [], 0, sub[1:-1]
    while i < len(inner):
        c = inner[i]
        if c == "\\" and i + 1 < len(inner):
            i += 1
            c = inner[i]
        elif c == '"':
            return None
        text.append(c)
        i += 1
    return name.lower(), "".join(text)


def _value(rest: str) -> str | None:
    """A value as git reads it: outer blanks trimmed, quotes removed, escapes applied,
    comments dropped; None for what this does not read (a line continued with `\\`)."""
    out: list[str] = []
    pending = ""  # blanks kept only when something follows them
    quoted = False
    i = 0
    rest = rest.strip()
    while i < len(rest):
        c = rest[i]
        if c == "\\":
            if i + 1 >= len(rest):
                return None  # continues on the next line
            e = _ESCAPES.get(rest[i + 1])
            if e is None:
                return None
            out.append(pending + e)
            pending = ""
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif not quoted and c in "#;":
            break
        elif not quoted and c in " \t":
            pending += c
        else:
            out.append(pending + c)
            pending = ""
        i += 1
    if quoted:
        return None
    return "".join(out)
