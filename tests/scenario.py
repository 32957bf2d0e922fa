"""Scenarios for the reliability matrix: real repositories, deterministic SHAs, and a
snapshot of everything a command may change (remote refs, PR records, local branches, files).

Commits prodfix makes itself (merges, deploy commits, resolution merges) take their dates from
GIT_AUTHOR_DATE / GIT_COMMITTER_DATE, which `fixed_dates` pins, so an interrupted run and an
uninterrupted one produce the same SHAs and can be compared ref by ref.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.cli import Run, prodfix
from tests.gitfix import Sandbox, seeded

FIXED_DATE = "@1790100000 +0000"
PR_FIELDS = ("number", "state", "head", "base", "title")
IMAGE = "registry.example.com/team/svc"
DCS = ("us1", "eu1")


def fixed_dates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_AUTHOR_DATE", FIXED_DATE)
    monkeypatch.setenv("GIT_COMMITTER_DATE", FIXED_DATE)


def service_toml(*, deploy: bool = False, test: str = "true", build: str = "sh ci/build.sh") -> str:
    text = f"""kind = "python"
mainline = "master"
delivery = "delivery*"

[test]
command = "{test}"

[forge]
type = "git"
approvals = 1

[build]
type = "command"
command = "{build}"
"""
    if deploy:
        text += f"""
[deploy]
repo = "../deploy"
path = "apps/{{dc}}"
dcs = {json.dumps(list(DCS))}
image = "{IMAGE}"
target = "master"
"""
    return text


BUILD_SH = '#!/bin/sh\nset -e\necho "${PRODFIX_DELIVERY}-${PRODFIX_BUILD_NUMBER}"\n'


def kustomization(dc: str, tag: str = "1.0.0") -> str:
    return (
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n  - deployment.yaml\nimages:\n  - name: {IMAGE}\n"
        f'    newTag: "{tag}"  # {dc}\n'
    )


@dataclass
class World:
    """The repositories of one scenario: bare remotes and the user's clones."""

    sb: Sandbox
    work: Path
    bares: dict[str, Path] = field(default_factory=dict)
    clones: dict[str, Path] = field(default_factory=dict)

    def run(self, *args: str, cwd: Path | None = None) -> Run:
        return prodfix(cwd or self.work, *args)

    def ok(self, *args: str, cwd: Path | None = None) -> Run:
        r = self.run(*args, cwd=cwd)
        assert r.code == 0, f"prodfix {' '.join(args)} exited {r.code}:\n{r.out}\n{r.err}"
        return r


def service_world(
    sb: Sandbox,
    *,
    deploy: bool = False,
    conflict_on_master: bool = False,
    toml: str | None = None,
    reflogs: bool = False,
) -> World:
    """origin: master with .prodfix.toml, `delivery` cut from it, master one commit ahead."""
    key = ("service_world", deploy, conflict_on_master, toml, reflogs)
    seeded(
        sb,
        key,
        lambda s: _seed_service(
            s, deploy=deploy, conflict_on_master=conflict_on_master, toml=toml, reflogs=reflogs
        ),
    )
    work = sb.root / "work"
    w = World(sb, work, {"service": sb.origin}, {"service": work})
    if deploy:
        w.bares["deploy"] = sb.root / "dep" / "origin.git"
        w.clones["deploy"] = sb.root / "deploy"
    return w


def _seed_service(
    sb: Sandbox, *, deploy: bool, conflict_on_master: bool, toml: str | None, reflogs: bool
) -> None:
    sb.init_origin()
    if reflogs:
        sb.g(sb.origin, "config", "core.logAllRefUpdates", "always")
    seed = sb.clone("seed")
    sb.commit(
        seed,
        "initial",
        {
            "app.py": "def answer():\n    return 41\n",
            ".prodfix.toml": toml if toml is not None else service_toml(deploy=deploy),
            "ci/build.sh": BUILD_SH,
        },
    )
    sb.push(seed, "master")
    sb.g(seed, "branch", "delivery")
    sb.push(seed, "delivery")
    if conflict_on_master:
        sb.commit(seed, "master: answer 43", {"app.py": "def answer():\n    return 43\n"})
    else:
        sb.commit(seed, "master only: feature B", {"feature_b.py": "B = 2\n"})
    sb.push(seed, "master")
    sb.clone("work")
    if deploy:
        dep = Sandbox(sb.root / "dep", sb.clock)
        dep.init_origin()
        dseed = dep.clone("seed")
        files = {f"apps/{dc}/kustomization.yaml": kustomization(dc) for dc in DCS}
        dep.commit(dseed, "deploy: svc in every DC", files)
        dep.push(dseed, "master")
        sb.g(sb.root, "clone", "-q", str(dep.origin), str(sb.root / "deploy"))


def land_on_delivery(w: World, files: dict[str, str], message: str = "hotfix on delivery") -> str:
    """A commit pushed to delivery by someone else (a back-merge has something to bring)."""
    seed = w.sb.root / "seed"
    w.sb.checkout(seed, "delivery")
    sha = w.sb.commit(seed, message, files)
    w.sb.push(seed, "delivery")
    w.sb.checkout(seed, "master")
    return sha


def fix_committed(w: World, name: str = "npe") -> None:
    """`prodfix start`, one commit on the fix branch."""
    w.ok("start", name)
    w.sb.commit(w.work, "fix: answer 42", {"app.py": "def answer():\n    return 42\n"})


