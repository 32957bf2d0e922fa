"""TOML documents read through a small cache of tomllib's answers.

Importing tomllib compiles its regular expressions and imports datetime: ≈ 5 ms on a 2-core
machine, as much as `prodfix check`'s git processes on a clean repository
(bench/bench_check_real.py), for a file that rarely changes. The cache is a JSON file in the
checkout's git directory holding the last few texts read there, each beside the document
tomllib made of it: a hit is exactly tomllib's answer for exactly that text. A document JSON
cannot hold (dates, inf, nan) is not cached; a cache that cannot be read or written is ignored.

A hit costs no import either: the cache is read with the C scanner `json.loads` itself uses
(the `json` package would import `re`, ≈ 7 ms), and paths are plain strings (no `pathlib`).
"""

from __future__ import annotations

import os

from prodfix.adapters.gitproc import git_dirs
from prodfix.errors import ProdfixError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

KEEP = 4  # texts kept: the checkout's file, the mainline's copy, and a switch or two between


def cache_file(root: Path | str) -> str | None:
    """The cache of the checkout at `root`, in its own git directory (worktrees may hold
    different files); None when `root` is not a repository's top."""
    dirs = git_dirs(root)
    return os.path.join(dirs[0], "prodfix", "toml-cache.json") if dirs else None


def loads(text: str, source: str, cache: str | None = None) -> dict[str, Any]:
    """`tomllib.loads(text)`, an invalid document as a ProdfixError naming `source`."""
    if not text:
        return {}  # tomllib's answer for an empty file (the defaults): no import
    entries = _read(cache) if cache is not None else []
    for t, doc in entries:
        if t == text:
            return doc
    import tomllib

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProdfixError(
            f"{source}: invalid TOML: {exc}", hint=f"fix the syntax of {source}"
        ) from exc
    if cache is not None:
        _write(cache, [(text, doc), *entries][:KEEP])
    return doc


def _read(cache: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        with open(cache, encoding="utf-8") as f:
            data = _parse(f.read())
    except (OSError, ValueError, StopIteration):  # the scanner's "nothing here" is StopIteration
        return []
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return []
    return [
        (e[0], e[1])
        for e in entries
        if isinstance(e, list) and len(e) == 2 and isinstance(e[0], str) and isinstance(e[1], dict)
    ]


class _Context:
    """What `_json.make_scanner` reads from a decoder: json.loads's defaults; no NaN or
    Infinity (`_write` never writes them)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name: str) -> Any:
        raise ValueError(f"unexpected {name}")


def _parse(text: str) -> Any:
    """`json.loads` of a document as `_write` writes it (no surrounding white space)."""
    from _json import make_scanner

    doc, end = make_scanner(_Context())(text, 0)  # type: ignore[arg-type]
    if end != len(text):
        raise ValueError("extra data after the document")
    return doc


def _write(cache: str, entries: list[tuple[str, dict[str, Any]]]) -> None:
    import json

    try:
        data = json.dumps({"entries": entries}, allow_nan=False)
    except (TypeError, ValueError):  # dates, inf, nan: tomllib reads this text every time
        return
    from pathlib import Path

    from prodfix.adapters.files import write_atomic

    try:
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        write_atomic(Path(cache), data, durable=False)  # a cache: a damaged one is ignored
    except OSError:
        pass
