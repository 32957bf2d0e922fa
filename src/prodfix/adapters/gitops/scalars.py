"""Render a new scalar value in the style of the one it replaces, quoting when YAML would not
read it back as a string.

A plain `457`, `1.10`, `7e12345`, `0x1f`, `on`, `yes`, `null` or `~` is a number, boolean
or null to YAML 1.1 (go-yaml v2 behind kubectl/Helm/kustomize) or 1.2, and kustomize fails
on a numeric `newTag` (kubernetes-sigs/kustomize#4081). The YAML 1.1 types:
https://yaml.org/type/bool.html, https://yaml.org/type/int.html, https://yaml.org/type/float.html.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver

STR_TAG = "tag:yaml.org,2002:str"
# Belt and braces next to the resolvers: anything number-shaped, as go-yaml's own
# heuristics read it (digits with dots, underscores, exponents, base prefixes).
_NUMBERISH = re.compile(
    r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?0[xXoObB][0-9a-fA-F_]+"
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*"
)
_RESOLVERS = (VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2)))
# Only these characters ever reach a scalar (tags, digests, repositories): none needs
# escaping inside single or double quotes.
_SAFE_CHARS = re.compile(r"[A-Za-z0-9_.:/@-]+")


@lru_cache(maxsize=1024)
def plain_is_safe(value: str) -> bool:
    """True when a plain (unquoted) `value` reads back as this exact string everywhere."""
    if not _SAFE_CHARS.fullmatch(value) or _NUMBERISH.fullmatch(value):
        return False
    return all(str(r.resolve(ScalarNode, value, (True, False))) == STR_TAG for r in _RESOLVERS)


def render(value: str, style: str | None) -> str:
    """`value` as YAML source in `style` (None = plain, `"` or `'`): same style when safe."""
    if not _SAFE_CHARS.fullmatch(value):  # pragma: no cover - inputs are validated first
        raise ValueError(f"refusing to render {value!r}")
    if style == "'":
        return f"'{value}'"
    if style == '"' or not plain_is_safe(value):
        return f'"{value}"'
    return value
