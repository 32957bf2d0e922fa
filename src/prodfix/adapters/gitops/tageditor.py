"""Set an image's tag (or digest) in one YAML file: locate, splice, verify.

Locate the value with the composed node tree (locate.py), replace only its characters in
the original text, keeping the quote style (scalars.py), then re-parse and require that
exactly the intended values changed (verify.py). Anything that cannot be done that way is
an EditRefused naming file, line and reason. NOTES/gitops.md §6.6 is the recipe; §3 and
§4 are the kustomize and Helm rules followed here.

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

import itertools
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

from prodfix.adapters.gitops.images import (
    Version,
    last_component,
    normalise,
    validate_image,
    validate_version,
)
from prodfix.adapters.gitops.locate import (
    KUSTOMIZATION_NAMES,
    Parsed,
    ParseFailure,
    Path_,
    Site,
    compose,
    find_sites,
    is_null,
    is_str,
    item,
    parse,
)
from prodfix.adapters.gitops.refusals import EditRefused
from prodfix.adapters.gitops.scalars import STR_TAG, render
from prodfix.adapters.gitops.verify import Expected, KeyChange, Mismatch, compare

__all__ = [
    "Edit",
    "EditRefused",
    "EditResult",
    "ImageRef",
    "Splice",
    "find_image_refs",
    "set_image_tag",
]


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


@dataclass(frozen=True)
class Splice:
    """Bytes `start:end` of the original file were replaced by `text`."""

    start: int
    end: int
    text: bytes


@dataclass(frozen=True)
class ImageRef:
    """An image reference found in a file, with what it currently points at."""

    file: str
    line: int
    kind: str  # container | kustomize | helm | helm-inline
    repository: str  # as written (Helm: registry/repository)
    tag: str | None
    digest: str | None

    @property
    def current(self) -> str:
        """`tag`, `digest`, `tag@digest`, or "" when the file pins neither."""
        return "@".join(x for x in (self.tag, self.digest) if x)


@dataclass(frozen=True)
class EditResult:
    new: bytes
    edits: tuple[Edit, ...]
    refs: tuple[ImageRef, ...]  # every reference to the image, changed or not
    splices: tuple[Splice, ...]

    @property
    def changed(self) -> bool:
        return bool(self.edits)


@dataclass
class _Plan:
    """Char-offset splices into Parsed.text, what the re-parse must show, the edit records."""

    splices: list[tuple[int, int, str, int]] = field(default_factory=list)  # …, document
    expected: Expected = field(default_factory=Expected)
    edits: list[Edit] = field(default_factory=list)


_TAG_PROPERTY = re.compile(r"![^\s]*[ \t]+(?=\S)")
_REST_OF_LINE = re.compile(r"[ \t]*(?:#.*)?\r?")
_KEY_PREFIX = re.compile(r"[ -]*")


def _may_mention(data: bytes, word: bytes) -> bool:
    """False only when the file cannot name `word` (so it need not be parsed): the word is
    absent, no escape sequence could spell it, and the file is not UTF-16 (refused)."""
    return word in data.lower() or b"\\" in data or data.startswith((b"\xff\xfe", b"\xfe\xff"))


def _load(data: bytes, filename: str) -> Parsed:
    parsed = parse(data)
    if isinstance(parsed, ParseFailure):
        raise EditRefused(filename, parsed.line, parsed.reason, parsed.detail)
    return parsed


def _sites(parsed: Parsed, filename: str) -> tuple[Site, ...]:
    return find_sites(
        parsed, kustomization_name=PurePosixPath(filename).name in KUSTOMIZATION_NAMES
    )


def _ref(site: Site, filename: str) -> ImageRef:
    r = site.reference
    kind = site.kind
    return ImageRef(filename, site.line, kind, r.repository, r.tag, r.digest)


def find_image_refs(data: bytes, filename: str) -> list[ImageRef]:
    """Every image reference in the file (all images), in file order."""
    if not _may_mention(data, b"image"):
        return []  # every place an image can be named has a key containing "image"
    parsed = _load(data, filename)
    sites = _sites(parsed, filename)
    if sites and parsed.template_line:
        raise EditRefused(
            filename,
            parsed.template_line,
            "templated",
            "Go/Helm template syntax ({{ }}): the YAML seen here is not what is deployed",
        )
    return sorted((_ref(s, filename) for s in sites), key=lambda r: r.line)


def set_image_tag(data: bytes, *, image: str, tag: str, filename: str) -> EditResult:
    """Point every reference to `image` in the file at `tag` (a tag or a sha256: digest).

    Returns the new bytes (identical to `data` when nothing changes) and the edits; raises
    ProdfixError (exit 2) for an invalid image or tag, EditRefused when the file cannot be
    changed safely. A file that does not mention the image is returned untouched, unparsed.
    """
    version = validate_version(tag)
    want = normalise(validate_image(image))
    if not _may_mention(data, last_component(image).encode()):
        return EditResult(data, (), (), ())
    parsed = _load(data, filename)
    sites = [s for s in _sites(parsed, filename) if normalise(s.reference.repository) == want]
    refs = tuple(_ref(s, filename) for s in sites)
    if not sites:
        return EditResult(data, (), refs, ())
    if parsed.template_line:
        raise EditRefused(
            filename,
            parsed.template_line,
            "templated",
            "Go/Helm template syntax ({{ }}): the YAML seen here is not what is deployed",
        )
    plan = _Plan()
    for site in sites:
        _plan_site(plan, parsed, site, version, filename)
    if not plan.splices:
        return EditResult(data, (), refs, ())
    new_text = _apply(parsed.text, plan.splices, filename)
    _verify(parsed, new_text, plan, filename)
    new = parsed.bom + new_text.encode("utf-8")
    return EditResult(
        new,
        tuple(sorted(plan.edits, key=lambda e: e.line)),
        refs,
        _byte_splices(parsed, plan.splices),
    )


def _plan_site(plan: _Plan, parsed: Parsed, site: Site, version: Version, filename: str) -> None:
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
    plan: _Plan, parsed: Parsed, site: Site, version: Version, filename: str
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


def _plan_helm(plan: _Plan, parsed: Parsed, site: Site, version: Version, filename: str) -> None:
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
    """Start, end and quote style of the scalar's own characters (after a `!!str` tag)."""
    line = node.start_mark.line + 1
    if not isinstance(node, ScalarNode):
        raise EditRefused(filename, line, "unexpected-value", "expected a scalar value here")
    if node.style in ("|", ">"):
        raise EditRefused(
            filename,
            line,
            "block-scalar",
            f"the value is a {'literal' if node.style == '|' else 'folded'} block scalar",
        )
    start, end = node.start_mark.index, node.end_mark.index
    text = parsed.text
    if text.startswith("&", start) or text.startswith("*", start):
        raise EditRefused(
            filename, line, "anchor", "the value carries an anchor (&) and may be used elsewhere"
        )
    if text.startswith("!", start):
        m = _TAG_PROPERTY.match(text, start, end)
        if node.tag != STR_TAG or m is None:
            raise EditRefused(filename, line, "explicit-tag", "the value has an explicit YAML tag")
        start = m.end()
    return start, end, node.style


