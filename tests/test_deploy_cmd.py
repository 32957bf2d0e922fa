"""`prodfix deploy` end to end: a service repository, the GitOps repository beside it (a path or
a file:// URL), the embedded forge (PRs kept in the deploy repository's bare remote)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from prodfix.demo.sandbox import BUILD_SH, IMAGE_GO, IMAGE_PY, Builder, deployment, kustomization
from tests.cli import prodfix, prodfix_proc

TAG = "2026.11.1"
BRANCH = f"deploy/steps-python/{TAG}"
ARGO_SOURCE = "apps/sre-triggers/us1/.argocd-source-sre-triggers-us1.yaml"


def service_toml(repo: str, dcs: list[str], extra: str = "", build: str = 'type = "none"') -> str:
    return f"""kind = "python"

[test]
command = "true"

[forge]
type = "git"
approvals = 1

[build]
{build}

[deploy]
repo = "{repo}"
path = "apps/sre-triggers/{{dc}}"
dcs = {json.dumps(dcs)}
image = "{IMAGE_PY}"
target = "master"
{extra}"""


def infra_files() -> dict[str, str]:
    """us1 and us2 need the change (from different tags: drift), eu1 is at TAG already, ap1
    does not run steps-python at all; us1 also has an Argo CD parameter override."""
    files = {"README.md": "GitOps: Argo CD deploys master.\n"}
    for dc in ("us1", "us2", "eu1"):
        files[f"apps/sre-triggers/{dc}/kustomization.yaml"] = kustomization(dc)
        files[f"apps/sre-triggers/{dc}/deployment.yaml"] = deployment(dc)
    for name in ("kustomization.yaml", "deployment.yaml"):
        us2 = f"apps/sre-triggers/us2/{name}"
        files[us2] = files[us2].replace(f"{IMAGE_PY}:2026.11.0", f"{IMAGE_PY}:2026.10.3")
        files[us2] = files[us2].replace(
            'newTag: "2026.11.0"  # steps', 'newTag: "2026.10.3"  # steps'
        )
        eu1 = f"apps/sre-triggers/eu1/{name}"
        files[eu1] = files[eu1].replace(f"{IMAGE_PY}:2026.11.0", f"{IMAGE_PY}:{TAG}")
        files[eu1] = files[eu1].replace('newTag: "2026.11.0"  # steps', f'newTag: "{TAG}"  # steps')
    files["apps/sre-triggers/ap1/deployment.yaml"] = (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: triggers-only\nspec:\n"
        f"  template:\n    spec:\n      containers:\n        - name: t\n          image: {IMAGE_GO}:1.0\n"
    )
    files[ARGO_SOURCE] = "kustomize:\n  images:\n    - steps-python=override:1\n"
    files[".prodfix.toml"] = '[forge]\ntype = "git"\napprovals = 1\n'
    return files


@dataclass
class World:
    b: Builder
    service: Path
    infra: Path  # the user's clone of deployment-infra
    infra_remote: Path
    files: dict[str, str]

    def git(self, cwd: Path, *args: str) -> str:
        return self.b.g(cwd, *args)

    def remote_refs(self) -> dict[str, str]:
        out = self.git(self.infra_remote, "for-each-ref", "--format=%(refname) %(objectname)")
        return dict(line.split(" ") for line in out.splitlines())

    def blob(self, rev: str, path: str) -> bytes:
        return subprocess.run(
            ("git", "cat-file", "blob", f"{rev}:{path}"),
            cwd=self.infra_remote,
            capture_output=True,
            check=True,
        ).stdout

    def prs(self) -> list[dict[str, object]]:
        r = prodfix(self.infra, "pr", "list", "--all", "--json")
        assert r.code == 0, r.err
        docs: list[dict[str, object]] = json.loads(r.out)
        return docs

    def push_infra(self, message: str, files: dict[str, str]) -> str:
        self.git(self.infra, "pull", "-q", "origin", "master")
        self.b.commit(self.infra, message, files)
        self.git(self.infra, "push", "-q", "origin", "master")
        return self.git(self.infra, "rev-parse", "HEAD")


def make_world(
    root: Path,
    *,
    dcs: list[str] | None = None,
    repo: str = "../deployment-infra",
    extra: str = "",
    build: str = 'type = "none"',
) -> World:
    b = Builder(root)
    b.work.mkdir(parents=True)
    infra = b.new_repo("deployment-infra")
    files = infra_files()
    b.commit(infra, "sre-triggers in us1, us2, eu1, ap1", files)
    b.g(infra, "push", "-q", "origin", "master")
    # Reflogs on the bare remote: they prove that no ref was ever rewritten (no force push).
    b.g(b.remotes / "deployment-infra.git", "config", "core.logAllRefUpdates", "always")
    service = b.new_repo("steps-python")
    toml = service_toml(repo, dcs or ["us1", "us2", "eu1", "ap1"], extra, build)
    b.commit(
        service,
        "steps: first version",
        {".prodfix.toml": toml, "steps.py": "X = 1\n", "ci/build.sh": BUILD_SH},
    )
    b.g(service, "branch", "delivery")
    b.g(service, "push", "-q", "origin", "master", "delivery")
    return World(b, service, infra, b.remotes / "deployment-infra.git", files)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path / "sb")


def test_a_dc_without_the_image_is_an_error_and_nothing_is_pushed(world: World) -> None:
    before = world.remote_refs()
    r = prodfix(world.service, "deploy", "--tag", TAG)
    assert r.code == 1
    assert (
        "prodfix: error: ap1: no file under apps/sre-triggers/ap1/ references "
        f"{IMAGE_PY} (--allow-missing skips it); nothing was changed\n"
    ) in r.err
    assert "next: fix the deploy repository, or pass --allow-missing" in r.err
    assert world.remote_refs() == before
    assert world.git(world.infra, "for-each-ref", "refs/heads/deploy/") == ""


def file_diff(dc: str, old: str) -> str:
    d, k = f"apps/sre-triggers/{dc}/deployment.yaml", f"apps/sre-triggers/{dc}/kustomization.yaml"
    return (
        f"diff --git a/{d} b/{d}\n--- a/{d}\n+++ b/{d}\n@@ -10,6 +10,6 @@\n"
        "     spec:\n       containers:\n         - name: steps\n"
        f"-          image: {IMAGE_PY}:{old}  # pinned per DC\n"
        f"+          image: {IMAGE_PY}:{TAG}  # pinned per DC\n"
        f'         - name: triggers\n           image: "{IMAGE_GO}:2026.11.0"\n'
        f"diff --git a/{k} b/{k}\n--- a/{k}\n+++ b/{k}\n@@ -5,6 +5,6 @@\n"
        f"   - deployment.yaml\n images:\n   - name: {IMAGE_PY}\n"
        f'-    newTag: "{old}"  # steps-python\n+    newTag: "{TAG}"  # steps-python\n'
        f'   - name: {IMAGE_GO}\n     newTag: "2026.11.0"  # triggers-go\n'
    )


PLAN_TEXT = (
    f"us1: 2026.11.0 → {TAG}\n"
    f"  apps/sre-triggers/us1/deployment.yaml:13  {IMAGE_PY}:2026.11.0 → {IMAGE_PY}:{TAG}\n"
    f"  apps/sre-triggers/us1/kustomization.yaml:8  2026.11.0 → {TAG}\n"
    f"us2: 2026.10.3 → {TAG}\n"
    f"  apps/sre-triggers/us2/deployment.yaml:13  {IMAGE_PY}:2026.10.3 → {IMAGE_PY}:{TAG}\n"
    f"  apps/sre-triggers/us2/kustomization.yaml:8  2026.10.3 → {TAG}\n"
    f"eu1: already at {TAG}, skipped\n"
    f"ap1: does not reference {IMAGE_PY}\n"
)
WARNINGS = (
    f"prodfix: warning: us1: {ARGO_SOURCE} exists and names the image: Argo CD applies it on "
    "top of git, so it can override the tag set here; it is not edited\n"
    f"prodfix: warning: ap1: no file under apps/sre-triggers/ap1/ references {IMAGE_PY} "
    "(skipped: --allow-missing)\n"
    "prodfix: warning: DCs start from different tags "
    f"(us1: 2026.11.0; us2: 2026.10.3; eu1: {TAG})\n"
)


def test_dry_run_prints_the_plan_and_the_exact_diff_and_changes_nothing(world: World) -> None:
    before = world.remote_refs()
    r = prodfix(world.service, "deploy", "--tag", TAG, "--allow-missing", "--dry-run")
    assert r.code == 0, r.err
    assert r.out == PLAN_TEXT + file_diff("us1", "2026.11.0") + file_diff("us2", "2026.10.3")
    assert r.err == WARNINGS
    assert world.remote_refs() == before
    assert world.git(world.infra, "for-each-ref", "refs/heads/deploy/") == ""
    assert world.git(world.infra, "status", "--porcelain") == ""


def test_dry_run_json_is_one_document_with_every_dc(world: World) -> None:
    before = world.remote_refs()
    r = prodfix(world.service, "deploy", "--tag", TAG, "--allow-missing", "--dry-run", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert r.err == ""
    assert (doc["image"], doc["tag"], doc["ok"], doc["nothing_to_do"]) == (
        IMAGE_PY,
        TAG,
        True,
        False,
    )
    assert [(d["dc"], d["status"], d["current"]) for d in doc["dcs"]] == [
        ("us1", "change", ["2026.11.0"]),
        ("us2", "change", ["2026.10.3"]),
        ("eu1", "already", [TAG]),
        ("ap1", "missing", []),
    ]
    assert [(e["file"], e["line"], e["old"], e["new"]) for e in doc["dcs"][1]["edits"]] == [
        ("apps/sre-triggers/us2/deployment.yaml", 13, f"{IMAGE_PY}:2026.10.3", f"{IMAGE_PY}:{TAG}"),
        ("apps/sre-triggers/us2/kustomization.yaml", 8, "2026.10.3", TAG),
    ]
    assert [(w["reason"], w["file"]) for w in doc["warnings"]] == [
        ("argocd-source", ARGO_SOURCE),
        ("missing", None),
        ("drift", None),
    ]
    assert world.remote_refs() == before
    # Without --allow-missing the plan has the error; still one document, exit 1.
    r = prodfix(world.service, "deploy", "--tag", TAG, "--dry-run", "--json")
    assert r.code == 1 and r.err == ""
    assert [e["reason"] for e in json.loads(r.out)["errors"]] == ["missing"]


def test_json_needs_dry_run(world: World) -> None:
    r = prodfix(world.service, "deploy", "--tag", TAG, "--json")
    assert r.code == 2
    assert "--json goes with --dry-run" in r.err


def test_nothing_to_do_when_every_chosen_dc_is_at_the_tag(world: World) -> None:
    before = world.remote_refs()
    r = prodfix(world.service, "deploy", "--tag", TAG, "--dc", "eu1")
    assert r.code == 0, r.err
    assert (
        r.out
        == f"eu1: already at {TAG}, skipped\nnothing to do: eu1 already run {IMAGE_PY}:{TAG}\n"
    )
    assert world.remote_refs() == before


def expected_message(dcs: str, fix: str | None) -> str:
    return f"Deploy steps-python:{TAG} to {dcs}\n\nImage: {IMAGE_PY}\nTag: {TAG}\nDCs: {dcs}\n" + (
        f"Prodfix-Fix: {fix}\n" if fix else ""
    )


def assert_deploy_commit(world: World, sha: str, base: str, fix: str | None) -> None:
    """One commit on `base`; only the tag bytes of us1/us2 differ, every other file is equal."""
    g = world.git
    assert g(world.infra_remote, "rev-parse", f"{sha}^@") == base
    assert g(world.infra_remote, "log", "-1", "--format=%B", sha) + "\n" == expected_message(
        "us1, us2", fix
    )
    changed = g(world.infra_remote, "diff", "--name-only", base, sha).splitlines()
    assert changed == [
        "apps/sre-triggers/us1/deployment.yaml",
        "apps/sre-triggers/us1/kustomization.yaml",
        "apps/sre-triggers/us2/deployment.yaml",
        "apps/sre-triggers/us2/kustomization.yaml",
    ]
    for path in changed:
        old = world.blob(base, path)
        old_tag = b"2026.10.3" if "/us2/" in path else b"2026.11.0"
        steps = IMAGE_PY.encode()
        want = old.replace(steps + b":" + old_tag, steps + b":" + TAG.encode()).replace(
            b'newTag: "' + old_tag + b'"  # steps', b'newTag: "' + TAG.encode() + b'"  # steps'
        )
        assert want != old and world.blob(sha, path) == want
    assert (
        g(
            world.infra_remote,
            "diff",
            "--name-only",
            base,
            sha,
            "--",
            ":!apps/sre-triggers/us1",
            ":!apps/sre-triggers/us2",
        )
        == ""
    )


def reflog(world: World, ref: str) -> list[str]:
    return world.git(world.infra_remote, "reflog", "show", "--format=%H", ref).splitlines()


def test_deploy_branch_commit_and_pr_exactly_then_a_rerun_reuses_them(world: World) -> None:
    assert prodfix(world.service, "start", "npe").code == 0
    master = world.remote_refs()["refs/heads/master"]
    r = prodfix(world.service, "deploy", "--tag", TAG, "--allow-missing")
    assert r.code == 0, r.err
    assert r.out.startswith(PLAN_TEXT)
    assert r.err == WARNINGS
    assert "opened deploy PR #1: git-pr://" in r.out
    refs = world.remote_refs()
    sha = refs[f"refs/heads/{BRANCH}"]
    assert refs["refs/heads/master"] == master
    assert_deploy_commit(world, sha, master, "npe")
    prs = world.prs()
    assert [(p["number"], p["head"], p["base"], p["state"], p["title"]) for p in prs] == [
        (1, BRANCH, "master", "open", f"Deploy steps-python:{TAG} to us1, us2")
    ]
    # The user's clone of deployment-infra: a local branch, nothing checked out or staged.
    assert world.git(world.infra, "rev-parse", BRANCH) == sha
    assert world.git(world.infra, "symbolic-ref", "--short", "HEAD") == "master"
    assert world.git(world.infra, "status", "--porcelain") == ""

    again = prodfix(world.service, "deploy", "--tag", TAG, "--allow-missing")
    assert again.code == 0, again.err
    assert "found deploy PR #1" in again.out
    assert world.remote_refs()[f"refs/heads/{BRANCH}"] == sha
    assert len(world.prs()) == 1
    assert reflog(world, f"refs/heads/{BRANCH}") == [sha]


def test_target_moved_after_the_commit_recreates_the_branch_on_the_new_tip(world: World) -> None:
    old_master = world.remote_refs()["refs/heads/master"]
    r = prodfix_proc(
        world.service, "deploy", "--tag", TAG, "--allow-missing", env={"PRODFIX_DIE_AFTER": "1"}
    )
    assert r.code == -9, r.err
    stale = world.git(world.infra, "rev-parse", BRANCH)
    assert world.git(world.infra, "rev-parse", f"{BRANCH}^") == old_master
    assert f"refs/heads/{BRANCH}" not in world.remote_refs()
    new_master = world.push_infra("README: on-call", {"README.md": "Argo CD deploys master.\n"})
    r = prodfix(world.service, "continue")
    assert r.code == 0, r.err
    sha = world.remote_refs()[f"refs/heads/{BRANCH}"]
    assert sha != stale
    assert_deploy_commit(world, sha, new_master, None)
    assert reflog(world, f"refs/heads/{BRANCH}") == [sha]  # created once, never rewritten
    assert reflog(world, "refs/heads/master") == [new_master]  # only the test pushed it
    assert [(p["head"], p["state"]) for p in world.prs()] == [(BRANCH, "open")]


def test_undo_closes_the_pr_and_deletes_the_branches(world: World) -> None:
    before = world.remote_refs()
    assert prodfix(world.service, "deploy", "--tag", TAG, "--allow-missing").code == 0
    r = prodfix(world.service, "undo")
    assert r.code == 0, r.err
    assert [(p["number"], p["state"]) for p in world.prs()] == [(1, "closed")]
    after = world.remote_refs()
    assert f"refs/heads/{BRANCH}" not in after
    assert {k: v for k, v in after.items() if not k.startswith("refs/prodfix/")} == before
    assert world.git(world.infra, "for-each-ref", "refs/heads/deploy/") == ""


def test_a_deploy_repository_given_as_a_url_is_cloned_into_the_cache(tmp_path: Path) -> None:
    remote = tmp_path / "sb" / "remotes" / "deployment-infra.git"
    w = make_world(tmp_path / "sb", repo=remote.as_uri())
    r = prodfix(w.service, "deploy", "--tag", TAG, "--allow-missing")
    assert r.code == 0, r.err
    sha = w.remote_refs()[f"refs/heads/{BRANCH}"]
    assert_deploy_commit(w, sha, w.remote_refs()["refs/heads/master"], None)
    caches = list((tmp_path / "prodfix-home" / "cache" / "deploy").iterdir())
    assert len(caches) == 1
    assert w.git(caches[0], "remote", "get-url", "origin") == remote.as_uri()
    assert w.git(caches[0], "rev-parse", BRANCH) == sha
    # The user's own clone is not touched at all.
    assert w.git(w.infra, "for-each-ref", "refs/heads/deploy/", "refs/remotes/origin/deploy/") == ""
    assert [(p["head"], p["state"]) for p in w.prs()] == [(BRANCH, "open")]
    # A second deploy fetches into the same cache clone (the target moved meanwhile).
    new_master = w.push_infra("README: on-call", {"README.md": "on-call\n"})
    r = prodfix(w.service, "deploy", "--tag", "2026.11.2", "--dc", "eu1")
    assert r.code == 0, r.err
    other = w.remote_refs()["refs/heads/deploy/steps-python/2026.11.2"]
    assert w.git(w.infra_remote, "rev-parse", f"{other}^") == new_master
