"""Re-parse check: the new file must be the old one with exactly the intended values changed.

Both files are composed to node trees and walked in parallel, path by path. Every scalar
must keep its resolved tag and value except at the intended paths; mappings keep their
keys and order except for the intended key rename or insertion. This is stricter than
comparing `safe_load` results (it also sees `1.0` → `1.00`), and an alias is checked at
each path it appears under, so a change that leaks through an anchor is caught as a change
at a path nobody asked for. Duplicate keys, which loaders resolve differently, are refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from prodfix.adapters.gitops.locate import Path_, PathItem
from prodfix.adapters.gitops.scalars import STR_TAG


@dataclass(frozen=True)
class KeyChange:
    """In the mapping at some path: item `index` becomes `key: value` (a rename of that item,
    or a new item inserted before it)."""

    index: int
    key: str
    value: str
    insert: bool


@dataclass
class Expected:
    scalars: dict[Path_, str] = field(default_factory=dict)  # scalar path -> new str value
    mappings: dict[Path_, KeyChange] = field(default_factory=dict)


class Mismatch(Exception):
    def __init__(self, reason: str, line: int, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.line, self.detail = reason, line, detail


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _show(path: Path_) -> str:
    return ".".join(str(p) for p in path[1:]) or "(document root)"


class _Walk:
    def __init__(self, expected: Expected) -> None:
        self.expected = expected
        self.memo: set[tuple[int, int]] = set()  # shared subtrees already found equal
        self.active: set[int] = set()  # ids on the recursion stack (recursive aliases)
        self.dup_checked: set[int] = set()

    def node(self, old: Node, new: Node, path: list[PathItem]) -> bool:
        """Compare; returns True if the subtree held an intended change."""
        pair = (id(old), id(new))
        if pair in self.memo or id(old) in self.active:
            return False
        if isinstance(old, ScalarNode) and self.expected.scalars:
            want = self.expected.scalars.get(tuple(path))
            if want is not None:
                if not (isinstance(new, ScalarNode) and new.tag == STR_TAG and new.value == want):
                    raise Mismatch(
                        "verify-failed",
                        _line(new),
                        f"{_show(tuple(path))} "
                        f"reads back as {new.value!r}, not the string {want!r}",
                    )
                return True
        if old.__class__ is not new.__class__ or old.tag != new.tag:
            raise Mismatch("verify-failed", _line(new), f"{_show(tuple(path))} changed type")
        if isinstance(old, ScalarNode):
            if old.value != new.value:
                raise Mismatch(
                    "verify-failed",
                    _line(new),
                    f"{_show(tuple(path))} changed from {old.value!r} to {new.value!r}",
                )
            return False
        self.active.add(id(old))
        try:
            if isinstance(old, SequenceNode):
                assert isinstance(new, SequenceNode)
                touched = self.sequence(old, new, path)
            else:
                assert isinstance(old, MappingNode) and isinstance(new, MappingNode)
                touched = self.mapping(old, new, path)
        finally:
            self.active.discard(id(old))
        if not touched:
            self.memo.add(pair)
        return touched

    def sequence(self, old: SequenceNode, new: SequenceNode, path: list[PathItem]) -> bool:
        if len(old.value) != len(new.value):
            raise Mismatch("verify-failed", _line(new), f"{_show(tuple(path))} changed length")
        touched = False
        for i, (o, n) in enumerate(zip(old.value, new.value, strict=True)):
            path.append(i)
            touched |= self.node(o, n, path)
            path.pop()
        return touched

    def mapping(self, old: MappingNode, new: MappingNode, path: list[PathItem]) -> bool:
        self.duplicates(old)
        pairs = list(zip(old.value, new.value, strict=False))
        change = self.expected.mappings.get(tuple(path)) if self.expected.mappings else None
        touched = False
        if change is not None:
            touched = True
            want = len(old.value) + (1 if change.insert else 0)
            if len(new.value) != want or change.index >= want:
                raise Mismatch(
                    "verify-failed",
                    _line(new),
                    f"{_show(tuple(path))}: the mapping did not get exactly the intended key",
                )
            k, v = new.value[change.index]
            if not (
                isinstance(k, ScalarNode)
                and k.tag == STR_TAG
                and k.value == change.key
                and isinstance(v, ScalarNode)
                and v.tag == STR_TAG
                and v.value == change.value
            ):
                raise Mismatch(
                    "verify-failed",
                    _line(k),
                    f"{_show(tuple(path))}.{change.key} does not read back as {change.value!r}",
                )
            rest_new = new.value[: change.index] + new.value[change.index + 1 :]
            rest_old = (
                old.value
                if change.insert
                else (old.value[: change.index] + old.value[change.index + 1 :])
            )
            pairs = list(zip(rest_old, rest_new, strict=True))
        elif len(old.value) != len(new.value):
            raise Mismatch("verify-failed", _line(new), f"{_show(tuple(path))} changed keys")
        for i, ((ok, ov), (nk, nv)) in enumerate(pairs):
            self.node(ok, nk, [*path, "<key>", i])
            path.append(ok.value if isinstance(ok, ScalarNode) else i)
            touched |= self.node(ov, nv, path)
            path.pop()
        return touched

    def duplicates(self, mapping: MappingNode) -> None:
        if id(mapping) in self.dup_checked:
            return
        self.dup_checked.add(id(mapping))
        seen: dict[tuple[str | None, str], Node] = {}
        for k, _ in mapping.value:
            if isinstance(k, ScalarNode):
                key = (k.tag, k.value)
                if key in seen and k.tag != "tag:yaml.org,2002:merge":
                    raise Mismatch(
                        "duplicate-key",
                        _line(k),
                        f"duplicate key {k.value!r} (first on line {_line(seen[key])})",
                    )
                seen[key] = k


def compare(
    old: tuple[Node, ...], new: tuple[Node, ...], expected: Expected, *, first: int = 0
) -> None:
    """Raise Mismatch unless `new` is `old` with exactly `expected` applied. `first` is the
    index of old[0] in the file (paths start with the document index)."""
    if len(old) != len(new):
        raise Mismatch("verify-failed", 0, "the number of YAML documents changed")
    walk = _Walk(expected)
    for index, (o, n) in enumerate(zip(old, new, strict=True), first):
        walk.node(o, n, [index])
