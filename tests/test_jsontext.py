"""prodfix.jsontext.dumps writes exactly what json.dumps(indent=2, ensure_ascii=False) writes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prodfix.jsontext import dumps

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and ±inf included: json writes them as NaN/Infinity
    | st.text()  # any code point, lone surrogates and control characters too
)
keys = st.text() | st.integers() | st.floats() | st.booleans() | st.none()
documents = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=4).map(tuple)
        | st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=30,
)


def expected(doc: Any) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False)


@given(documents)
def test_same_text_as_json_dumps(doc: Any) -> None:
    assert dumps(doc) == expected(doc)


def test_the_shapes_prodfix_writes() -> None:
    doc = {
        "ok": False,
        "findings": [
            {"rule": "missing-backmerge", "commits": ["a" * 40], "count": 3, "age": 1.5},
            {"empty": [], "nothing": {}, "none": None, "text": 'ünï "q" \\ \n\t\x00'},
        ],
    }
    assert dumps(doc) == expected(doc)


class Custom:
    pass


def test_anything_else_gets_json_dumps_own_error() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps({"x": [Custom()]})
    with pytest.raises(TypeError, match="keys must be"):
        dumps({(1, 2): 3})
