"""Property tests: generated kustomizations, Helm values and manifests, in random layouts.

Each file is generated with random comments (some naming the image), quote styles,
indentation, sequence styles, CRLF or LF, a BOM or not, a final newline or not, and decoy
images (prefix-sharing names, other registries, ConfigMap data, block scalars). An
independent oracle, written over the *loaded* data, says what the edit must do; the editor
must then either do exactly that (checked on the bytes and on the re-parsed document) or
refuse with the reason the oracle expects. No other exception is ever acceptable.

Budget: 200 examples per file kind, 300 for the mutation fuzzer (deadline off).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from prodfix.adapters.gitops.images import TAG_RE, normalise, parse_reference
from prodfix.adapters.gitops.tageditor import EditRefused, EditResult, set_image_tag
from prodfix.errors import ProdfixError

IMG = "registry.example.com/sre/app"
SPELLINGS = [IMG, "REGISTRY.example.com/sre/app"]
DECOYS = [
    "registry.example.com/sre/app-worker",
    "registry.example.com/sre/app/sub",
    "other.example.com/sre/app",
    "sre/app",
    "nginx",
]
DIGEST = "sha256:" + "ab" * 32
TRICKY = [
    "457",
    "1.10",
    "7e12345",
    "on",
    "yes",
    "null",
    "0x1f",
    "012345",
    "2024-05-27",
    "v1.4.2",
    "1.4.2",
    "main-abc1234",
    "_",
    "Y",
]
pytestmark = pytest.mark.slow

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

tags = st.one_of(st.sampled_from(TRICKY), st.from_regex(TAG_RE, fullmatch=True))
targets = st.one_of(tags, st.just(DIGEST))
old_tags = st.one_of(
    st.sampled_from(TRICKY), st.from_regex(r"[a-z0-9][a-z0-9.-]{0,8}", fullmatch=True)
)
COMMENT_WORDS = ["note", f"image: {IMG}:0.9", "newTag: 1", "TODO", "é ü"]
# A line's comment: None about half the time, else one of the words, shrinking towards None,
# as `one_of(none(), sampled_from(words))` draws them, in one draw instead of two (a layout
# draws 60: a good part of the cost of generating an example).
comments_or_none = st.sampled_from([None] * len(COMMENT_WORDS) + COMMENT_WORDS)


@dataclass
class Layout:
    eol: str
    bom: bool
    final_newline: bool
    indent: int  # mapping indentation unit
    dash_indented: bool  # `key:\n  - item` rather than `key:\n- item`
    comments: list[str | None]  # per line: a comment line to put before it, or None


@st.composite
def layouts(draw: st.DrawFn) -> Layout:
    return Layout(
        eol=draw(st.sampled_from(["\n", "\r\n"])),
        bom=draw(st.booleans()),
        final_newline=draw(st.booleans()),
        indent=draw(st.sampled_from([2, 4])),
        dash_indented=draw(st.booleans()),
        comments=draw(st.lists(comments_or_none, min_size=60, max_size=60)),
    )


def quoted(draw: st.DrawFn, value: str) -> str:
    """`value` in a random style that still reads back as the string `value`."""
    style = draw(st.sampled_from(["plain", "single", "double"]))
    if style == "single":
        return f"'{value}'"
    if style == "double" or _loads(value) != value:
        return f'"{value}"'
    return value


def render(lines: list[tuple[str, bool]], layout: Layout) -> bytes:
    """Lines (text, may take a comment) joined in the layout, with comments scattered."""
    out = []
    for i, (text, commentable) in enumerate(lines):
        note = layout.comments[i % len(layout.comments)]
        if note is not None and commentable:
            indent = len(text) - len(text.lstrip(" -"))
            out.append(" " * (indent if i % 2 else 0) + "# " + note)
        if note is not None and commentable and i % 3 == 0 and not text.rstrip().endswith(":"):
            text += "   # " + note
        out.append(text)
    body = layout.eol.join(out) + (layout.eol if layout.final_newline else "")
    return (b"\xef\xbb\xbf" if layout.bom else b"") + body.encode("utf-8")


def _loads(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


def load_all(data: bytes, *, pure: bool = True) -> list[Any]:
    return list(YAML(typ="safe", pure=pure).load_all(data.decode("utf-8-sig")))


def matches(repository: object) -> bool:
    return isinstance(repository, str) and normalise(repository) == normalise(IMG)


class Refuse(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


def check(data: bytes, target: str, filename: str, oracle: Any) -> None:
    """Run the editor and compare with the oracle's expected documents (or refusal).

    The documents are read with libyaml's parser (ruamel's C loader: the same YAML 1.2 types
    in a third of the time, and a reader other than the one the editor locates with); where
    libyaml refuses a YAML 1.2 form, before or after the edit, the whole check runs again with
    the pure reader."""
    try:
        _check(data, target, filename, oracle, pure=False)
    except YAMLError:
        _check(data, target, filename, oracle, pure=True)


def _check(data: bytes, target: str, filename: str, oracle: Any, *, pure: bool) -> None:
    before = load_all(data, pure=pure)
    try:
        expected = oracle(copy.deepcopy(before), target)
    except Refuse as want:
        try:
            set_image_tag(data, image=IMG, tag=target, filename=filename)
        except EditRefused as got:
            assert got.reason == want.reason, got.message
            event(f"refused: {got.reason}")
            return
        raise AssertionError(f"expected a refusal ({want.reason})") from None
    res = set_image_tag(data, image=IMG, tag=target, filename=filename)
    event("edited" if res.edits else "nothing to change")
    assert load_all(res.new, pure=pure) == expected
    check_bytes(data, res)
    if res.edits:
        assert set_image_tag(res.new, image=IMG, tag=target, filename=filename).edits == ()
    else:
        assert res.new is data


def check_bytes(old: bytes, res: EditResult) -> None:
    rebuilt, pos = b"", 0
    for s in res.splices:
        rebuilt += old[pos : s.start] + s.text
        pos = s.end
    assert rebuilt + old[pos:] == res.new
    for s in res.splices:  # only scalar characters are replaced; insertions are one key
        removed = old[s.start : s.end].decode()
        assert "#" not in removed and "\n" not in removed
        assert re.fullmatch(r"[\w.:/@'\"~-]*", removed), removed
        assert re.fullmatch(r"(\r?\n)? *[\w.:/@'\" -]*(\r?\n)?", s.text.decode()), s.text


# --- kustomization --------------------------------------------------------------------------


@st.composite
def kustomizations(draw: st.DrawFn) -> bytes:
    layout = draw(layouts())
    dash = " " * layout.indent if layout.dash_indented else ""
    lines: list[tuple[str, bool]] = [
        ("apiVersion: kustomize.config.k8s.io/v1beta1", True),
        ("kind: Kustomization", True),
        ("resources:", True),
        (f"{dash}- deployment.yaml", True),
        ("images:", True),
    ]
    for _ in range(draw(st.integers(1, 5))):
        name = draw(st.sampled_from(SPELLINGS + DECOYS))
        fields = [("name", quoted(draw, name))]
        if draw(st.integers(0, 3)) == 0:
            fields.append(("newName", quoted(draw, draw(st.sampled_from(SPELLINGS + DECOYS)))))
        tag_kind = draw(st.sampled_from(["tag", "tag", "digest", "none", "both", "empty"]))
        if tag_kind in ("tag", "both"):
            fields.append(("newTag", quoted(draw, draw(old_tags))))
        if tag_kind == "empty":
            fields.append(("newTag", draw(st.sampled_from(["", '""', "~"]))))
        if tag_kind in ("digest", "both"):
            fields.append(("digest", quoted(draw, "sha256:" + "01" * 32)))
        if draw(st.integers(0, 4)) == 0:  # flow style entry
            body = ", ".join(f"{k}: {v}" for k, v in fields)
            lines.append((f"{dash}- {{{body}}}", True))
            continue
        for j, (k, v) in enumerate(fields):
            prefix = f"{dash}- " if j == 0 else f"{dash}  "
            lines.append((f"{prefix}{k}:{' ' + v if v else ''}", True))
    return render(lines, layout)


def kustomize_oracle(docs: list[Any], target: str) -> list[Any]:
    want, other = ("digest", "newTag") if target.startswith("sha256:") else ("newTag", "digest")
    for entry in docs[0]["images"]:
        if not matches(entry.get("newName") or entry.get("name")):
            continue
        if entry.get(other) not in (None, "") and want in entry:
            raise Refuse("tag-and-digest")
        if entry.get(other) not in (None, ""):
            del entry[other]  # renamed in place
        elif want not in entry and entry.get("_flow"):
            raise Refuse("cannot-insert")
        entry[want] = target
    return docs


@SETTINGS
@given(kustomizations(), targets)
def test_kustomization_property(data: bytes, target: str) -> None:
    flow_entries = {
        i for i, line in enumerate(_images_lines(data)) if line.lstrip().startswith("- {")
    }

    def oracle(docs: list[Any], target: str) -> list[Any]:
        for i, entry in enumerate(docs[0]["images"]):
            if i in flow_entries:
                entry["_flow"] = True
        result = kustomize_oracle(docs, target)
        for entry in result[0]["images"]:
            entry.pop("_flow", None)
        return result

    check(data, target, "kustomization.yaml", oracle)


def _images_lines(data: bytes) -> list[str]:
    """The first line of each images[] entry, in order."""
    text = data.decode("utf-8-sig").split("images:", 1)[1]
    return [ln for ln in re.split(r"\r?\n", text) if re.match(r"\s*- ", ln)]


# --- Helm values ----------------------------------------------------------------------------


@st.composite
def values_files(draw: st.DrawFn) -> bytes:
    layout = draw(layouts())
    ind = " " * layout.indent
    lines: list[tuple[str, bool]] = [("replicaCount: 1", True)]
    for n in range(draw(st.integers(1, 4))):
        # Each block under its own top-level key (no duplicate keys), except maybe the first.
        depth = draw(st.integers(0 if n == 0 else 1, 3))
        for d in range(depth):
            name = draw(st.sampled_from(["app", "worker", "global"])) if d else f"svc{n}"
            lines.append((f"{ind * d}{name}:", True))
        pad = ind * depth
        key = draw(st.sampled_from(["image", "workerImage", "sidecarImage"]))
        repo = draw(st.sampled_from(SPELLINGS + DECOYS))
        shape = draw(st.sampled_from(["block", "block", "flow", "inline", "registry"]))
        tag_src = draw(
            st.one_of(
                st.sampled_from(["", '""', "''", "~", "457", "1.10"]),
                old_tags.map(lambda t: f'"{t}"'),
                old_tags.map(lambda t: t if _loads(t) == t else f"'{t}'"),
            )
        )
        if shape == "inline":
            lines.append((f"{pad}{key}: {quoted(draw, repo + ':' + draw(old_tags))}", True))
        elif shape == "flow":
            lines.append(
                (
                    f"{pad}{key}: {{repository: {quoted(draw, repo)}, "
                    f"tag: {quoted(draw, draw(old_tags))}}}",
                    True,
                )
            )
        else:
            lines.append((f"{pad}{key}:", True))
            if shape == "registry" and "/" in repo and "." in repo.split("/")[0]:
                registry, _, rest = repo.partition("/")
                lines.append((f"{pad}{ind}registry: {registry}", True))
                lines.append((f"{pad}{ind}repository: {quoted(draw, rest)}", True))
            else:
                lines.append((f"{pad}{ind}repository: {quoted(draw, repo)}", True))
            lines.append((f"{pad}{ind}pullPolicy: IfNotPresent", True))
            lines.append((f"{pad}{ind}tag:{' ' + tag_src if tag_src else ''}", True))
            if draw(st.booleans()):
                lines.append((f'{pad}{ind}digest: ""', True))
    lines.append(("notes: |", False))
    lines.append((f"{' ' * layout.indent}image: {IMG}:0.1", False))
    return render(lines, layout)


def values_oracle(docs: list[Any], target: str) -> list[Any]:
    digest = target.startswith("sha256:")

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for v in node:
                walk(v)
        if not isinstance(node, dict):
            return
        for k, v in list(node.items()):
            if isinstance(k, str) and re.search(r"image$", k, re.I):
                if isinstance(v, dict) and v.get("repository"):
                    repo = v["repository"]
                    if v.get("registry"):
                        repo = f"{v['registry']}/{repo}"
                    if matches(repo):
                        if digest and "digest" not in v:
                            raise Refuse("no-digest-field")
                        v["digest" if digest else "tag"] = target
                elif isinstance(v, str):
                    ref = parse_reference(v)
                    if ref and matches(ref.repository):
                        sep = "@" if digest else ":"
                        node[k] = f"{ref.repository}{sep}{target}"
            walk(v)

    walk(docs[0])
    return docs


@SETTINGS
@given(values_files(), targets)
def test_values_property(data: bytes, target: str) -> None:
    check(data, target, "values.yaml", values_oracle)


# --- workload manifests ---------------------------------------------------------------------

KINDS = {
    "Deployment": ["spec", "template", "spec"],
    "StatefulSet": ["spec", "template", "spec"],
    "DaemonSet": ["spec", "template", "spec"],
    "Job": ["spec", "template", "spec"],
    "Rollout": ["spec", "template", "spec"],
    "CronJob": ["spec", "jobTemplate", "spec", "template", "spec"],
    "Pod": ["spec"],
}


@st.composite
def image_strings(draw: st.DrawFn) -> str:
    repo = draw(st.sampled_from(SPELLINGS + DECOYS + ["host:5000/sre/app"]))
    form = draw(st.sampled_from(["tag", "digest", "both", "bare"]))
    tag, dig = draw(old_tags), "sha256:" + "02" * 32
    return {
        "tag": f"{repo}:{tag}",
        "digest": f"{repo}@{dig}",
        "both": f"{repo}:{tag}@{dig}",
        "bare": repo,
    }[form]


@st.composite
def manifests(draw: st.DrawFn) -> bytes:
    layout = draw(layouts())
    ind = " " * layout.indent
    dash_pad = ind if layout.dash_indented else ""
    lines: list[tuple[str, bool]] = []
    for n in range(draw(st.integers(1, 3))):
        if n or draw(st.booleans()):
            lines.append(("---", True))
        if draw(st.integers(0, 3)) == 0:
            lines += [
                ("apiVersion: v1", True),
                ("kind: ConfigMap", True),
                ("data:", True),
                (f"{ind}image: {quoted(draw, draw(image_strings()))}", True),
                (f"{ind}config: |", True),
                (f"{ind * 2}image: {IMG}:0.1", False),
            ]
            continue
        kind = draw(st.sampled_from(sorted(KINDS)))
        lines += [
            ("apiVersion: apps/v1", True),
            (f"kind: {kind}", True),
            ("metadata:", True),
            (f"{ind}annotations:", True),
            (f"{ind * 2}last: {quoted(draw, IMG + ':0')}", True),
        ]
        path = KINDS[kind]
        for d, key in enumerate(path):
            lines.append((f"{ind * d}{key}:", True))
        pad = ind * len(path)
        for list_key in draw(
            st.lists(
                st.sampled_from(["containers", "initContainers"]),
                min_size=1,
                max_size=2,
                unique=True,
            )
        ):
            lines.append((f"{pad}{list_key}:", True))
            for c in range(draw(st.integers(1, 3))):
                image = quoted(draw, draw(image_strings()))
                if draw(st.integers(0, 4)) == 0:
                    lines.append((f"{pad}{dash_pad}- {{name: c{c}, image: {image}}}", True))
                    continue
                lines.append((f"{pad}{dash_pad}- name: c{c}", True))
                lines.append((f"{pad}{dash_pad}  image: {image}", True))
                if draw(st.booleans()):
                    lines.append((f"{pad}{dash_pad}  env:", True))
                    lines.append((f"{pad}{dash_pad}  - name: CFG", True))
                    lines.append((f"{pad}{dash_pad}    value: |", True))
                    lines.append((f"{pad}{dash_pad}      image: {IMG}:0.2", False))
    return render(lines, layout)


def manifest_oracle(docs: list[Any], target: str) -> list[Any]:
    sep = "@" if target.startswith("sha256:") else ":"
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("kind") not in KINDS:
            continue
        spec = doc
        for key in KINDS[doc["kind"]]:
            spec = spec[key]
        for list_key in ("initContainers", "containers"):
            for container in spec.get(list_key) or []:
                ref = parse_reference(container["image"])
                if ref and matches(ref.repository):
                    container["image"] = f"{ref.repository}{sep}{target}"
    return docs


@SETTINGS
@given(manifests(), targets)
def test_manifest_property(data: bytes, target: str) -> None:
    check(data, target, "manifests.yaml", manifest_oracle)


# --- mutation fuzzing: never a traceback ----------------------------------------------------


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.one_of(kustomizations(), values_files(), manifests()),
    st.lists(
        st.tuples(
            st.integers(0, 10_000),
            st.sampled_from(
                [
                    "",
                    ":",
                    "-",
                    " ",
                    "\t",
                    "'",
                    '"',
                    "{",
                    "}",
                    "[",
                    "]",
                    "&a ",
                    "*a",
                    "!!str ",
                    "|",
                    "\n",
                    "\r",
                    "#",
                    "{{ x }}",
                    "<<: *a\n",
                    "\xff",
                    "é",
                    "\x00",
                ]
            ),
        )
    ),
    targets,
)
def test_mutated_files_never_raise_anything_but_refusals(
    data: bytes, mutations: list[tuple[int, str]], target: str
) -> None:
    for pos, text in mutations:
        pos %= len(data) + 1
        data = data[:pos] + text.encode("utf-8", "surrogateescape") + data[pos + 1 :]
    for name in ("kustomization.yaml", "values.yaml", "m.yaml"):
        try:
            res = set_image_tag(data, image=IMG, tag=target, filename=name)
        except EditRefused as exc:
            event(f"refused: {exc.reason}")
            continue
        except ProdfixError as exc:  # pragma: no cover - inputs are valid
            raise AssertionError(exc.message) from exc
        event("edited" if res.edits else "nothing to change")
        rebuilt, pos = b"", 0
        for s in res.splices:
            rebuilt += data[pos : s.start] + s.text
            pos = s.end
        assert rebuilt + data[pos:] == res.new