def fix_proposed_and_approved(w: World) -> None:
    fix_committed(w)
    w.ok("test")
    w.ok("propose")
    w.ok("pr", "approve", "1")


# -- snapshots -------------------------------------------------------------------------------


RECORD_KINDS = ("fixes", "builds", "tests", "syncs")
TIMELY = ("_at", "started", "by", "tail")  # record fields that carry clocks and identities


def remote_refs(sb: Sandbox, bare: Path) -> dict[str, Any]:
    """Every ref of a bare remote; a PR's metadata ref, and prodfix's records, as the fields
    that matter (their SHAs carry timestamps)."""
    refs: dict[str, Any] = {}
    docs: dict[str, str] = {}  # ref → "<sha>:<file>" of its JSON document
    for name, sha in sb.refs(bare).items():
        if name.startswith("refs/prodfix/pulls/") and name.endswith("/meta"):
            docs[name] = f"{sha}:pr.json"
        elif name.split("/")[2:3] and name.split("/")[2] in RECORD_KINDS:
            docs[name] = f"{sha}:record.json"
        else:
            refs[name] = sha
    for name, doc in zip(docs, _json_documents(bare, list(docs.values())), strict=True):
        if name.endswith("/meta"):
            refs[name] = {k: doc[k] for k in PR_FIELDS}
        else:
            refs[name] = {k: v for k, v in doc.items() if k != "at" and not k.endswith(TIMELY)}
    return dict(sorted(refs.items()))


def _json_documents(bare: Path, objects: list[str]) -> list[dict[str, Any]]:
    """The JSON documents `<sha>:<path>`, read with one `git cat-file --batch`."""
    if not objects:
        return []
    out = subprocess.run(
        ("git", "cat-file", "--batch"),
        cwd=bare,
        input="".join(f"{o}\n" for o in objects).encode(),
        capture_output=True,
        check=True,
    ).stdout
    found = []
    for o in objects:
        header, _, out = out.partition(b"\n")
        assert not header.endswith(b" missing"), f"{o} is missing in {bare}"
        size = int(header.split()[2])
        found.append(json.loads(out[:size]))
        out = out[size + 1 :]
    return found


def prs(sb: Sandbox, bare: Path) -> dict[int, dict[str, Any]]:
    return {
        v["number"]: v
        for k, v in remote_refs(sb, bare).items()
        if k.startswith("refs/prodfix/pulls/") and k.endswith("/meta")
    }


def heads(refs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in refs.items() if k.startswith("refs/heads/")}


def clone_state(sb: Sandbox, clone: Path) -> dict[str, Any]:
    """Local branches, the checked-out branch, git status and every work-tree file's bytes."""
    files = {
        str(p.relative_to(clone)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(clone.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(clone).parts
    }
    return {
        "branches": sb.refs(clone / ".git", "refs/heads/"),
        "head": sb.g(clone, "symbolic-ref", "-q", "--short", "HEAD", check=False),
        "status": sb.g(clone, "status", "--porcelain=v1", "-uall"),
        "in_progress": sorted(
            m
            for m in ("MERGE_HEAD", "rebase-merge", "rebase-apply", "CHERRY_PICK_HEAD")
            if (clone / ".git" / m).exists()
        ),
        "files": files,
    }


def builds(sb: Sandbox, bare: Path) -> dict[str, Any]:
    """The embedded build runner's records in the remote: (sha, state, image tag) per build."""
    refs = remote_refs(sb, bare)
    return {
        name.rsplit("/", 1)[-1]: (doc["sha"], doc["state"], doc["tag"])
        for name, doc in refs.items()
        if name.startswith("refs/prodfix/builds/")
    }


def snapshot(w: World) -> dict[str, Any]:
    return {
        "remotes": {n: remote_refs(w.sb, b) for n, b in w.bares.items()},
        "clones": {n: clone_state(w.sb, c) for n, c in w.clones.items()},
        "builds": builds(w.sb, w.bares["service"]),
    }


def run_states() -> list[dict[str, Any]]:
    runs = Path(os.environ["PRODFIX_HOME"]) / "runs"
    return [json.loads(p.read_text()) for p in sorted(runs.glob("*.json"))] if runs.exists() else []


def log_pushes(monkeypatch: pytest.MonkeyPatch, before: Any = None) -> list[list[str]]:
    """The refs of every atomic push prodfix makes (records.push), in order; `before(n)` runs
    before the n-th push reaches the remote."""
    from prodfix.adapters import records

    original = records.push
    seen: list[list[str]] = []

    def logged(repo: Any, remote: str, updates: Any) -> Any:
        seen.append(sorted(updates))
        if before is not None:
            before(len(seen))
        return original(repo, remote, updates)

    monkeypatch.setattr(records, "push", logged)
    return seen


def interrupt_after_the_next_push(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C right after the remote took prodfix's next atomic push, before prodfix knew it:
    the moment a rerun must recognise its own push."""
    from prodfix.adapters import records

    original = records.push

    def cut(repo: Any, remote: str, updates: Any) -> Any:
        monkeypatch.setattr(records, "push", original)
        original(repo, remote, updates)
        raise KeyboardInterrupt

    monkeypatch.setattr(records, "push", cut)
