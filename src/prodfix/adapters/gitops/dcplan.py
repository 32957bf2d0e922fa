"""The deploy plan per data center, over a checkout of the GitOps repository (no git here).

Every `*.yaml`/`*.yml` under each DC folder is edited with the tag editor; a DC with no
reference to the image is an error (unless allowed), one already at the tag is skipped, DCs that
start from different tags get a warning, and an `.argocd-source-*.yaml` override is named
(Argo CD applies it on top of git — NOTES/gitops.md).
"""

from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from prodfix.adapters.gitops.refusals import EditRefused
from prodfix.adapters.gitops.tageditor import Edit, set_image_tag


@dataclass
class DcPlan:
    dc: str
    status: str = "change"  # change | already | missing | no-folder | refused
    files: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)  # rel path → (old, new)
    edits: list[Edit] = field(default_factory=list)
    current: set[str] = field(default_factory=set)


@dataclass
class DeployPlan:
    image: str
    tag: str
    dcs: list[DcPlan]
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def changes(self) -> bool:
        return any(d.status == "change" for d in self.dcs)

    @property
    def changed_dcs(self) -> list[str]:
        return [d.dc for d in self.dcs if d.status == "change"]

    def summary_lines(self) -> list[str]:
        out = []
        for d in self.dcs:
            now = ", ".join(sorted(d.current)) or "-"
            out.append(f"{d.dc}: {d.status} (now {now})")
            out += [f"  {e.file}:{e.line} {e.old} → {e.new}" for e in d.edits]
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "image": self.image,
            "tag": self.tag,
            "dcs": [
                {
                    "dc": d.dc,
                    "status": d.status,
                    "current": sorted(d.current),
                    "files": sorted(d.files),
                    "edits": [e.to_json() for e in d.edits],
                }
                for d in self.dcs
            ],
            "warnings": self.warnings,
            "errors": self.errors,
        }

    def unified_diff(self) -> str:
        chunks: list[str] = []
        for d in self.dcs:
            for rel, (old, new) in sorted(d.files.items()):
                chunks += difflib.unified_diff(
                    old.decode("utf-8", "replace").splitlines(keepends=True),
                    new.decode("utf-8", "replace").splitlines(keepends=True),
                    f"a/{rel}",
                    f"b/{rel}",
                )
        return "".join(chunks)

    def apply(self, root: Path) -> None:
        """Write each changed file atomically (temp file in its folder, then rename)."""
        for d in self.dcs:
            for rel, (_, new) in d.files.items():
                path = root / rel
                fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".prodfix-")
                with os.fdopen(fd, "wb") as f:
                    f.write(new)
                os.chmod(tmp, path.stat().st_mode & 0o7777)
                os.replace(tmp, path)


def plan_deploy(
    root: Path, *, path_template: str, dcs: list[str], image: str, tag: str, allow_missing: bool
) -> DeployPlan:
    plan = DeployPlan(image, tag, [])
    for dc in dcs:
        folder = root / path_template.format(dc=dc)
        dp = DcPlan(dc)
        plan.dcs.append(dp)
        if not folder.is_dir():
            dp.status = "no-folder"
            plan.errors.append(f"{dc}: no folder {path_template.format(dc=dc)}")
            continue
        seen = False
        for path in sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml")):
            rel = path.relative_to(root).as_posix()
            if path.name.startswith(".argocd-source-"):
                plan.warnings.append(
                    f"{dc}: {rel} overrides parameters in Argo CD; it may pin "
                    "another tag on top of this change"
                )
            data = path.read_bytes()
            try:
                res = set_image_tag(data, image=image, tag=tag, filename=rel)
            except EditRefused as exc:
                dp.status = "refused"
                plan.errors.append(exc.message)
                continue
            if res.refs:
                seen = True
                dp.current |= {r.current for r in res.refs}
            if res.changed:
                dp.files[rel] = (data, res.new)
                dp.edits += res.edits
        if dp.status == "refused":
            continue
        if not seen:
            dp.status = "missing"
            if not allow_missing:
                plan.errors.append(
                    f"{dc}: no file under {path_template.format(dc=dc)} "
                    f"references {image} (pass --allow-missing to skip it)"
                )
        elif not dp.files:
            dp.status = "already"
    starts = {d.dc: ",".join(sorted(d.current)) for d in plan.dcs if d.current}
    if len(set(starts.values())) > 1:
        plan.warnings.append(
            "DCs start from different tags: " + "; ".join(f"{dc} {t}" for dc, t in starts.items())
        )
    return plan
