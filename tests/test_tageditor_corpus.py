"""Every real file of the Kubernetes YAML corpus (2,310 files, `PRODFIX_CORPUS`): edits touch
only the image values.

For each file that references an image, every referenced image gets a new tag (one call
per image, with tags YAML likes to misread) and then a digest. Checked independently of
the editor's own verification:

- bytes: the new file is the old one with only the reported spans replaced, and each
  replaced span is exactly one YAML scalar (the old value, or a renamed key);
- meaning: `load_all` of the new file equals `load_all` of the old one with the edited
  values substituted at the reported paths, and nothing else;
- idempotence: editing the result again changes nothing.

Refusals must have a legitimate reason (a value the editor cannot change without changing
what the file means, or a field the tool reading it would not accept); the summary is printed.
"""

from __future__ import annotations

import copy
import os
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode

from prodfix.adapters.gitops.images import normalise

try:  # optional: PyYAML's libyaml loader is a second, YAML 1.1 reader when installed
    import yaml

    _YAML11: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
except ImportError:  # pragma: no cover
    _YAML11 = None
from prodfix.adapters.gitops.tageditor import (
    EditRefused,
    EditResult,
    find_image_refs,
    set_image_tag,
)

# scripts/test.sh finds the corpus beside the checkout and says where; it refuses to run
# without it when CI is set, so CI never skips this test silently.
CORPUS = Path(
    os.environ.get("PRODFIX_CORPUS")
    or Path(__file__).resolve().parents[2] / "shared" / "corpus" / "k8s-yaml"
)
TAGS = ("1.10", "457", "7e12345", "on", "v9.9.9-prodfix", "null", "0x1f", "2024-05-27", "abc1234")
DIGEST = "sha256:" + "c0ffee00" * 8
# The legitimate refusals of a tag deploy (templated values, block scalars, anchors, …: the
# edit would change more than one scalar's value), plus the kustomize and Helm field rules a
# digest deploy can meet (kustomize's `images:` `digest` field, a chart's `image.tag`).
ALLOWED_TAG = {
    "templated",
    "unparseable",
    "not-utf8",
    "block-scalar",
    "duplicate-key",
    "anchor",
    "explicit-tag",
    "tag-and-digest",
    "tag-suffix",
    "digest-pinned",
    "no-tag-field",
    "cannot-insert",
}
ALLOWED_DIGEST = ALLOWED_TAG | {"no-digest-field"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CORPUS.is_dir() and not os.environ.get("CI"),
        reason=f"corpus not found at {CORPUS} (scripts/test.sh sets PRODFIX_CORPUS when it finds it)",
    ),
]


def _load_all(data: bytes, *, pure: bool = True) -> list[Any]:
    return list(YAML(typ="safe", pure=pure).load_all(data.decode("utf-8-sig")))


def _scalar_source(snippet: bytes) -> str:
    """The value of a YAML snippet that must be exactly one scalar token."""
    docs = list(YAML(typ="safe", pure=True).compose_all(snippet.decode("utf-8")))
    assert len(docs) == 1 and isinstance(docs[0], ScalarNode), snippet
    return str(docs[0].value)


