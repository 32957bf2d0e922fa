"""Links between commits that ancestry does not show: `git cherry-pick -x` lines and the
`Prodfix-Supersedes:` trailer (docs/backmerge.md).

Both name a commit by its SHA, possibly abbreviated; a name matches a full SHA it starts.
"""

from __future__ import annotations

TYPE_CHECKING = False  # no typing at run time: `check` loads this module (prodfix/tuples.py)
if TYPE_CHECKING:
    from collections.abc import Iterable

SUPERSEDES = "Prodfix-Supersedes"
# `git cherry-pick -x` appends this line (git-cherry-pick(1), option -x). It is not a
# `Key: value` trailer, so `%(trailers:key=…)` cannot select it (git 2.39 lists it only in
# the unfiltered `%(trailers)`): messages are searched for it.
PICKED = "(cherry picked from commit "
_HEX = frozenset("0123456789abcdefABCDEF")
# What `git log --grep` needs to find either link (one process, patterns ORed).
GREP = ("-i", "-E", f"--grep=^{SUPERSEDES}:", r"--grep=\(cherry picked from commit ")


def picked_from(message: str) -> list[str]:
    """The commits a message says it was cherry-picked from (lower case, maybe abbreviated):
    each `(cherry picked from commit <7 to 64 hex digits>)` in it."""
    found: list[str] = []
    at = message.find(PICKED)
    while at >= 0:
        start = at + len(PICKED)
        end = message.find(")", start)
        if end >= 0 and _is_hex(message[start:end]):
            found.append(message[start:end].lower())
        at = message.find(PICKED, start)
    return found


def _is_hex(text: str) -> bool:
    """7 to 64 hex digits: an object name, maybe abbreviated."""
    return 7 <= len(text) <= 64 and _HEX.issuperset(text)


def superseded(trailer_values: str) -> list[str]:
    """The commits named by `Prodfix-Supersedes:` values (one per line, as `%(trailers:key=…,
    valueonly)` prints them); anything after the SHA (a reason) is ignored."""
    out: list[str] = []
    for value in trailer_values.splitlines():
        words = value.split()
        if words and _is_hex(words[0]):
            out.append(words[0].lower())
    return out


class Names:
    """A set of commit names, full or abbreviated; `full_sha in names` matches either."""

    def __init__(self, names: Iterable[str] = ()) -> None:
        self.full: set[str] = set()
        self.short: set[str] = set()
        for n in names:
            self.add(n)

    def add(self, name: str) -> None:
        name = name.lower()
        (self.full if len(name) in (40, 64) else self.short).add(name)

    def __contains__(self, sha: object) -> bool:
        if not isinstance(sha, str):
            return False
        return sha in self.full or any(sha.startswith(s) for s in self.short)

    def __bool__(self) -> bool:
        return bool(self.full or self.short)

    def resolve(self, shas: Iterable[str]) -> set[str]:
        """The full SHAs among `shas` that a name matches."""
        return {s for s in shas if s in self}
