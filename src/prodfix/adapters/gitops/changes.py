"""What to change at each image reference: splices into the text, the expected re-parse.

Decisions (documented for `deploy` users):

- A workload image `repo[:tag][@digest]` becomes `repo:TAG` (a digest pin would override
  the new tag, so it is dropped) or `repo@DIGEST`; the repository keeps its spelling.
- kustomize `images[]`: the entry's `newTag` (tag) or `digest` (digest) is set. An entry
  pinning the other field has that key renamed in place (`digest: sha…` → `newTag: 1.2`),
  because kustomize ignores newTag when a digest is set. An entry with neither gets the
  key inserted on a new line after its last one-line key, at the entry's indentation
  (block style only). An entry with both, or with `tagSuffix`, is refused.
- Helm values: `tag` (or `version`) is set; a non-empty `digest` would override it, so a
  tag deploy is refused there, and a digest deploy needs a `digest` key. Keys are never
  added to values (a chart may read the tag from elsewhere: the change could be silent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

from prodfix.adapters.gitops.images import Version
from prodfix.adapters.gitops.locate import Parsed, Path_, Site, is_null, is_str, item
from prodfix.adapters.gitops.refusals import EditRefused
from prodfix.adapters.gitops.scalars import STR_TAG, render
from prodfix.adapters.gitops.verify import Expected, KeyChange


@dataclass(frozen=True)
class Edit:
    """One changed value: `old` → `new` at `file:line` (old is "" when a key was added)."""

    file: str
    line: int  # 1-based
    old: str
    new: str
    kind: str  # container | helm-inline | helm-tag | helm-digest | kustomize-newTag | …
    path: Path_ = ()  # (document index, key or index, …) of the value

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "old": self.old,
            "new": self.new,
            "kind": self.kind,
        }


@dataclass
class ChangeSet:
    """Char-offset splices into Parsed.text, what the re-parse must show, the edit records."""

    splices: list[tuple[int, int, str, int]] = field(default_factory=list)  # …, document
    expected: Expected = field(default_factory=Expected)
    edits: list[Edit] = field(default_factory=list)


_PROPERTY = re.compile(r"[&!][^\s]*[ \t]+(?=\S)")  # `&anchor ` or `!tag ` before a value
_NOTHING_AFTER = re.compile(r"[ \t]*(?:#|\r?\n|$|[,}\]])")  # after `key:` with no value
_REST_OF_LINE = re.compile(r"[ \t]*(?:#.*)?\r?")
_KEY_PREFIX = re.compile(r"[ -]*")


def plan_site(plan: ChangeSet, parsed: Parsed, site: Site, version: Version, filename: str) -> None:
    if site.shared:
        raise EditRefused(
            filename,
            site.line,
            "anchor",
            "the image is defined through an "
            "anchor/alias or a << merge, so other places would change too",
        )
    if site.kind in ("container", "helm-inline"):
        node = site.node
        repo = site.reference.repository
        value = f"{repo}:{version.tag}" if version.tag is not None else f"{repo}@{version.digest}"
        if node.value != value:
            _replace(plan, parsed, node, None, site.path, value, filename, site.kind)
    elif site.kind == "kustomize":
        _plan_kustomize(plan, parsed, site, version, filename)
    else:
        _plan_helm(plan, parsed, site, version, filename)


def _present(hit: tuple[int, Node, Node] | None) -> bool:
    return hit is not None and not is_null(hit[2]) and not (is_str(hit[2]) and not hit[2].value)


def _plan_kustomize(
    plan: ChangeSet, parsed: Parsed, site: Site, version: Version, filename: str
) -> None:
    entry = site.node
    assert isinstance(entry, MappingNode)
    if item(entry, "tagSuffix"):
        raise EditRefused(filename, site.line, "tag-suffix", "the images entry uses tagSuffix")
    want_key, other_key = ("newTag", "digest") if version.tag is not None else ("digest", "newTag")
    want, other = item(entry, want_key), item(entry, other_key)
    kind = f"kustomize-{want_key}"
    if _present(other) and (want is not None):
        raise EditRefused(
            filename,
            site.line,
            "tag-and-digest",
            "the images entry has both newTag and digest (kustomize ignores newTag)",
        )
    if other is not None and _present(other):
        _rename(plan, parsed, site.path, other, want_key, version.text, filename, kind)
    elif want is not None:
        if not (is_str(want[2]) and want[2].value == version.text):
            _replace(
                plan, parsed, want[2], want[1], (*site.path, want_key), version.text, filename, kind
            )
    else:
        _insert(plan, parsed, entry, site.path, want_key, version.text, filename, kind)


def _plan_helm(
    plan: ChangeSet, parsed: Parsed, site: Site, version: Version, filename: str
) -> None:
    mapping = site.node
    assert isinstance(mapping, MappingNode)
    digest = item(mapping, "digest")
    if version.tag is not None:
        if _present(digest):
            raise EditRefused(
                filename,
                site.line,
                "digest-pinned",
                "the values set a digest, which the chart uses instead of the tag",
            )
        target = item(mapping, "tag") or item(mapping, "version")
        if target is None:
            raise EditRefused(
                filename, site.line, "no-tag-field", "the image mapping has repository but no tag"
            )
        kind = "helm-tag"
    else:
        if digest is None:
            raise EditRefused(
                filename, site.line, "no-digest-field", "the image mapping has no digest key"
            )
        target, kind = digest, "helm-digest"
    _, key, node = target
    if not (is_str(node) and node.value == version.text):
        _replace(plan, parsed, node, key, (*site.path, key.value), version.text, filename, kind)


def _value_span(parsed: Parsed, node: Node, filename: str) -> tuple[int, int, str | None]:
    """Start, end and quote style of the scalar's own characters, after any properties: an
    unused anchor (`&t`) or a `!!str` tag stays in place, only the value is replaced."""
    line = node.start_mark.line + 1
    if not isinstance(node, ScalarNode):
        raise EditRefused(filename, line, "unexpected-value", "expected a scalar value here")
    if id(node) in parsed.shared_ids:
        raise EditRefused(
            filename,
            line,
            "anchor",
            "the value is anchored (&) and used elsewhere through an alias",
        )
    if node.style in ("|", ">"):
        raise EditRefused(
            filename,
            line,
            "block-scalar",
            f"the value is a {'literal' if node.style == '|' else 'folded'} block scalar",
        )
    start, end = node.start_mark.index, node.end_mark.index
    text = parsed.text
    while text.startswith(("&", "!"), start):
        explicit_tag = text.startswith("!", start)
        m = _PROPERTY.match(text, start, end)
        if m is None or (explicit_tag and node.tag != STR_TAG):
            reason = "explicit-tag" if explicit_tag else "anchor"
            raise EditRefused(
                filename,
                line,
                reason,
                f"the value has a YAML {reason.split('-')[-1]} this edit cannot keep",
            )
        start = m.end()
    return start, end, node.style


def _replace(
    plan: ChangeSet,
    parsed: Parsed,
    node: Node,
    key: Node | None,
    path: Path_,
    value: str,
    filename: str,
    kind: str,
) -> None:
    line = node.start_mark.line + 1
    if isinstance(node, ScalarNode) and is_null(node) and node.value == "" and node.style is None:
        # `tag:` with nothing after it: the node's marks point past the key, maybe at the
        # next line (ruamel.yaml's marks for an implicit null; splicing there would glue the
        # value to the next key). Insert after the key's colon instead.
        if key is None:
            raise EditRefused(filename, line, "unexpected-value", "the value is empty")
        line = key.start_mark.line + 1
        if id(node) in parsed.shared_ids:
            raise EditRefused(filename, line, "anchor", "the empty value is used through an alias")
        colon = key.end_mark.index
        while parsed.text.startswith((" ", "\t"), colon):
            colon += 1
        if not parsed.text.startswith(":", colon) or not _NOTHING_AFTER.match(
            parsed.text, colon + 1
        ):
            raise EditRefused(
                filename, line, "cannot-insert", "unusual syntax around the empty value"
            )
        plan.splices.append((colon + 1, colon + 1, " " + render(value, None), _doc(path)))
        old = ""
    else:
        start, end, style = _value_span(parsed, node, filename)
        plan.splices.append((start, end, render(value, style), _doc(path)))
        old = node.value
    plan.expected.scalars[path] = value
    plan.edits.append(Edit(filename, line, old, value, kind, path))


def _rename(
    plan: ChangeSet,
    parsed: Parsed,
    path: Path_,
    hit: tuple[int, Node, Node],
    new_key: str,
    value: str,
    filename: str,
    kind: str,
) -> None:
    index, key, node = hit
    key_start, key_end, key_style = _value_span(parsed, key, filename)
    start, end, style = _value_span(parsed, node, filename)
    plan.splices.append((key_start, key_end, render(new_key, key_style), _doc(path)))
    plan.splices.append((start, end, render(value, style), _doc(path)))
    plan.expected.mappings[path] = KeyChange(index, new_key, value, insert=False)
    line = node.start_mark.line + 1
    plan.edits.append(Edit(filename, line, node.value, value, kind, (*path, new_key)))


def _insert(
    plan: ChangeSet,
    parsed: Parsed,
    mapping: MappingNode,
    path: Path_,
    key: str,
    value: str,
    filename: str,
    kind: str,
) -> None:
    """Add `key: value` on a new line after the mapping's last one-line `key: value`."""
    text = parsed.text
    line = mapping.start_mark.line + 1
    if mapping.flow_style:
        raise EditRefused(
            filename,
            line,
            "cannot-insert",
            f"no {key} to change, and the entry is in flow style {{…}}",
        )
    for index in range(len(mapping.value) - 1, -1, -1):
        k, v = mapping.value[index]
        if (
            isinstance(k, ScalarNode)
            and isinstance(v, ScalarNode)
            and v.style not in ("|", ">")
            and not (is_null(v) and v.value == "")
            and k.start_mark.line == v.start_mark.line == v.end_mark.line
        ):
            break
    else:
        raise EditRefused(
            filename,
            line,
            "cannot-insert",
            f"no {key} to change, and no one-line key in the entry to add it after",
        )
    line_start = text.rfind("\n", 0, k.start_mark.index) + 1
    line_end = text.find("\n", v.end_mark.index)
    rest = text[v.end_mark.index : len(text) if line_end < 0 else line_end]
    if not _KEY_PREFIX.fullmatch(
        text, line_start, k.start_mark.index
    ) or not _REST_OF_LINE.fullmatch(rest):
        raise EditRefused(
            filename,
            k.start_mark.line + 1,
            "cannot-insert",
            f"no {key} to change, and the entry's layout is unusual",
        )
    new_line = f"{' ' * k.start_mark.column}{key}: {render(value, None)}"
    if line_end >= 0:
        eol = "\r\n" if rest.endswith("\r") else "\n"
        plan.splices.append((line_end + 1, line_end + 1, new_line + eol, _doc(path)))
    else:  # last line of a file without a final newline: keep it without one
        eol = "\r\n" if "\r\n" in text else "\n"
        plan.splices.append((len(text), len(text), eol + new_line, _doc(path)))
    plan.expected.mappings[path] = KeyChange(index + 1, key, value, insert=True)
    plan.edits.append(Edit(filename, k.start_mark.line + 2, "", value, kind, (*path, key)))


def _doc(path: Path_) -> int:
    doc = path[0]
    assert isinstance(doc, int)
    return doc