def _unshared(value: Any) -> Any:
    """A deep copy in which no two paths share an object (aliases are expanded)."""
    if isinstance(value, dict):
        return {k: _unshared(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unshared(v) for v in value]
    return copy.copy(value)


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _check_bytes(old: bytes, res: EditResult) -> None:
    rebuilt, pos = b"", 0
    for s in res.splices:
        assert s.start >= pos
        rebuilt += old[pos : s.start] + s.text
        pos = s.end
    assert rebuilt + old[pos:] == res.new, "bytes outside the reported spans changed"
    olds = {e.old for e in res.edits} | {"newTag", "digest"}
    news = {e.new for e in res.edits} | {"newTag", "digest"}
    for s in res.splices:
        if s.start == s.end:  # an inserted `key: value` line, or a value after `key:`
            node = next(YAML(typ="safe", pure=True).compose_all(s.text.decode().strip()))
            if isinstance(node, MappingNode):
                [(k, v)] = node.value
                assert k.value in ("newTag", "digest") and v.value in news
            else:
                assert node.value in news
        else:
            assert _scalar_source(old[s.start : s.end]) in olds, old[s.start : s.end]
            assert _scalar_source(s.text) in news, s.text


def _check_meaning(old: _Old, res: EditResult) -> None:
    try:  # libyaml's parser (ruamel's C loader, YAML 1.2 types): a third of the test's time
        after, before = _load_all(res.new, pure=False), old.docs(pure=False)
    except YAMLError:  # a YAML 1.2 form libyaml refuses (`{image: a:1}`): the pure reader
        after, before = _load_all(res.new), old.docs(pure=True)
    expected = _unshared(before)
    for e in res.edits:
        parent_path, key = e.path[:-1], e.path[-1]
        parent = _at(expected, parent_path)
        if e.kind.startswith("kustomize-"):
            other = "digest" if key == "newTag" else "newTag"
            old_parent = _at(before, parent_path)
            if key not in old_parent and old_parent.get(other) not in (None, ""):
                del parent[other]  # the key was renamed in place
        parent[key] = e.new
    assert after == expected, "the re-parsed file differs beyond the edited values"


class _Old:
    """The original file, loaded once per reader (lazily) for all the edits made to it."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._docs: dict[bool, list[Any]] = {}

    def docs(self, *, pure: bool) -> list[Any]:
        if pure not in self._docs:
            self._docs[pure] = _load_all(self.data, pure=pure)
        return self._docs[pure]


def _check_yaml11(old: bytes, res: EditResult) -> None:
    """A second, independent reader with YAML 1.1 rules (libyaml, as go-yaml reads): every
    edited value must come back as the exact string (`on`, `1.10`, `457` quoted)."""
    if _YAML11 is None:
        return
    try:
        list(yaml.load_all(old, Loader=_YAML11))
    except yaml.YAMLError:
        return  # PyYAML cannot read the original either (e.g. the `=` value tag)
    after = list(yaml.load_all(res.new, Loader=_YAML11))
    for e in res.edits:
        assert _at(after, e.path) == e.new, (e, _at(after, e.path))


def _edit(
    name: str,
    old: _Old,
    image: str,
    tag: str,
    refusals: Counter[str],
    examples: dict[str, str],
    allowed: set[str],
    *,
    again: bool,
) -> EditResult | None:
    data = old.data
    try:
        res = set_image_tag(data, image=image, tag=tag, filename=name)
    except EditRefused as exc:
        assert exc.reason in allowed, f"{exc.message} ({exc.reason})"
        refusals[exc.reason] += 1
        examples.setdefault(exc.reason, exc.message)
        return None
    assert res.refs, f"{name}: {image} was listed by find_image_refs but not found"
    _check_bytes(data, res)
    _check_meaning(old, res)
    _check_yaml11(data, res)
    if not again:
        return res
    second = set_image_tag(res.new, image=image, tag=tag, filename=name)
    assert second.edits == () and second.new is res.new
    want = normalise(image)
    now = [r for r in find_image_refs(res.new, name) if normalise(r.repository) == want]
    field = "tag" if tag != DIGEST else "digest"
    assert all(getattr(r, field) == tag for r in now), now
    return res


def test_every_corpus_file(capsys: pytest.CaptureFixture[str]) -> None:
    files = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".yaml", ".yml"))
    assert len(files) > 2000
    refusals: Counter[str] = Counter()
    examples: dict[str, str] = {}
    kinds: Counter[str] = Counter()
    referencing = edited = edits = digest_files = digest_edited = 0
    for path in files:
        name = path.relative_to(CORPUS).as_posix()
        data = path.read_bytes()
        try:
            refs = find_image_refs(data, name)
        except EditRefused as exc:
            assert exc.reason in ALLOWED_TAG, f"{exc.message} ({exc.reason})"
            refusals[exc.reason] += 1
            examples.setdefault(exc.reason, exc.message)
            continue
        if not refs:
            continue
        referencing += 1
        kinds.update(r.kind for r in refs)
        images = sorted({r.repository for r in refs})
        old = _Old(data)
        results = []
        for image in images:
            tag = TAGS[zlib.crc32(f"{name} {image}".encode()) % len(TAGS)]
            results.append(
                _edit(name, old, image, tag, refusals, examples, ALLOWED_TAG, again=True)
            )
        if all(results):
            edited += 1
            edits += sum(len(r.edits) for r in results if r)
        # Digests too, where the file kind has digest rules (and a sample of the rest).
        if {r.kind for r in refs} - {"container"} or referencing % 8 == 0:
            digest_results = [
                _edit(name, old, image, DIGEST, Counter(), {}, ALLOWED_DIGEST, again=False)
                for image in images
            ]
            digest_files += 1
            digest_edited += all(digest_results)
    summary = (
        f"corpus: {len(files)} files, {referencing} reference images "
        f"({dict(kinds)}); tag edits: {edited} files clean, {edits} values; digest edits: "
        f"{digest_edited}/{digest_files} files clean; refused: {dict(refusals)}"
    )
    with capsys.disabled():
        print("\n" + summary)
        for reason, message in sorted(examples.items()):
            print(f"  e.g. {reason}: {message}")
    assert referencing >= 240, summary
    assert edited >= 235 and edits >= 280, summary
    assert edited >= 0.95 * referencing, summary
