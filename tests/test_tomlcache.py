"""The cache of parsed `.prodfix.toml` texts: a hit is tomllib's answer for exactly that text."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prodfix.config import load, tomlcache
from prodfix.errors import ProdfixError
from tests.gitfix import Sandbox

TOML = 'mainline = "main"\ndelivery = "stable*"\n\n[check]\nallow-merges = ["abcdef1"]\n'


def checkout(sandbox: Sandbox, text: str = TOML) -> Path:
    sandbox.init_origin()
    w = sandbox.clone()
    (w / ".prodfix.toml").write_text(text)
    return w


def cached(w: Path) -> list[list[object]]:
    path = w / ".git" / "prodfix" / "toml-cache.json"
    entries: list[list[object]] = json.loads(path.read_text())["entries"]
    return entries


def test_a_hit_is_tomllib_s_answer_and_an_edit_is_read_again(sandbox: Sandbox) -> None:
    w = checkout(sandbox)
    first = load(w)
    assert cached(w) == [
        [TOML, {"mainline": "main", "delivery": "stable*", "check": {"allow-merges": ["abcdef1"]}}]
    ]
    assert load(w) == first  # from the cache
    (w / ".prodfix.toml").write_text(TOML.replace("stable*", "release*"))
    again = load(w)
    assert (first.delivery, again.delivery) == ("stable*", "release*")
    assert [t for t, _ in cached(w)] == [TOML.replace("stable*", "release*"), TOML]


def test_a_cached_text_does_not_import_tomllib(sandbox: Sandbox) -> None:
    w = checkout(sandbox)
    load(w)
    code = (
        "import sys; from pathlib import Path; from prodfix.config import load; "
        "load(Path({!r})); print('tomllib' in sys.modules)"
    )
    for expected in ("False", "True"):
        out = subprocess.run(
            [sys.executable, "-c", code.format(str(w))], capture_output=True, text=True, check=True
        ).stdout
        assert out.strip() == expected
        (w / ".prodfix.toml").write_text(TOML + "# changed\n")


def test_a_broken_or_foreign_cache_is_ignored_and_replaced(sandbox: Sandbox) -> None:
    w = checkout(sandbox)
    cache = w / ".git" / "prodfix" / "toml-cache.json"
    cache.parent.mkdir()
    for junk in ("{not json", '{"entries": [["mainline = \\"main\\"\\n", ["not a table"]]]}', "[]"):
        cache.write_text(junk)
        assert load(w).delivery == "stable*"
        assert [t for t, _ in cached(w)] == [TOML]


def test_only_the_last_few_texts_are_kept(tmp_path: Path) -> None:
    cache = tmp_path / "prodfix" / "toml-cache.json"
    texts = [f"x = {i}\n" for i in range(tomlcache.KEEP + 2)]
    for t in texts:
        tomlcache.loads(t, "t", cache)
    kept = json.loads(cache.read_text())["entries"]
    assert [t for t, _ in kept] == texts[::-1][: tomlcache.KEEP]
    assert tomlcache.loads(texts[-1], "t", cache) == {"x": len(texts) - 1}


def test_what_json_cannot_hold_is_parsed_every_time(tmp_path: Path) -> None:
    cache = tmp_path / "prodfix" / "toml-cache.json"
    doc = tomlcache.loads("when = 2026-11-29\nbig = inf\n", "t", cache)
    assert str(doc["when"]) == "2026-11-29" and doc["big"] == float("inf")
    assert not cache.exists()


def test_invalid_toml_is_never_cached(tmp_path: Path) -> None:
    cache = tmp_path / "prodfix" / "toml-cache.json"
    with pytest.raises(ProdfixError, match=r"^t: invalid TOML"):
        tomlcache.loads("kind = ", "t", cache)
    assert not cache.exists()
