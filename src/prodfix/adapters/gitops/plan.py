"""The deploy plan: which files in which DC folders change, how, and what is wrong.

`plan_deploy` only reads the tree (a checkout of the GitOps repository); `DeployPlan.apply`
is the separate step that writes (decide, then do). Per DC the status is

- `change`    at least one reference to the image gets a new tag;
- `already`   every reference is at the tag already: nothing to do there;
- `missing`   no file references the image (an error unless allow_missing);
- `no-folder` the DC folder does not exist (an error);
- `refused`   a file referencing the image cannot be edited safely (an error, file:line).

Warnings: DCs starting from different tags (drift), one DC holding several tags, and an
`.argocd-source-*.yaml` in a DC folder — Argo CD applies it on top of git, so it can pin
the image whatever the folder says (Argo CD Image Updater's git write-back writes such files:
argoproj-labs/argocd-image-updater, docs/basics/update-methods.md).
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from prodfix.adapters.files import write_atomic
from prodfix.adapters.gitops.images import last_component, validate_image, validate_version
from prodfix.adapters.gitops.locate import KUSTOMIZATION_NAMES
from prodfix.adapters.gitops.tageditor import Edit, EditRefused, set_image_tag
from prodfix.errors import ProdfixError

FORMAT_VERSION = 1
_DC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_ARGOCD_SOURCE = re.compile(r"\.argocd-source-.*\.ya?ml")


_FINDING = {
    "type": "object",
    "required": ["dc", "file", "line", "reason", "message"],
    "additionalProperties": False,
    "properties": {
        "dc": {"type": ["string", "null"]},
        "file": {"type": ["string", "null"], "description": "relative to the repository root"},
        "line": {"type": "integer", "minimum": 0, "description": "1-based; 0 = whole file"},
        "reason": {
            "type": "string",
            "description": "a code: missing, no-folder, drift, "
            "mixed-tags, argocd-source, symlink, or an EditRefused reason",
        },
        "message": {"type": "string"},
    },
}
_EDIT = {
    "type": "object",
    "required": ["file", "line", "old", "new", "kind"],
    "additionalProperties": False,
    "properties": {
        "file": {"type": "string"},
        "line": {"type": "integer", "minimum": 1},
        "old": {"type": "string", "description": '"" when the key was added'},
        "new": {"type": "string"},
        "kind": {
            "enum": [
                "container",
                "helm-inline",
                "helm-tag",
                "helm-digest",
                "kustomize-newTag",
                "kustomize-digest",
            ]
        },
    },
}
# The JSON document of `deploy --dry-run --json` (DeployPlan.to_json), version 1.
PLAN_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["version", "image", "tag", "ok", "nothing_to_do", "dcs", "warnings", "errors"],
    "additionalProperties": False,
    "properties": {
        "version": {"const": FORMAT_VERSION},
        "image": {"type": "string"},
        "tag": {"type": "string", "description": "a tag or a sha256: digest"},
        "ok": {"type": "boolean", "description": "no errors: the plan may be applied"},
        "nothing_to_do": {"type": "boolean", "description": "ok, and no file changes"},
        "dcs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["dc", "folder", "status", "current", "files", "edits"],
                "additionalProperties": False,
                "properties": {
                    "dc": {"type": "string"},
                    "folder": {"type": "string"},
                    "status": {"enum": ["change", "already", "missing", "no-folder", "refused"]},
                    "current": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": 'tags/digests referenced now ("" = none)',
                    },
                    "files": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "files that reference the image",
                    },
                    "edits": {"type": "array", "items": _EDIT},
                },
            },
        },
        "warnings": {"type": "array", "items": _FINDING},
        "errors": {"type": "array", "items": _FINDING},
    },
}


@dataclass(frozen=True)
class Finding:
    """A warning or an error, located as precisely as known."""

    reason: str
    message: str
    dc: str | None = None
    file: str | None = None  # relative to the root, POSIX
    line: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "dc": self.dc,
            "file": self.file,
            "line": self.line,
            "reason": self.reason,
            "message": self.message,
        }


@dataclass(frozen=True)
class FileChange:
    file: str  # relative to the root, POSIX
    old: bytes
    new: bytes
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class DcPlan:
    dc: str
    folder: str
    status: str  # change | already | missing | no-folder | refused
    current: tuple[str, ...]  # distinct tags/digests the DC references now ("" = none)
    files: tuple[str, ...]  # files that reference the image
    edits: tuple[Edit, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "dc": self.dc,
            "folder": self.folder,
            "status": self.status,
            "current": list(self.current),
            "files": list(self.files),
            "edits": [e.to_json() for e in self.edits],
        }


@dataclass(frozen=True)
class DeployPlan:
    image: str
    tag: str
    dcs: tuple[DcPlan, ...]
    changes: tuple[FileChange, ...]
    warnings: tuple[Finding, ...] = ()
    errors: tuple[Finding, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def nothing_to_do(self) -> bool:
        return self.ok and not self.changes

    @property
    def changed_dcs(self) -> list[str]:
        return [d.dc for d in self.dcs if d.status == "change"]

    def to_json(self) -> dict[str, Any]:
        """The `deploy --dry-run --json` document; its shape is PLAN_JSON_SCHEMA."""
        return {
            "version": FORMAT_VERSION,
            "image": self.image,
            "tag": self.tag,
            "ok": self.ok,
            "nothing_to_do": self.nothing_to_do,
            "dcs": [d.to_json() for d in self.dcs],
            "warnings": [w.to_json() for w in self.warnings],
            "errors": [e.to_json() for e in self.errors],
        }

    def unified_diff(self) -> str:
        """A git-style diff of every changed file, paths relative to the root."""
        return "".join(_file_diff(c) for c in self.changes)

    def apply(self, root: Path) -> list[Path]:
        """Write the changed files (each atomically, mode kept); returns their paths."""
        if self.errors:
            raise ProdfixError(
                f"the deploy plan has {len(self.errors)} error(s); nothing was written",
                hint="fix the errors listed by --dry-run first",
            )
        targets = [(root / c.file, c) for c in self.changes]
        for path, change in targets:  # check all before writing any
            if path.read_bytes() != change.old:
                raise ProdfixError(
                    f"{change.file} changed since the plan was made; nothing was written",
                    hint="run the deploy again",
                )
        for path, change in targets:
            write_atomic(path, change.new)
        return [p for p, _ in targets]


def plan_deploy(
    root: Path, *, path_template: str, dcs: list[str], image: str, tag: str, allow_missing: bool
) -> DeployPlan:
    """Plan setting `image` to `tag` in every YAML file of every DC folder under `root`."""
    validate_image(image)
    validate_version(tag)
    folders = _dc_folders(path_template, dcs)
    plans: list[DcPlan] = []
    changes: list[FileChange] = []
    warnings: list[Finding] = []
    errors: list[Finding] = []
    for dc, folder in folders:
        plan = _plan_dc(root, dc, folder, image, tag, changes, warnings, errors)
        if plan.status == "missing":
            text = f"{dc}: no file under {folder}/ references {image}"
            if allow_missing:
                warnings.append(Finding("missing", text + " (skipped: --allow-missing)", dc))
            else:
                errors.append(Finding("missing", text + " (--allow-missing skips it)", dc))
        elif plan.status == "no-folder":
            errors.append(Finding("no-folder", f"{dc}: folder {folder}/ does not exist", dc))
        plans.append(plan)
    warnings.extend(_drift(plans))
    return DeployPlan(image, tag, tuple(plans), tuple(changes), tuple(warnings), tuple(errors))


def _dc_folders(path_template: str, dcs: list[str]) -> list[tuple[str, str]]:
    if "{dc}" not in path_template:
        raise ProdfixError(
            f"deploy path {path_template!r} has no {{dc}}",
            hint='set [deploy] path, e.g. "apps/sre-triggers/{dc}"',
        )
    if not dcs:
        raise ProdfixError("no DC to deploy to", hint="set [deploy] dcs or pass --dc")
    out = []
    for dc in dcs:
        if not _DC_NAME.fullmatch(dc):
            raise ProdfixError(
                f"DC name {dc!r} is not valid",
                hint="DC names are letters, digits, '.', '_' and '-'",
            )
        try:
            folder = PurePosixPath(path_template.format(dc=dc))
        except (KeyError, IndexError, ValueError) as exc:
            raise ProdfixError(
                f"deploy path {path_template!r} is not a valid template ({exc})",
                hint='use {dc} as the only placeholder, e.g. "apps/sre-triggers/{dc}"',
            ) from exc
        if folder.is_absolute() or ".." in folder.parts:
            raise ProdfixError(
                f"deploy path {folder} is outside the repository",
                hint="[deploy] path must be relative, without '..'",
            )
        out.append((dc, str(folder)))
    if len({dc for dc, _ in out}) != len(out):
        raise ProdfixError("a DC is listed twice", hint="list each DC once")
    return out


def _plan_dc(
    root: Path,
    dc: str,
    folder: str,
    image: str,
    tag: str,
    changes: list[FileChange],
    warnings: list[Finding],
    errors: list[Finding],
) -> DcPlan:
    base = root / folder
    if not base.is_dir():
        return DcPlan(dc, folder, "no-folder", (), (), ())
    current: set[str] = set()
    files: list[str] = []
    edits: list[Edit] = []
    refused = False
    for path in _yaml_files(base, dc, root, warnings):
        rel = path.relative_to(root).as_posix()
        data = path.read_bytes()
        if _ARGOCD_SOURCE.fullmatch(path.name):
            names = " and names the image" if last_component(image).encode() in data else ""
            warnings.append(
                Finding(
                    "argocd-source",
                    f"{dc}: {rel} exists{names}: Argo CD "
                    "applies it on top of git, so it can override the tag "
                    "set here; it is not edited",
                    dc,
                    rel,
                )
            )
            continue
        try:
            result = set_image_tag(data, image=image, tag=tag, filename=rel)
        except EditRefused as exc:
            errors.append(Finding(exc.reason, exc.message, dc, rel, exc.line))
            refused = True
            continue
        if result.refs:
            files.append(rel)
            current.update(r.current for r in result.refs)
        if result.changed:
            edits.extend(result.edits)
            changes.append(FileChange(rel, data, result.new, result.edits))
    if len(current) > 1:
        shown = ", ".join(sorted(c or "(none)" for c in current))
        warnings.append(
            Finding("mixed-tags", f"{dc}: files disagree on the current tag: {shown}", dc)
        )
    if refused:
        status = "refused"
    elif not files:
        status = "missing"
    else:
        status = "change" if edits else "already"
    return DcPlan(dc, folder, status, tuple(sorted(current)), tuple(files), tuple(edits))


def _yaml_files(base: Path, dc: str, root: Path, warnings: list[Finding]) -> list[Path]:
    """`*.yaml`, `*.yml` and `Kustomization` under `base`, recursive, sorted by path."""
    found = []
    for dirpath, dirnames, filenames in os.walk(base):  # does not follow directory symlinks
        dirnames.sort()
        for name in filenames:
            if not (name.endswith((".yaml", ".yml")) or name in KUSTOMIZATION_NAMES):
                continue
            path = Path(dirpath, name)
            if path.is_symlink():
                rel = path.relative_to(root).as_posix()
                warnings.append(
                    Finding("symlink", f"{dc}: {rel} is a symlink; not followed", dc, rel)
                )
                continue
            found.append(path)
    return sorted(found, key=lambda p: p.relative_to(base).as_posix())


def _drift(plans: list[DcPlan]) -> list[Finding]:
    starts = {p.dc: p.current for p in plans if p.current}
    if len(set(starts.values())) < 2:
        return []
    shown = "; ".join(
        f"{dc}: {', '.join(c or '(none)' for c in cur)}" for dc, cur in starts.items()
    )
    return [Finding("drift", f"DCs start from different tags ({shown})")]


def _file_diff(change: FileChange) -> str:
    a = change.old.decode("utf-8").splitlines(keepends=True)
    b = change.new.decode("utf-8").splitlines(keepends=True)
    out = [f"diff --git a/{change.file} b/{change.file}\n"]
    for line in difflib.unified_diff(a, b, f"a/{change.file}", f"b/{change.file}"):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


__all__ = ["DcPlan", "DeployPlan", "FileChange", "Finding", "plan_deploy", "write_atomic"]