def _replace(
    plan: _Plan,
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
        # next line (NOTES/gitops.md §6.5). Insert after the key's colon instead.
        if key is None:
            raise EditRefused(filename, line, "unexpected-value", "the value is empty")
        line = key.start_mark.line + 1
        colon = key.end_mark.index
        while parsed.text.startswith((" ", "\t"), colon):
            colon += 1
        if not parsed.text.startswith(":", colon):
            raise EditRefused(
                filename, line, "cannot-insert", "unusual key syntax before the value"
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
    plan: _Plan,
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
    plan: _Plan,
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


def _apply(text: str, splices: list[tuple[int, int, str, int]], filename: str) -> str:
    ordered = sorted(splices)
    for (_, end, _, _), (start, _, _, _) in itertools.pairwise(ordered):
        if start < end:
            raise EditRefused(filename, 0, "verify-failed", "two edits overlap")
    out: list[str] = []
    pos = 0
    for start, end, new, _ in ordered:
        out += (text[pos:start], new)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _verify(parsed: Parsed, new_text: str, plan: _Plan, filename: str) -> None:
    """Re-parse and compare; in a multi-document file only the edited documents."""
    try:
        for first, old_docs, text, lines_before in _regions(parsed, new_text, plan):
            try:
                compare(old_docs, compose(text), plan.expected, first=first)
            except Mismatch as exc:
                exc.line += lines_before if exc.line else 0
                raise
    except YAMLError as exc:
        raise EditRefused(
            filename, 0, "verify-failed", f"the edited file does not parse: {exc}"
        ) from exc
    except Mismatch as exc:
        raise EditRefused(filename, exc.line, exc.reason, exc.detail) from exc


def _regions(
    parsed: Parsed, new_text: str, plan: _Plan
) -> list[tuple[int, tuple[Node, ...], str, int]]:
    """(first document index, old documents, new text, lines before it) to re-parse.

    A document of a stream parses alone exactly as inside it (no directives: those
    would carry over), so a 150 KB install.yaml is re-parsed per edited Deployment, not whole.
    The splices replace whole scalars with quoted or checked-plain `[A-Za-z0-9_.:/@-]` text,
    so they cannot open a quote or a flow collection that runs into the next document.
    """
    text, docs = parsed.text, parsed.docs
    whole = [(0, docs, new_text, 0)]
    if len(docs) < 2 or "\n%" in text or text.startswith("%"):
        return whole
    out: list[tuple[int, tuple[Node, ...], str, int]] = []
    for doc in sorted({d for *_, d in plan.splices}):
        root = docs[doc]
        start = text.rfind("\n", 0, root.start_mark.index) + 1
        end = root.end_mark.index
        own = [(s - start, e - start, t, d) for s, e, t, d in plan.splices if d == doc]
        if any(s < 0 or e > end - start for s, e, _, _ in own):
            return whole
        lines_before = text.count("\n", 0, start)
        out.append((doc, (root,), _apply(text[start:end], own, ""), lines_before))
    return out


def _byte_splices(parsed: Parsed, splices: list[tuple[int, int, str, int]]) -> tuple[Splice, ...]:
    text, base, ascii_ = parsed.text, len(parsed.bom), parsed.text.isascii()

    def offset(i: int) -> int:
        return base + (i if ascii_ else len(text[:i].encode("utf-8")))

    return tuple(Splice(offset(s), offset(e), t.encode("utf-8")) for s, e, t, _ in sorted(splices))
