"""A team on one service, for the team scenarios: two engineers (Alice, Bob), a reviewer (Rui)
and an observer (Carol), each with a clone of their own and a `PRODFIX_HOME` of their own —
as if on four machines. The service deploys to two DCs through a GitOps repository (a bare
remote every person's prodfix clones into its own cache); builds are `build.type = "command"`.

Every person's prodfix runs in-process with their identity and fixed commit dates, so the
commits prodfix makes (merges, deploy commits) have the same SHAs run after run. Records
(fixes, builds, images) carry wall-clock stamps and are compared by their fields.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from tests.cli import REVIEWER, Run, prodfix
from tests.gitfix import Sandbox, seeded
from tests.scenario import IMAGE, kustomization

DCS = ("us1", "eu1")
FIXED_DATE = "@1790100000 +0000"
NOW = "1790200000"  # PRODFIX_NOW: a day after the commits, so no finding ages on its own
BUILD_SH = '#!/bin/sh\nset -e\necho "${PRODFIX_DELIVERY}-${PRODFIX_BUILD_NUMBER}"\n'
TOML = f"""kind = "python"
mainline = "master"
delivery = "delivery*"

[test]
command = "true"

[forge]
type = "git"
approvals = 1

[build]
type = "command"
command = "sh ci/build.sh"

