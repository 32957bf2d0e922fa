"""Parse a file once and find every image reference the deploy step understands.

ruamel.yaml only *composes* (node tree with character offsets); nothing is ever dumped, so
nothing is ever reformatted. Four places hold an image:

- kustomization `images[]` entries: `newTag` / `digest`, matched on `newName` else `name`;
- workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job,
  CronJob, Pod, PodTemplate, Argo Rollout, OpenShift DeploymentConfig, and `kind: List`
  of them): the `image` of `containers`, `initContainers` and `ephemeralContainers`;
- Helm values (any document that is not a Kubernetes object): a key matching /image$/i
  whose value is a mapping with `repository` (+ optional `registry`), `tag` or `version`,
  `digest` — or a one-string `repo:tag`, like Renovate's helm-values manager;
- nothing else: ConfigMap/Secret data, annotations, block scalars inside other values and
  comments are never looked at.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from prodfix.adapters.gitops.images import Reference, parse_reference
from prodfix.adapters.gitops.scalars import STR_TAG

PathItem = str | int
Path_ = tuple[PathItem, ...]

KUSTOMIZATION_NAMES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})
_POD_SPEC: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    **{
        kind: ("spec", "template", "spec")
        for kind in (
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "ReplicaSet",
            "ReplicationController",
            "DeploymentConfig",  # OpenShift apps.openshift.io/v1
            "Job",
            "Rollout",  # argoproj.io/v1alpha1
        )
    },
}
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
_HELM_IMAGE_KEY = re.compile(r"image$", re.IGNORECASE)
_NULL_TAG = "tag:yaml.org,2002:null"


class ParseFailure(Exception):
    """The file is not YAML we can locate values in (turned into EditRefused by the caller)."""

    def __init__(self, reason: str, line: int, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.line, self.detail = reason, line, detail


@dataclass(frozen=True, eq=False)  # hashed by identity: a cache key for find_sites
class Parsed:
    text: str  # decoded, BOM removed: ruamel's mark indices are offsets into this string
    bom: bytes
    docs: tuple[Node, ...]
    template_line: int  # first line with a structural `{{` (see _template_line), 0 if none

    @cached_property
    def shared_ids(self) -> frozenset[int]:
        """ids of nodes reachable more than once: an anchor used by an alias or a `<<`."""
        if "&" not in self.text:  # no anchor, nothing can be shared
            return frozenset()
        return frozenset().union(*(shared_nodes(root) for root in self.docs))


@dataclass(frozen=True)
class Site:
    """One image reference: where it is, and what it currently points at."""

    kind: str  # "container" | "kustomize" | "helm" | "helm-inline"
    path: Path_  # (document index, key or index, …) of `node`
    node: Node  # the image scalar (container, helm-inline) or the entry mapping
    line: int  # 1-based
    reference: Reference  # effective repository as written, current tag and digest
    shared: bool  # node or an ancestor is used more than once (anchor + alias / merge)


def decode(data: bytes) -> tuple[str, bytes]:
    """(text, bom): UTF-8 only, no newline translation (CRLF must survive the splice)."""
    bom = codecs.BOM_UTF8 if data.startswith(codecs.BOM_UTF8) else b""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ParseFailure("not-utf8", 0, "the file is UTF-16, not UTF-8")
    try:
        return data[len(bom) :].decode("utf-8"), bom
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ParseFailure("not-utf8", line, "the file is not valid UTF-8") from exc


def compose(text: str) -> tuple[Node, ...]:
    """All documents' node trees; raises ruamel's YAMLError."""
    return tuple(YAML(typ="safe", pure=True).compose_all(text))


def _template_line(text: str, docs: tuple[Node, ...] | None) -> int:
    """First line where `{{` is template syntax rather than text inside a string.

    `{{` inside a quoted or block scalar (an Alertmanager template in a ConfigMap, a
    notification annotation) is just text. Anywhere else — a `{{- if }}` line, a plain
    `name: {{ .Chart.Name }}` — the file is a Go/Helm template: its structure is not the
    structure that gets deployed, so it is refused (docs is None when it did not parse).
    """
    if "{{" not in text:
        return 0
    inside: list[tuple[int, int]] = []
    stack = list(docs or ())
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ScalarNode):
            if node.style in ('"', "'", "|", ">"):
                inside.append((node.start_mark.index, node.end_mark.index))
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, MappingNode):
            for k, v in node.value:
                stack.extend((k, v))
    pos = text.find("{{")
    while pos >= 0:
        line_start = text.rfind("\n", 0, pos) + 1
        if not text[line_start:pos].lstrip().startswith("#") and not any(
            a <= pos < b for a, b in inside
        ):
            return text.count("\n", 0, pos) + 1
        pos = text.find("{{", pos + 2)
    return 0


@lru_cache(maxsize=32)
def parse(data: bytes) -> Parsed | ParseFailure:
    """Decode and compose, cached: `find_image_refs` then `set_image_tag` parse once."""
    try:
        text, bom = decode(data)
    except ParseFailure as failure:
        return failure
    try:
        docs = compose(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 0
        template_line = _template_line(text, None)
        if template_line:
            detail = "Go/Helm template syntax ({{ }}), not YAML"
            return ParseFailure("templated", template_line, detail)
        problem = exc.problem if isinstance(exc, MarkedYAMLError) else None
        return ParseFailure("unparseable", line, f"YAML syntax error: {problem or exc}")
    except RecursionError:
        return ParseFailure("unparseable", 0, "YAML nesting too deep")
    return Parsed(text, bom, docs, _template_line(text, docs))


def is_str(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == STR_TAG


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL_TAG


def item(mapping: MappingNode, key: str) -> tuple[int, Node, Node] | None:
    """(index, key node, value node) of a plain-string key; the last one wins, as in loaders."""
    found = None
    for i, (k, v) in enumerate(mapping.value):
        if isinstance(k, ScalarNode) and k.value == key and k.tag == STR_TAG:
            found = (i, k, v)
    return found


_MERGE_TAG = "tag:yaml.org,2002:merge"


def lookup(mapping: MappingNode, key: str, depth: int = 0) -> tuple[Node | None, bool]:
    """(value, came through a `<<` merge): a merged value belongs to an anchored mapping."""
    hit = item(mapping, key)
    if hit is not None:
        return hit[2], False
    if depth > 8:  # a merge chain that long is a recursive alias
        return None, False
    for k, v in mapping.value:
        if isinstance(k, ScalarNode) and k.tag == _MERGE_TAG:
            for source in v.value if isinstance(v, SequenceNode) else [v]:
                if isinstance(source, MappingNode):
                    found, _ = lookup(source, key, depth + 1)
                    if found is not None:
                        return found, True
    return None, False


class _Keys:
    """Keys of one mapping read through merges, remembering if any came from an anchor."""

    def __init__(self, mapping: MappingNode) -> None:
        self.mapping = mapping
        self.merged = False

    def node(self, key: str) -> Node | None:
        found, merged = lookup(self.mapping, key)
        self.merged |= merged
        return found

    def text(self, key: str) -> str | None:
        found = self.node(key)
        return found.value if found is not None and is_str(found) and found.value else None

    def scalar(self, key: str) -> str | None:
        found = self.node(key)
        ok = isinstance(found, ScalarNode) and not is_null(found) and found.value
        return found.value if ok and found is not None else None


def _str_value(mapping: MappingNode, key: str) -> str | None:
    return _Keys(mapping).text(key)


def shared_nodes(root: Node) -> set[int]:
    """ids of nodes reachable more than once: an anchor used by an alias or a `<<` merge."""
    seen: set[int] = set()
    shared: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            shared.add(id(node))
            continue
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, MappingNode):
            for k, v in node.value:
                stack.extend((k, v))
    return shared


class _Finder:
    def __init__(self, parsed: Parsed, *, kustomization_name: bool) -> None:
        self.kustomization_name = kustomization_name
        self.sites: list[Site] = []
        self.shared = parsed.shared_ids

    def document(self, index: int, root: Node) -> None:
        if not isinstance(root, MappingNode):
            return
        path: Path_ = (index,)
        shared = id(root) in self.shared
        api, kind = _str_value(root, "apiVersion"), _str_value(root, "kind")
        if self.kustomization_name or (
            kind in ("Kustomization", "Component")
            and (api or "").startswith("kustomize.config.k8s.io/")
        ):
            self.kustomization(root, path, shared)
        elif api and kind:
            self.k8s_object(root, path, shared)
        else:
            self.helm(root, path, shared, set())

    def _child(
        self, node: Node, key: PathItem, path: Path_, shared: bool
    ) -> tuple[Node, Path_, bool] | None:
        if isinstance(key, str):
            if not isinstance(node, MappingNode):
                return None
            child, merged = lookup(node, key)
            if child is None:
                return None
            shared = shared or merged
        else:
            child = node.value[key]
        return child, (*path, key), shared or id(child) in self.shared

    def k8s_object(self, root: MappingNode, path: Path_, shared: bool) -> None:
        kind = _str_value(root, "kind")
        if kind == "List":
            items = self._child(root, "items", path, shared)
            if items and isinstance(items[0], SequenceNode):
                for i, obj in enumerate(items[0].value):
                    if isinstance(obj, MappingNode):
                        self.k8s_object(obj, (*items[1], i), items[2] or id(obj) in self.shared)
            return
        spec_path = _POD_SPEC.get(kind or "")
        if spec_path is None:
            return
        here: tuple[Node, Path_, bool] | None = (root, path, shared)
        for key in spec_path:
            here = self._child(here[0], key, here[1], here[2]) if here else None
        if here is None or not isinstance(here[0], MappingNode):
            return
        for list_key in _CONTAINER_LISTS:
            containers = self._child(here[0], list_key, here[1], here[2])
            if containers is None or not isinstance(containers[0], SequenceNode):
                continue
            for i in range(len(containers[0].value)):
                container = self._child(containers[0], i, containers[1], containers[2])
                image = container and self._child(container[0], "image", *container[1:])
                if image:
                    self.inline(image[0], image[1], image[2], "container")

    def inline(self, node: Node, path: Path_, shared: bool, kind: str) -> None:
        if not is_str(node):
            return
        ref = parse_reference(node.value)
        if ref is not None:
            self.sites.append(Site(kind, path, node, node.start_mark.line + 1, ref, shared))

    def kustomization(self, root: MappingNode, path: Path_, shared: bool) -> None:
        images = self._child(root, "images", path, shared)
        if images is None or not isinstance(images[0], SequenceNode):
            return
        for i, entry in enumerate(images[0].value):
            if not isinstance(entry, MappingNode):
                continue
            keys = _Keys(entry)
            repository = keys.text("newName") or keys.text("name")
            if not repository:
                continue
            tag, digest = keys.scalar("newTag"), keys.text("digest")
            if tag and "@" in tag:  # `newTag: 1.2@sha256:…` (Renovate's suggested form)
                tag, digest = tag.split("@", 1)
            where = keys.node("newTag") or keys.node("digest") or entry
            line = where.start_mark.line + 1
            ref = Reference(repository, tag or None, digest or None)
            entry_shared = images[2] or id(entry) in self.shared or keys.merged
            self.sites.append(Site("kustomize", (*images[1], i), entry, line, ref, entry_shared))

    def helm(self, node: Node, path: Path_, shared: bool, done: set[int]) -> None:
        if id(node) in done:  # an alias of a subtree already walked (a site once per node)
            return
        done.add(id(node))
        if isinstance(node, SequenceNode):
            for i, child in enumerate(node.value):
                self.helm(child, (*path, i), shared or id(child) in self.shared, done)
        elif isinstance(node, MappingNode):
            for k, v in node.value:
                if not is_str(k):
                    continue
                child_path, child_shared = (*path, k.value), shared or id(v) in self.shared
                if _HELM_IMAGE_KEY.search(k.value):
                    if isinstance(v, MappingNode):
                        self.helm_mapping(v, child_path, child_shared)
                    else:
                        self.inline(v, child_path, child_shared, "helm-inline")
                self.helm(v, child_path, child_shared, done)

    def helm_mapping(self, mapping: MappingNode, path: Path_, shared: bool) -> None:
        keys = _Keys(mapping)
        repository = keys.text("repository")
        if not repository:
            return
        registry = keys.text("registry")
        if registry:
            repository = f"{registry.rstrip('/')}/{repository}"
        tag_key = "tag" if keys.node("tag") is not None else "version"
        tag, digest = keys.scalar(tag_key), keys.text("digest")
        line = (keys.node(tag_key) or mapping).start_mark.line + 1
        ref = Reference(repository, tag or None, digest or None)
        self.sites.append(Site("helm", path, mapping, line, ref, shared or keys.merged))


@lru_cache(maxsize=32)
def find_sites(parsed: Parsed, *, kustomization_name: bool) -> tuple[Site, ...]:
    finder = _Finder(parsed, kustomization_name=kustomization_name)
    for index, root in enumerate(parsed.docs):
        finder.document(index, root)
    return tuple(finder.sites)
