"""Who is running prodfix, as git knows it: records say who started, tested and built a fix,
and the embedded forge who opened, approved and merged a PR (`git var GIT_COMMITTER_IDENT`,
which applies git's own order: GIT_COMMITTER_* variables, then user.name and user.email)."""

from __future__ import annotations

import os
import re

from prodfix.adapters.git import Repo
from prodfix.errors import ProdfixError

_IDENT_RE = re.compile(r"^(.*?) <([^>]*)>")
# What git var reads before the configuration (git-var(1), git-commit-tree(1) "COMMIT
# INFORMATION"): GIT_COMMITTER_* first, then user.* and EMAIL.
_IDENT_VARS = ("GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL", "HOME", "XDG_CONFIG_HOME")


def of(repo: Repo, why: str) -> tuple[str, str]:
    """(name, email); a ProdfixError that says `why` prodfix needs it when git has none."""
    # The answer depends on these variables and on git's configuration, which a command does
    # not change: one `git var` per command (a `Repo` lives for one), not one per record.
    key = tuple(os.environ.get(v) for v in _IDENT_VARS)
    if key not in repo.idents:
        r = repo.git("var", "GIT_COMMITTER_IDENT", check=False)
        repo.idents[key] = (r.returncode, r.stdout.strip())
    code, line = repo.idents[key]
    m = _IDENT_RE.match(line)
    if code != 0 or not m:
        raise ProdfixError(
            f"git does not know who you are, and {why}",
            hint='git config --global user.name "Your Name" && '
            "git config --global user.email you@example.com",
        )
    return m.group(1), m.group(2)


def commit_env(who: str) -> dict[str, str]:
    """The environment that makes `Name <email>` the author and committer of a commit."""
    m = _IDENT_RE.match(who)
    name, email = (m.group(1), m.group(2)) if m else (who, "")
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


def email_of(who: str) -> str:
    """The e-mail of `Name <email>`, lower case (the whole text when it has none)."""
    m = _IDENT_RE.match(who)
    return (m.group(2) if m else who).strip().lower()