[deploy]
repo = "../../deploy.git"
path = "apps/{{dc}}"
dcs = {json.dumps(list(DCS))}
image = "{IMAGE}"
target = "master"
"""
APP = "def answer():\n    return 41\n"


def identity(name: str, email: str) -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


@dataclass
class Person:
    name: str
    root: Path  # this person's "machine": their clones and their PRODFIX_HOME
    ident: dict[str, str]
    svc: Path = Path()  # the clone of the service (people may move it)

    def __post_init__(self) -> None:
        if self.svc == Path():
            self.svc = self.root / "svc"

    @property
    def deploy(self) -> Path:
        return self.root / "deploy"

    @property
    def home(self) -> Path:
        return self.root / "prodfix-home"

    @property
    def env(self) -> dict[str, str]:
        return {
            **self.ident,
            "PRODFIX_HOME": str(self.home),
            "PRODFIX_NOW": NOW,
            "GIT_AUTHOR_DATE": FIXED_DATE,
            "GIT_COMMITTER_DATE": FIXED_DATE,
        }


PEOPLE = {
    "alice": identity("Alice Engineer", "alice@example.com"),
    "bob": identity("Bob Engineer", "bob@example.com"),
    "carol": identity("Carol Observer", "carol@example.com"),
    "rui": REVIEWER,
}


@dataclass
class Team:
    sb: Sandbox
    service: Path  # the service's bare remote
    deploy: Path  # the GitOps repository's bare remote
    people: dict[str, Person] = field(default_factory=dict)

    @property
    def alice(self) -> Person:
        return self.people["alice"]

    @property
    def bob(self) -> Person:
        return self.people["bob"]

    @property
    def carol(self) -> Person:
        return self.people["carol"]

    @property
    def rui(self) -> Person:
        return self.people["rui"]

    # -- running prodfix ------------------------------------------------------------------
    def run(self, who: Person, *args: str, cwd: Path | None = None) -> Run:
        return prodfix(cwd or who.svc, *args, env=who.env)

    def ok(self, who: Person, *args: str, cwd: Path | None = None) -> Run:
        r = self.run(who, *args, cwd=cwd)
        assert r.code == 0, f"{who.name}: prodfix {' '.join(args)} exited {r.code}:\n{r.out}{r.err}"
        return r

    def approve(self, number: int, *, deploy: bool = False) -> None:
        """The reviewer approves a PR of the service (or of the GitOps repository)."""
        rui = self.rui
        self.ok(rui, "pr", "approve", str(number), cwd=rui.deploy if deploy else rui.svc)

    # -- git by hand ------------------------------------------------------------------------
    def git(self, cwd: Path, *args: str, check: bool = True) -> str:
        return self.sb.g(cwd, *args, check=check)

    def commit(self, who: Person, message: str, files: dict[str, str]) -> str:
        return self.sb.commit(who.svc, message, files)

    def pull(self, who: Person, branch: str) -> None:
        """Switch `who`'s clone to the remote's `branch` as it is now."""
        self.git(who.svc, "fetch", "-q", "origin")
        self.git(who.svc, "checkout", "-q", "-B", branch, f"origin/{branch}")

    # -- what the remotes say (refs read from the bare remotes' files, documents from git) -----
    def refs_of(self, bare: Path, prefix: str) -> dict[str, str]:
        return self.sb.refs(bare, prefix)

    def docs(self, bare: Path, prefix: str, filename: str) -> dict[str, dict[str, Any]]:
        """ref → the JSON document each ref's commit holds (records, PR metadata), read with
        one `cat-file --batch`."""
        refs = self.refs_of(bare, prefix)
        query = "".join(f"{sha}:{filename}\n" for sha in refs.values())
        out = subprocess.run(
            ("git", "cat-file", "--batch"),
            cwd=bare,
            input=query.encode(),
            capture_output=True,
            check=True,
        ).stdout
        docs: dict[str, dict[str, Any]] = {}
        for ref in refs:
            header, _, out = out.partition(b"\n")
            if header.endswith(b" missing"):
                continue  # not a record (a PR's head ref)
            size = int(header.split()[2])
            docs[ref] = json.loads(out[:size])
            out = out[size + 1 :]
        return docs

    def heads(self) -> dict[str, str]:
        refs = self.refs_of(self.service, "refs/heads/")
        return {k.removeprefix("refs/heads/"): v for k, v in refs.items()}

    def tip(self, branch: str, *, bare: Path | None = None) -> str:
        return self.git(bare or self.service, "rev-parse", f"refs/heads/{branch}")

    def builds(self) -> dict[int, tuple[str, str, str | None]]:
        """number → (built sha, state, tag) of every build record in the service's remote."""
        found = self.docs(self.service, "refs/prodfix/builds/", "record.json").values()
        return {int(d["number"]): (d["sha"], d["state"], d["tag"]) for d in found}

    def images(self) -> dict[str, str]:
        """tag → built commit, the shared map every clone judges "deployed" by."""
        prefix = "refs/prodfix/images/"
        refs = self.refs_of(self.service, prefix)
        return {unquote(k.removeprefix(prefix)): v for k, v in refs.items()}

    def dc_files(self) -> dict[str, bytes]:
        """The bytes of every DC's kustomization on the GitOps master (what Argo CD deploys)."""
        return {dc: self.blob(self.deploy, "master", f"apps/{dc}/kustomization.yaml") for dc in DCS}

    def blob(self, bare: Path, rev: str, path: str) -> bytes:
        return subprocess.run(
            ("git", "cat-file", "blob", f"{rev}:{path}"),
            cwd=bare,
            capture_output=True,
            check=True,
        ).stdout

    def prs(self, *, deploy: bool = False) -> dict[int, tuple[str, str, str]]:
        """number → (head, base, state) of every PR as stored in the remote (a PR merged by
        hand reads open here until the forge next updates it; `pr_list` says merged)."""
        bare = self.deploy if deploy else self.service
        docs = self.docs(bare, "refs/prodfix/pulls/", "pr.json")
        return {
            int(d["number"]): (d["head"], d["base"], d["state"])
            for ref, d in docs.items()
            if ref.endswith("/meta")
        }

    def status(self, who: Person, *names: str) -> dict[str, Any]:
        """`status --all --json` in `who`'s clone, without the clone-specific `path`."""
        r = self.run(who, "status", "--all", "--json", *names)
        assert r.code in (0, 1), f"{who.name}: status exited {r.code}:\n{r.out}{r.err}"
        doc: dict[str, Any] = json.loads(r.out)
        for fix in doc["fixes"]:
            for repo in fix["repos"]:
                assert repo.pop("path") == str(who.svc)
        for delivery in doc.get("deliveries", []):
            assert delivery.pop("path") == str(who.svc)
        return doc

    def agreed(self) -> dict[str, Any]:
        """Every clone's `status --all --json`, which must be identical: the remote is the
        shared truth, not anyone's local state."""
        docs = {p: self.status(self.people[p]) for p in ("alice", "bob", "carol")}
        for other in ("bob", "carol"):
            assert docs[other] == docs["alice"], (
                f"{other}'s status differs from alice's:\n"
                + json.dumps(docs[other], indent=1)
                + "\n---\n"
                + json.dumps(docs["alice"], indent=1)
            )
        return docs["alice"]


def steps(doc: dict[str, Any], fix: str) -> dict[str, str]:
    """step id → state of one fix in a status document."""
    entry = next(f for f in doc["fixes"] if f["name"] == fix)
    return {s["id"]: s["state"] for s in entry["repos"][0]["steps"]}


def step(doc: dict[str, Any], fix: str, step_id: str) -> dict[str, Any]:
    entry = next(f for f in doc["fixes"] if f["name"] == fix)
    found: dict[str, Any] = next(s for s in entry["repos"][0]["steps"] if s["id"] == step_id)
    return found


def pinned(tag: str) -> dict[str, bytes]:
    return {dc: kustomization(dc, tag).encode() for dc in DCS}


