"""Set an image's tag (or digest) in one YAML file: locate, splice, verify.

Locate the value with the composed node tree (locate.py), replace only its characters in
the original text, keeping the quote style (scalars.py), then re-parse and require that
exactly the intended values changed (verify.py). Anything that cannot be done that way is
an EditRefused naming file, line and reason. The rules followed: kustomize's `images:`
(https://kubectl.docs.kubernetes.io/references/kustomize/kustomization/images/: `name` matched
as written, `newName`/`newTag`/`digest`) and Helm's values conventions (`image.repository` and
`image.tag`, as `helm create` scaffolds them).

The decisions per file kind are in changes.py.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import PurePosixPath

from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import Node

from prodfix.adapters.gitops.changes import ChangeSet, Edit, plan_site
from prodfix.adapters.gitops.images import (
    last_component,
    normalise,
    validate_image,
    validate_version,
)
from prodfix.adapters.gitops.locate import (
    KUSTOMIZATION_NAMES,
    Parsed,
    ParseFailure,
    Site,
    compose,
    find_sites,
    parse,
)
from prodfix.adapters.gitops.refusals import EditRefused
from prodfix.adapters.gitops.verify import Mismatch, compare

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
    return ImageRef(filename, site.line, site.kind, r.repository, r.tag, r.digest)


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
    plan = ChangeSet()
    for site in sites:
        plan_site(plan, parsed, site, version, filename)
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


def _verify(parsed: Parsed, new_text: str, plan: ChangeSet, filename: str) -> None:
    """Re-parse and compare; in a multi-document file only the edited documents."""
    try:
        for first, old_docs, text, lines_before in _regions(parsed, new_text, plan):
            try:
                compare(old_docs, compose(text), plan.expected, first=first)
            except Mismatch as exc:
                exc.line += lines_before if exc.line else 0
                raise
    except RecursionError as exc:
        raise EditRefused(filename, 0, "verify-failed", "the edited file nests too deep") from exc
    except YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise EditRefused(
            filename, 0, "verify-failed", f"the edited file does not parse: {problem}"
        ) from exc
    except Mismatch as exc:
        raise EditRefused(filename, exc.line, exc.reason, exc.detail) from exc


def _regions(
    parsed: Parsed, new_text: str, plan: ChangeSet
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
