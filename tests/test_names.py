"""Text matching done without `re` on `check`'s path, held to the regular expressions and
fnmatch it replaced: glob matching, the inverse of the fix-branch template, `cherry-pick -x`
lines and `Prodfix-Supersedes:` values, full object ids."""

from __future__ import annotations

import fnmatch
import re

from hypothesis import given
from hypothesis import strategies as st

from prodfix.adapters.gitlook import is_sha
from prodfix.names import fnmatchcase, template_name
from prodfix.policy.links import picked_from, superseded

# Few letters, so that random names often match random patterns.
names = st.text(alphabet="ab/-.*?!]\n", max_size=10)
patterns = st.text(alphabet="ab/-.*?![]", max_size=8)


@given(names, patterns)
def test_glob_matches_as_fnmatch_does(name: str, pattern: str) -> None:
    assert fnmatchcase(name, pattern) == fnmatch.fnmatchcase(name, pattern)


def test_the_patterns_teams_use() -> None:
    cases = [
        ("delivery-2026.11", "delivery*", True),
        ("delivery", "delivery*", True),
        ("master", "delivery*", False),
        ("release/1.2", "release/*", True),
        ("release", "release/*", False),
        ("stable", "stable", True),
        ("stable2", "stable", False),
        ("delivery-1", "delivery-?", True),
        ("delivery-10", "delivery-?", False),
        ("a" * 40 + "b", "*a*a*a*a*a*c", False),
        ("delivery-2", "delivery-[0-9]", True),  # a set: fnmatch itself
    ]
    for name, pattern, expected in cases:
        assert fnmatchcase(name, pattern) is expected, (name, pattern)
        assert fnmatch.fnmatchcase(name, pattern) is expected


parts = st.text(alphabet="ab/-.\n", max_size=4)


@given(parts, parts, st.text(alphabet="ab/-.\n", max_size=10))
def test_template_name_is_the_regex_it_replaces(head: str, tail: str, text: str) -> None:
    template = head + "{name}" + tail
    m = re.fullmatch(re.escape(head) + r"(?P<name>.+)" + re.escape(tail), text)
    assert template_name(template, text) == (m.group("name") if m else None)
    assert template_name(template, head + "npe" + tail) == "npe"


def test_template_name_of_fix_branches() -> None:
    assert template_name("fix/{name}", "fix/npe") == "npe"
    assert template_name("fix/{name}", "fix/") is None
    assert template_name("fix/{name}", "feature/fix/x") is None
    assert template_name("hotfix/{name}-prod", "hotfix/a-b-prod") == "a-b"


PICKED_RE = re.compile(r"\(cherry picked from commit ([0-9a-fA-F]{7,64})\)")
HEX_RE = re.compile(r"[0-9a-fA-F]{7,64}")
SHA_RE = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
# Messages built from pieces that make near-misses likely.
pieces = st.sampled_from(
    ["(cherry picked from commit ", ")", "abc1234", "ABCDEF0", "0" * 40, "g", " ", "\n", "((", "x"]
)
messages = st.lists(pieces, max_size=8).map("".join)


@given(messages)
def test_picked_from_finds_what_the_regex_finds(message: str) -> None:
    assert picked_from(message) == [m.lower() for m in PICKED_RE.findall(message)]


@given(st.lists(st.lists(pieces, max_size=3).map("".join), max_size=4).map("\n".join))
def test_superseded_takes_what_the_regex_took(values: str) -> None:
    expected = [
        w[0].lower() for v in values.splitlines() if (w := v.split()) and HEX_RE.fullmatch(w[0])
    ]
    assert superseded(values) == expected


@given(st.text(alphabet="0123456789abcdefABg\n", min_size=38, max_size=66))
def test_is_sha_is_the_regex(text: str) -> None:
    assert is_sha(text) == bool(SHA_RE.fullmatch(text))
    assert is_sha("a" * 40) and is_sha("b" * 64) and not is_sha("a" * 39)