def _seed(root: Path) -> None:
    """The remotes of a new team: the service (master with the config, `delivery` cut from it,
    master one commit ahead) and the GitOps repository (every DC at 1.0.0)."""
    sb = Sandbox(root)
    sb.init_origin()
    seed = sb.clone("seed")
    files = {"app.py": APP, ".prodfix.toml": TOML, "ci/build.sh": BUILD_SH}
    sb.commit(seed, "initial", files)
    sb.push(seed, "master")
    sb.g(seed, "branch", "delivery")
    sb.push(seed, "delivery")
    sb.commit(seed, "master only: feature M", {"feature_m.py": "M = 1\n"})
    sb.push(seed, "master")
    dep = Sandbox(root / "dep", sb.clock)
    dep.init_origin()
    dseed = dep.clone("seed")
    files = {f"apps/{dc}/kustomization.yaml": kustomization(dc) for dc in DCS}
    files[".prodfix.toml"] = '[forge]\ntype = "git"\napprovals = 1\n'
    dep.commit(dseed, "deploy: svc in every DC", files)
    dep.push(dseed, "master")
    shutil.move(dep.origin, root / "deploy.git")
    shutil.rmtree(root / "seed")
    shutil.rmtree(root / "dep")


def make_team(root: Path, people: tuple[str, ...] = tuple(PEOPLE)) -> Team:
    """A new team in `root`: the remotes and everyone's clones, seeded once per test process and
    copied (same SHAs)."""
    sb = Sandbox(root)
    seeded(sb, ("team", people), lambda s: _seed_team(s, people))
    team = Team(sb, sb.origin, root / "deploy.git")
    for name in people:
        team.people[name] = Person(name, root / name, PEOPLE[name])
    return team


def _seed_team(sb: Sandbox, people: tuple[str, ...]) -> None:
    _seed(sb.root)
    for name in people:
        ident = PEOPLE[name]
        (sb.root / name).mkdir()
        me = ("-c", f"user.name={ident['GIT_AUTHOR_NAME']}")
        me += ("-c", f"user.email={ident['GIT_AUTHOR_EMAIL']}")
        sb.g(sb.root, "clone", "-q", *me, str(sb.origin), str(sb.root / name / "svc"))
        if name == "rui":
            sb.g(
                sb.root, "clone", "-q", str(sb.root / "deploy.git"), str(sb.root / name / "deploy")
            )


ROW = {"done": "d", "ready": "r", "waiting": "w", "pending": "p", "failed": "F", "skipped": "s"}


def rows(doc: dict[str, Any]) -> dict[str, str]:
    """fix → one letter per step (branch test propose merge build deploy backmerge):
    d done, r ready, w waiting, p pending, F failed, s skipped; a `.` after a finished fix."""
    return {
        f["name"]: "".join(ROW[s["state"]] for s in f["repos"][0]["steps"])
        + ("." if f["done"] else "")
        for f in doc["fixes"]
    }


def pr_list(team: Team, *, deploy: bool = False) -> dict[int, tuple[str, str, str]]:
    """number → (head, base, state) as the forge says (a PR merged by hand reads merged)."""
    where = team.rui.deploy if deploy else team.carol.svc
    who = team.rui if deploy else team.carol
    r = team.ok(who, "pr", "list", "--all", "--json", cwd=where)
    return {p["number"]: (p["head"], p["base"], p["state"]) for p in json.loads(r.out)}


def parents(team: Team, sha: str) -> list[str]:
    return team.git(team.service, "rev-list", "--parents", "-n1", sha).split()[1:]


def changed(team: Team, old: str, new: str) -> list[str]:
    return team.git(team.service, "diff", "--name-only", old, new).splitlines()


def proposed(team: Team, who: Person, fix: str, files: dict[str, str] | None = None) -> str:
    """`start`, one commit pushed, `test`, `propose`: the fix's head."""
    team.ok(who, "start", fix)
    head = team.commit(who, f"fix {fix}", files or {f"{fix}.py": f"{fix.upper()} = 1\n"})
    team.git(who.svc, "push", "-q", "origin", f"fix/{fix}")
    team.ok(who, "test")
    team.ok(who, "propose")
    return head


def shipped(team: Team, who: Person, fix: str, pr: int, deploy_pr: int) -> None:
    """Approved, merged, built and deployed by `next --merge` (the back-merge PR is open)."""
    team.approve(pr)
    team.ok(who, "next", "--merge", fix)
    team.approve(deploy_pr, deploy=True)
    team.ok(who, "next", "--merge", fix)


def refs(team: Team) -> dict[str, dict[str, str]]:
    """Every ref of both remotes (records and PR metadata included), SHAs as they are."""
    out = {}
    for bare in (team.service, team.deploy):
        out[bare.name] = team.sb.refs(bare)
    return out
