"""Branch names against the configuration's patterns, without `re` at start-up.

`fnmatch` compiles every pattern to a regular expression, and `re` costs ≈ 7 ms to import on a
2-core machine — a third of what `prodfix check` takes on a clean repository. Delivery patterns
are `delivery*`, `release/*`, `stable`: `*` and `?` are matched here; a pattern with a `[…]`
set, whose rules are subtle, goes to `fnmatch` itself. tests/test_names.py holds both to
`fnmatch.fnmatchcase` on random names and patterns.
"""

from __future__ import annotations


def fnmatchcase(name: str, pattern: str) -> bool:
    """`fnmatch.fnmatchcase(name, pattern)`."""
    if "[" in pattern:
        from fnmatch import fnmatchcase as full

        return full(name, pattern)
    # Wildcard matching with one backtrack point (the last `*`): each `*` absorbs one more
    # character only when what follows it failed, so the work stays len(name) × len(pattern).
    i = j = 0
    star, mark = -1, 0
    while i < len(name):
        if j < len(pattern) and pattern[j] == "*":
            star, mark, j = j, i, j + 1
        elif j < len(pattern) and pattern[j] in ("?", name[i]):
            i, j = i + 1, j + 1
        elif star >= 0:
            mark += 1
            i, j = mark, star + 1
        else:
            return False
    return all(c == "*" for c in pattern[j:])


def template_name(template: str, text: str) -> str | None:
    """What `{name}` stands for in `text` by `template` (`fix/{name}`, `fix/npe` → `npe`), or
    None when `text` does not have the template's shape (the name is one line, not empty)."""
    head, _, tail = template.partition("{name}")
    if len(text) <= len(head) + len(tail) or not text.startswith(head) or not text.endswith(tail):
        return None
    name = text[len(head) : len(text) - len(tail)]
    return None if "\n" in name else name
