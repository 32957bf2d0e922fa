"""`NamedTuple` for the modules `prodfix check` loads, without importing `typing` at run time.

`check` runs in hooks and CI jobs many times a minute; on a clean repository its answer takes
three git processes (≈ 20 ms), and importing `typing` — which imports `re`, `collections`,
`functools`, `contextlib` — costs ≈ 10 ms more on a 2-core machine (bench/bench_check_real.py
prints the interpreter's own floor beside prodfix). So those modules write

    TYPE_CHECKING = False
    if TYPE_CHECKING:
        from typing import NamedTuple
    else:
        from prodfix.tuples import NamedTuple

and declare their records exactly as with `typing.NamedTuple`: the type checker sees the real
one (it treats any `TYPE_CHECKING` as true), the interpreter gets the class built here — a
tuple subclass with the same fields, defaults, methods, `_fields`, `_field_defaults`,
`_make`, `_replace`, `_asdict` and repr, built without `exec` (which `collections.namedtuple`
uses) from the C accessors `collections.namedtuple` itself uses. tests/test_tuples.py holds it
to `typing.NamedTuple`'s behaviour.
"""

from __future__ import annotations

from _collections import _tuplegetter  # type: ignore[import-not-found]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _bind(cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    fields: tuple[str, ...] = cls._fields
    if len(args) > len(fields):
        raise TypeError(
            f"{cls.__name__}() takes {len(fields)} arguments but {len(args)} were given"
        )
    values = list(args)
    for name in fields[len(args) :]:
        if name in kwargs:
            values.append(kwargs.pop(name))
        elif name in cls._field_defaults:
            values.append(cls._field_defaults[name])
        else:
            raise TypeError(f"{cls.__name__}() missing required argument: {name!r}")
    if kwargs:
        name = next(iter(kwargs))
        given = "multiple values for" if name in fields else "an unexpected keyword"
        raise TypeError(f"{cls.__name__}() got {given} argument {name!r}")
    return tuple(values)


def _new(cls: Any, *args: Any, **kwargs: Any) -> Any:
    if not kwargs:
        missing = len(cls._fields) - len(args)
        if missing == 0:
            return tuple.__new__(cls, args)
        if 0 < missing <= len(cls._tail):  # trailing defaults: the common short call
            return tuple.__new__(cls, args + cls._tail[len(cls._tail) - missing :])
    return tuple.__new__(cls, _bind(cls, args, kwargs))


def _make(cls: Any, iterable: Any) -> Any:
    result = tuple.__new__(cls, iterable)
    if len(result) != len(cls._fields):
        raise TypeError(f"Expected {len(cls._fields)} arguments, got {len(result)}")
    return result


def _replace(self: Any, **kwargs: Any) -> Any:
    result = self._make([kwargs.pop(f, v) for f, v in zip(self._fields, self, strict=True)])
    if kwargs:
        raise ValueError(f"Got unexpected field names: {list(kwargs)!r}")
    return result


def _asdict(self: Any) -> dict[str, Any]:
    return dict(zip(self._fields, self, strict=True))


def _repr(self: Any) -> str:
    body = ", ".join(f"{f}={v!r}" for f, v in zip(self._fields, self, strict=True))
    return f"{type(self).__name__}({body})"


def _getnewargs(self: Any) -> tuple[Any, ...]:
    return tuple(self)


class _Maker(type):
    def __new__(mcs, name: str, bases: tuple[type, ...], ns: dict[str, Any]) -> Any:
        if ns.get("_is_base"):
            return super().__new__(mcs, name, bases, ns)
        fields = tuple(ns.get("__annotations__", {}))
        defaults = {f: ns[f] for f in fields if f in ns}
        seen_default = False
        for f in fields:
            if f.startswith("_"):
                raise ValueError(f"field names cannot start with an underscore: {f!r}")
            if f in defaults:
                seen_default = True
            elif seen_default:
                raise TypeError(f"non-default field {f!r} follows a default field")
        body: dict[str, Any] = {k: v for k, v in ns.items() if k not in defaults}
        body.update(
            __slots__=(),
            _fields=fields,
            _field_defaults=defaults,
            _tail=tuple(defaults.values()),  # the defaults, in field order (they are the last)
            __match_args__=fields,
            __new__=_new,
            _make=classmethod(_make),
            _replace=_replace,
            _asdict=_asdict,
            __getnewargs__=_getnewargs,
        )
        body.setdefault("__repr__", _repr)
        for i, f in enumerate(fields):
            body[f] = _tuplegetter(i, f"Alias for field number {i}")
        return type(name, (tuple,), body)


class NamedTuple(metaclass=_Maker):
    """Base of a record: `class Point(NamedTuple): x: int; y: int = 0`."""

    _is_base = True
