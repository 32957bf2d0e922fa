"""`json.dumps(doc, indent=2, ensure_ascii=False)` without importing `json` at start-up.

The `json` package imports `re` (its decoder's scanner), ≈ 7 ms on a 2-core machine: a third
of what `prodfix check --json` takes on a clean repository. The encoding of text is the same C
function `json` itself uses; numbers, constants and layout follow `json.encoder` rule for
rule, and a document holding anything else goes to `json.dumps` itself (so its error for an
unserialisable object stays the error). tests/test_jsontext.py compares both on random
documents.
"""

from __future__ import annotations

from _json import encode_basestring

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_INDENT = "  "


class _Unsupported(Exception):
    pass


def dumps(doc: Any) -> str:
    """The document as `json.dumps(doc, indent=2, ensure_ascii=False)` writes it."""
    parts: list[str] = []
    try:
        _encode(doc, parts, "\n")
    except (_Unsupported, RecursionError):
        import json

        return json.dumps(doc, indent=2, ensure_ascii=False)
    return "".join(parts)


def _scalar(o: Any) -> str | None:
    if isinstance(o, str):
        return encode_basestring(o)
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if isinstance(o, int):
        return int.__repr__(o)
    if isinstance(o, float):
        return _float(o)
    return None


def _float(o: float) -> str:
    if o != o:
        return "NaN"
    if o == float("inf"):
        return "Infinity"
    if o == -float("inf"):
        return "-Infinity"
    return float.__repr__(o)


def _key(k: Any) -> str:
    """A key as json writes it: text as is, the other scalars as their JSON text, quoted."""
    if isinstance(k, str):
        return encode_basestring(k)
    text = _scalar(k)
    if text is None:
        raise _Unsupported
    return f'"{text}"'


def _encode(o: Any, parts: list[str], newline: str) -> None:
    # Exact types first (what prodfix's documents hold: one dispatch per value, strings
    # written inline), then json's own isinstance rules for subclasses and the rest.
    t = type(o)
    if t is dict:
        _object(o, parts, newline)
    elif t is list or t is tuple:
        _array(o, parts, newline)
    elif t is str:
        parts.append(encode_basestring(o))
    else:
        text = _scalar(o)
        if text is not None:
            parts.append(text)
        elif isinstance(o, list | tuple):
            _array(o, parts, newline)
        elif isinstance(o, dict):
            _object(o, parts, newline)
        else:
            raise _Unsupported


def _object(o: dict[Any, Any], parts: list[str], newline: str) -> None:
    if not o:
        parts.append("{}")
        return
    inner = newline + _INDENT
    sep = "{" + inner
    for k, v in o.items():
        parts.append(sep + (encode_basestring(k) if type(k) is str else _key(k)) + ": ")
        sep = "," + inner
        if type(v) is str:
            parts.append(encode_basestring(v))
        else:
            _encode(v, parts, inner)
    parts.append(newline + "}")


def _array(o: list[Any] | tuple[Any, ...], parts: list[str], newline: str) -> None:
    if not o:
        parts.append("[]")
        return
    inner = newline + _INDENT
    sep = "[" + inner
    for v in o:
        parts.append(sep)
        sep = "," + inner
        if type(v) is str:
            parts.append(encode_basestring(v))
        else:
            _encode(v, parts, inner)
    parts.append(newline + "]")
