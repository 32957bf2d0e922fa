"""DC drift in a GitOps repository: one image running different tags in different DCs.

A repository is GitOps when YAML files in DC folders reference images. The folders are those
of `[deploy] path` (default `apps/sre-triggers/{dc}`), with the folder just above `{dc}` taken
as the application's name — `apps/<app>/<dc>/` — so every application of the repository is
compared, not only the one a service configures. The files are read from the published
mainline (`<remote>/<mainline>`, after the audit's fetch), not from the work tree: what Argo CD
deploys is the remote's branch, and a checkout may sit on a half-done change.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from prodfix.adapters.git import Repo
from prodfix.errors import Exit, ProdfixError

YAML_SUFFIXES = (".yaml", ".yml")
KUSTOMIZATION = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SYMLINK = "120000"  # not followed, as `deploy` does not follow them (gitops/plan.py)


@dataclass(frozen=True)
class Drift:
    image: str  # as the first file (in path order) spells it
    app: str
    tags: tuple[tuple[str, str], ...]  # (dc, tag) sorted by dc; several tags in one DC: "a, b"

    def to_json(self) -> dict[str, Any]:
        return {"image": self.image, "app": self.app, "tags": dict(self.tags)}


def scan(
    repo: Repo, rev: str, path_template: str = "apps/sre-triggers/{dc}"
) -> tuple[list[Drift], list[str]]:
    """Drift per (image, app) at `rev` (HEAD when `rev` does not exist), and notes on files
    that could not be read (a refused or templated YAML file is skipped, never fatal)."""
    files = _app_files(repo, rev, _Layout.of(path_template))
    if not files:
        return [], []
    # ruamel is imported only for a GitOps repository: most audited repositories are not.
    from prodfix.adapters.gitops.images import normalise
    from prodfix.adapters.gitops.tageditor import find_image_refs

    notes: list[str] = []
    spelled: dict[str, str] = {}
    seen: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for (app, dc, path), data in zip(files, _read_blobs(repo, list(files.values())), strict=True):
        try:
            refs = find_image_refs(data, path)
        except ProdfixError as exc:
            notes.append(f"{path} skipped: {exc.message}")
            continue
        for ref in refs:
            key = normalise(ref.repository)
            spelled.setdefault(key, ref.repository)
            seen[(key, app)][dc].add(ref.current)
    drift: list[Drift] = []
    for (key, app), by_dc in sorted(seen.items()):
        tags = tuple((dc, ", ".join(sorted(t))) for dc, t in sorted(by_dc.items()))
        if len({t for _, t in tags}) > 1:
            drift.append(Drift(spelled[key], app, tags))
    return drift, notes


@dataclass(frozen=True)
class _Layout:
    """Where DC folders are: the literal folders before the application's, then `<app>/<dc>`."""

    root: tuple[str, ...]

    @classmethod
    def of(cls, template: str) -> _Layout:
        parts = PurePosixPath(template).parts
        dc = parts.index("{dc}") if "{dc}" in parts else len(parts)
        return cls(tuple(parts[: max(0, dc - 1)]))

    def match(self, parts: tuple[str, ...]) -> tuple[str, str] | None:
        """(app, dc) of a file's path parts, or None when it is not in a DC folder."""
        n = len(self.root)
        if len(parts) < n + 3 or parts[:n] != self.root:
            return None
        return parts[n], parts[n + 1]


def _app_files(repo: Repo, rev: str, layout: _Layout) -> dict[tuple[str, str, str], str]:
    """(app, dc, path) → blob of every YAML file in a DC folder, in path order."""
    where = "/".join(layout.root) + "/" if layout.root else "."
    r = repo.git("ls-tree", "-r", "-z", "--full-tree", rev, "--", where, check=False)
    if r.returncode != 0:
        r = repo.git("ls-tree", "-r", "-z", "--full-tree", "HEAD", "--", where, check=False)
    if r.returncode != 0:
        return {}  # an empty repository: no commit to read
    files: dict[tuple[str, str, str], str] = {}
    for rec in r.records:
        meta, _, path = rec.partition("\t")
        mode, kind, sha = meta.split(" ")
        parts = PurePosixPath(path).parts
        found = layout.match(parts)
        if kind != "blob" or mode == SYMLINK or found is None or not _is_yaml(parts[-1]):
            continue
        files[(found[0], found[1], path)] = sha
    return files


def _is_yaml(name: str) -> bool:
    return name.endswith(YAML_SUFFIXES) or name in KUSTOMIZATION


def _read_blobs(repo: Repo, shas: list[str]) -> list[bytes]:
    """Blob contents in one `cat-file --batch`."""
    blobs: list[bytes] = []
    for sha, blob in zip(shas, repo.read_blobs(shas), strict=True):
        if blob is None:
            raise ProdfixError(
                f"blob {sha} is missing from {repo.path}",
                hint="run `git fsck` in that repository, then audit it again",
                code=Exit.FAILED,
            )
        blobs.append(blob)
    return blobs
