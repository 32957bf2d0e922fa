"""prodfix.tuples.NamedTuple behaves as typing.NamedTuple for everything prodfix uses."""

from __future__ import annotations

import copy
import pickle
import typing

import pytest

from prodfix import tuples


def _pair(base: typing.Any) -> typing.Any:
    class Point(base):  # type: ignore[misc, valid-type]
        """A point."""

        x: int
        y: int = 0
        label: str = "p"

        def norm1(self) -> int:
            return abs(self.x) + abs(self.y)

    return Point


OURS = _pair(tuples.NamedTuple)
THEIRS = _pair(typing.NamedTuple)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((1,), {}),
        ((1, 2), {}),
        ((1, 2, "q"), {}),
        ((), {"x": 1}),
        ((1,), {"label": "z"}),
        ((), {"y": 2, "x": 1}),
    ],
)
def test_construction_fields_and_methods_match(
    args: tuple[int, ...], kwargs: dict[str, int]
) -> None:
    a, b = OURS(*args, **kwargs), THEIRS(*args, **kwargs)
    assert tuple(a) == tuple(b)
    assert a == b and hash(a) == hash(b)  # plain tuples underneath
    assert (a.x, a.y, a.label) == (b.x, b.y, b.label)
    assert a.norm1() == b.norm1()
    assert repr(a) == repr(b)
    assert a._asdict() == b._asdict()
    assert a._replace(y=9) == b._replace(y=9)
    assert OURS._make(list(a)) == a
    x, y, label = a
    assert (x, y, label) == tuple(b)
    match a:
        case OURS(x=1, y=yy):
            assert yy == b.y
        case _:
            pytest.fail("match by keyword")


def test_class_attributes_match() -> None:
    assert OURS._fields == THEIRS._fields == ("x", "y", "label")
    assert OURS._field_defaults == THEIRS._field_defaults == {"y": 0, "label": "p"}
    assert OURS.__match_args__ == THEIRS.__match_args__
    assert OURS.__doc__ == "A point."
    assert OURS.__name__ == "Point" and OURS.__module__ == __name__
    assert issubclass(OURS, tuple)
    assert not hasattr(OURS(1), "__dict__")  # slots, like the real one


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((), {}), ((1, 2, "q", 4), {}), ((1,), {"x": 2}), ((1,), {"z": 3})],
)
def test_bad_calls_raise_type_error_like_the_real_one(
    args: tuple[int, ...], kwargs: dict[str, int]
) -> None:
    with pytest.raises(TypeError):
        THEIRS(*args, **kwargs)
    with pytest.raises(TypeError):
        OURS(*args, **kwargs)


def test_replace_of_an_unknown_field_and_make_of_the_wrong_length() -> None:
    with pytest.raises(ValueError):
        OURS(1)._replace(z=2)
    with pytest.raises(TypeError):
        OURS._make([1, 2])


def test_copy_and_pickle_round_trip() -> None:
    p = OURS(3, 4, "r")
    assert copy.copy(p) == p and copy.deepcopy(p) == p
    assert type(copy.deepcopy(p)) is OURS
    # pickling needs the class importable by name: the module-level records of prodfix are
    from prodfix.policy.report import Finding

    f = Finding("r", "error", "b", "m", "h", ("a",), ("s",))
    assert pickle.loads(pickle.dumps(f)) == f


def test_a_default_before_a_required_field_is_refused() -> None:
    with pytest.raises(TypeError):

        class Bad(tuples.NamedTuple):
            a: int = 1
            b: int
