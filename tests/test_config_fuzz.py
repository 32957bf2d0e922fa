"""Bad input: the config loader on random TOML documents (hypothesis, 500 examples).

Documents are built from the schema's real keys, near-miss keys (typos, wrong case, wrong
table) and values of every TOML type, valid or not. The loader either returns every key or
raises ProdfixError with code 2 naming the source file and a hint — never anything else.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prodfix import config
from prodfix.errors import ProdfixError

SOURCE = "/repo/.prodfix.toml"
EXAMPLES = 500
REAL = [k.name for k in config.SCHEMA]


def _near_misses(name: str) -> list[str]:
    last = name.rsplit(".", 1)[-1]
    prefix = name[: -len(last)]
    return [
        prefix + last.upper(),
        prefix + last.replace("-", "_"),
        prefix + last[:-1],
        prefix + last + "s",
        "deploy." + last if not name.startswith("deploy.") else "build." + last,
        last,  # the right key at the top level instead of in its table
    ]


KEYS = st.sampled_from(REAL + sorted({m for k in REAL for m in _near_misses(k)} - set(REAL)))
SCALARS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["git", "github", "jenkins", "command", "python", "go", "delivery*", "["]),
    st.sampled_from(["fix/{name}", "{name", "{dc}", "apps/{dc}/{x}", "http://example.com"]),
    st.sampled_from(["https://h.example", "http://127.0.0.1:1", "ftp://x", "{0}", "{a.b}"]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 1, 1)),
    st.dates(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=6,
)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v:
            return "nan"
        if v in (float("inf"), float("-inf")):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, dt.datetime):
        return v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    assert isinstance(v, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"


def _document(entries: list[tuple[str, Any]], as_tables: bool) -> str:
    """Dotted keys written either inline (`a.b = v`, quoted parts) or under [table] headers."""
    if not as_tables:
        return "".join(
            ".".join(json.dumps(p) for p in k.split(".")) + f" = {_toml_value(v)}\n"
            for k, v in entries
        )
    top = [(k, v) for k, v in entries if "." not in k]
    text = "".join(f"{json.dumps(k)} = {_toml_value(v)}\n" for k, v in top)
    tables: dict[str, list[tuple[str, Any]]] = {}
    for k, v in entries:
        if "." in k:
            table, leaf = k.rsplit(".", 1)
            tables.setdefault(table, []).append((leaf, v))
    for table, items in tables.items():
        text += f"\n[{'.'.join(json.dumps(p) for p in table.split('.'))}]\n"
        text += "".join(f"{json.dumps(k)} = {_toml_value(v)}\n" for k, v in items)
    return text


DOCS = st.builds(
    _document,
    st.lists(st.tuples(KEYS, VALUES), max_size=6, unique_by=lambda kv: kv[0]),
    st.booleans(),
)
# Raw garbage too: the loader must turn a TOML syntax error into the same kind of error.
RAW = st.text(alphabet="abc=[]{}.\"'#\n 1-_", max_size=40)


def _check(text: str) -> None:
    try:
        values = config.parse(text, SOURCE)
    except ProdfixError as exc:
        assert exc.code == 2, (text, exc.message)
        assert exc.message.startswith(SOURCE + ":"), (text, exc.message)
        assert "\n" not in exc.message.split(":", 2)[-1].strip() or "invalid TOML" in exc.message
        assert exc.hint, (text, exc.message)
        return
    assert set(values) == set(REAL), text
    for k in config.SCHEMA:
        v = values[k.name]
        assert v is None or v == k.default or isinstance(v, k.types), (k.name, v)
        if isinstance(v, bool):
            assert bool in k.types or v == k.default, (k.name, v)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCS)
def test_random_documents_load_or_fail_with_a_config_error(text: str) -> None:
    _check(text)


@settings(max_examples=200, deadline=None)
@given(RAW)
def test_random_bytes_load_or_fail_with_a_config_error(text: str) -> None:
    _check(text)


def test_the_generator_reaches_valid_and_invalid_documents() -> None:
    """The fuzz is only worth its budget if it sees both outcomes and every error kind."""
    from hypothesis import find

    def kind(text: str) -> str:
        try:
            config.parse(text, SOURCE)
        except ProdfixError as exc:
            for k in ("unknown key", "must be", "invalid TOML"):
                if k in exc.message:
                    return k
            return "other"
        return "ok"

    for wanted in ("ok", "unknown key", "must be", "invalid TOML"):
        find(
            st.one_of(DOCS, RAW),
            lambda t, w=wanted: kind(t) == w,  # type: ignore[misc]
            settings=settings(max_examples=2000, database=None),
        )
