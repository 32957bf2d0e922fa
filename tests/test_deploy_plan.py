"""The deploy planner over a GitOps checkout: statuses, warnings, JSON, diff, atomic apply."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import jsonschema
import pytest

from prodfix.adapters.gitops.plan import PLAN_JSON_SCHEMA, DeployPlan, plan_deploy, write_atomic
from prodfix.errors import Exit, ProdfixError

IMG = "registry.example.com/sre-triggers/steps-go"
TEMPLATE = "apps/sre-triggers/{dc}"

KUST = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
images:
  - name: registry.example.com/sre-triggers/steps-go
    newTag: "{tag}"  # bumped by prodfix
"""
DEPLOY = """\
apiVersion: apps/v1\r
kind: Deployment\r
spec:\r
  template:\r
    spec:\r
      containers:\r
      - name: steps\r
        image: registry.example.com/sre-triggers/steps-go:{tag}\r
      - name: sidecar\r
        image: registry.example.com/sre-triggers/steps-go-sidecar:{tag}"""
SERVICE = "apiVersion: v1\nkind: Service\nmetadata:\n  name: steps\n"
ARGOCD_SOURCE = "kustomize:\n  images:\n  - registry.example.com/sre-triggers/steps-go:1.4.0\n"


def write(root: Path, rel: str, text: str, mode: int = 0o644) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode())
    path.chmod(mode)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "deployment-infra"
    write(root, "apps/sre-triggers/us1/kustomization.yaml", KUST.replace("{tag}", "1.4.2"))
    write(
        root, "apps/sre-triggers/us1/base/deployment.yaml", DEPLOY.replace("{tag}", "1.4.2"), 0o640
    )
    write(root, "apps/sre-triggers/us1/.argocd-source-sre-triggers-us1.yaml", ARGOCD_SOURCE)
    write(root, "apps/sre-triggers/eu1/kustomization.yaml", KUST.replace("{tag}", "1.5.0"))
    write(
        root,
        "apps/sre-triggers/eu1/notes.txt",
        "image: registry.example.com/sre-triggers/steps-go:0\n",
    )
    write(root, "apps/sre-triggers/ap1/service.yml", SERVICE)
    write(root, "apps/other/us1/kustomization.yaml", KUST.replace("{tag}", "0.1"))
    return root


def plan(
    root: Path,
    *,
    dcs: tuple[str, ...] = ("us1", "eu1", "ap1"),
    tag: str = "1.5.0",
    allow_missing: bool = False,
) -> DeployPlan:
    return plan_deploy(
        root, path_template=TEMPLATE, dcs=list(dcs), image=IMG, tag=tag, allow_missing=allow_missing
    )


def test_statuses_warnings_and_errors(tree: Path) -> None:
    p = plan(tree)
    assert [(d.dc, d.status, d.current) for d in p.dcs] == [
        ("us1", "change", ("1.4.2",)),
        ("eu1", "already", ("1.5.0",)),
        ("ap1", "missing", ()),
    ]
    assert [c.file for c in p.changes] == [
        "apps/sre-triggers/us1/base/deployment.yaml",
        "apps/sre-triggers/us1/kustomization.yaml",
    ]
    assert [(w.reason, w.dc, w.file) for w in p.warnings] == [
        ("argocd-source", "us1", "apps/sre-triggers/us1/.argocd-source-sre-triggers-us1.yaml"),
        ("drift", None, None),
    ]
    assert "names the image" in p.warnings[0].message
    assert p.warnings[1].message == "DCs start from different tags (us1: 1.4.2; eu1: 1.5.0)"
    assert [(e.reason, e.dc) for e in p.errors] == [("missing", "ap1")]
    assert not p.ok and not p.nothing_to_do


def test_allow_missing_turns_the_error_into_a_warning(tree: Path) -> None:
    p = plan(tree, allow_missing=True)
    assert p.ok and p.errors == ()
    assert ("missing", "ap1") in [(w.reason, w.dc) for w in p.warnings]
    assert p.dcs[2].status == "missing"


def test_json_shape(tree: Path) -> None:
    doc = plan(tree).to_json()
    jsonschema.validate(doc, PLAN_JSON_SCHEMA)
    jsonschema.validate(plan(tree, allow_missing=True).to_json(), PLAN_JSON_SCHEMA)
    assert json.loads(json.dumps(doc)) == doc
    assert doc["version"] == 1 and doc["image"] == IMG and doc["tag"] == "1.5.0"
    assert doc["ok"] is False and doc["nothing_to_do"] is False
    assert doc["dcs"][0] == {
        "dc": "us1",
        "folder": "apps/sre-triggers/us1",
        "status": "change",
        "current": ["1.4.2"],
        "files": [
            "apps/sre-triggers/us1/base/deployment.yaml",
            "apps/sre-triggers/us1/kustomization.yaml",
        ],
        "edits": [
            {
                "file": "apps/sre-triggers/us1/base/deployment.yaml",
                "line": 8,
                "old": "registry.example.com/sre-triggers/steps-go:1.4.2",
                "new": "registry.example.com/sre-triggers/steps-go:1.5.0",
                "kind": "container",
            },
            {
                "file": "apps/sre-triggers/us1/kustomization.yaml",
                "line": 7,
                "old": "1.4.2",
                "new": "1.5.0",
                "kind": "kustomize-newTag",
            },
        ],
    }
    assert doc["dcs"][1] == {
        "dc": "eu1",
        "folder": "apps/sre-triggers/eu1",
        "status": "already",
        "current": ["1.5.0"],
        "files": ["apps/sre-triggers/eu1/kustomization.yaml"],
        "edits": [],
    }
    assert doc["dcs"][2]["status"] == "missing" and doc["dcs"][2]["files"] == []
    assert doc["errors"] == [
        {
            "dc": "ap1",
            "file": None,
            "line": 0,
            "reason": "missing",
            "message": f"ap1: no file under apps/sre-triggers/ap1/ references {IMG} "
            "(--allow-missing skips it)",
        }
    ]
    assert [w["reason"] for w in doc["warnings"]] == ["argocd-source", "drift"]
    assert set(doc["warnings"][0]) == {"dc", "file", "line", "reason", "message"}


def test_unified_diff_exact_text(tree: Path) -> None:
    assert plan(tree).unified_diff() == (
        "diff --git a/apps/sre-triggers/us1/base/deployment.yaml b/apps/sre-triggers/us1/base/deployment.yaml\n"
        "--- a/apps/sre-triggers/us1/base/deployment.yaml\n"
        "+++ b/apps/sre-triggers/us1/base/deployment.yaml\n"
        "@@ -5,6 +5,6 @@\n"
        "     spec:\r\n"
        "       containers:\r\n"
        "       - name: steps\r\n"
        "-        image: registry.example.com/sre-triggers/steps-go:1.4.2\r\n"
        "+        image: registry.example.com/sre-triggers/steps-go:1.5.0\r\n"
        "       - name: sidecar\r\n"
        "         image: registry.example.com/sre-triggers/steps-go-sidecar:1.4.2\n"
        "\\ No newline at end of file\n"
        "diff --git a/apps/sre-triggers/us1/kustomization.yaml b/apps/sre-triggers/us1/kustomization.yaml\n"
        "--- a/apps/sre-triggers/us1/kustomization.yaml\n"
        "+++ b/apps/sre-triggers/us1/kustomization.yaml\n"
        "@@ -4,4 +4,4 @@\n"
        "   - deployment.yaml\n"
        " images:\n"
        "   - name: registry.example.com/sre-triggers/steps-go\n"
        '-    newTag: "1.4.2"  # bumped by prodfix\n'
        '+    newTag: "1.5.0"  # bumped by prodfix\n'
    )


def test_unified_diff_applies_with_git(tree: Path, tmp_path: Path) -> None:
    import subprocess

    p = plan(tree, allow_missing=True)
    patch = tmp_path / "change.patch"
    patch.write_bytes(p.unified_diff().encode())
    subprocess.run(("git", "init", "-q", str(tree)), check=True)
    subprocess.run(("git", "-C", str(tree), "apply", "--check", str(patch)), check=True)
    subprocess.run(("git", "-C", str(tree), "apply", str(patch)), check=True)
    for change in p.changes:
        assert (tree / change.file).read_bytes() == change.new


def test_apply_writes_atomically_and_keeps_mode(tree: Path) -> None:
    p = plan(tree, allow_missing=True)
    deployment = tree / "apps/sre-triggers/us1/base/deployment.yaml"
    before = {q: q.read_bytes() for q in tree.rglob("*") if q.is_file()}
    written = p.apply(tree)
    assert written == [tree / c.file for c in p.changes]
    assert (
        deployment.read_bytes()
        == DEPLOY.replace("steps-go:{tag}", "steps-go:1.5.0").replace("{tag}", "1.4.2").encode()
    )
    assert stat.S_IMODE(deployment.stat().st_mode) == 0o640
    after = {q: q.read_bytes() for q in tree.rglob("*") if q.is_file()}
    assert set(after) == set(before)  # no temp file left behind
    assert sorted(q for q in after if after[q] != before[q]) == sorted(written)
    again = plan(tree, dcs=("us1", "eu1"))
    assert again.nothing_to_do and [d.status for d in again.dcs] == ["already", "already"]
    assert again.unified_diff() == "" and again.to_json()["nothing_to_do"] is True


def test_apply_refuses_a_plan_with_errors(tree: Path) -> None:
    p = plan(tree)
    with pytest.raises(ProdfixError, match="1 error"):
        p.apply(tree)
    assert b"1.4.2" in (tree / "apps/sre-triggers/us1/kustomization.yaml").read_bytes()


def test_apply_refuses_when_a_file_changed_since_the_plan(tree: Path) -> None:
    p = plan(tree, allow_missing=True)
    kust = tree / "apps/sre-triggers/us1/kustomization.yaml"
    kust.write_bytes(kust.read_bytes() + b"# edited meanwhile\n")
    with pytest.raises(ProdfixError, match="changed since the plan"):
        p.apply(tree)
    deployment = tree / "apps/sre-triggers/us1/base/deployment.yaml"
    assert b"steps-go:1.4.2" in deployment.read_bytes()  # nothing written at all


def test_write_atomic_failure_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "dir/f.yaml", "old\n", 0o600)

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_atomic(path, b"new\n")
    assert path.read_bytes() == b"old\n"
    assert sorted(q.name for q in path.parent.iterdir()) == ["f.yaml"]


def test_write_atomic_flushes_a_file_to_disk_but_not_a_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    (tmp_path / "d").mkdir()
    path = tmp_path / "d" / "state.json"
    write_atomic(path, b"{}")
    assert len(synced) == 2  # the file, then its folder (the rename)
    synced.clear()
    write_atomic(path, b'{"a": 1}', durable=False)
    assert synced == [] and path.read_bytes() == b'{"a": 1}'
    assert [q.name for q in path.parent.iterdir()] == ["state.json"]


def test_a_damaged_sha_cache_is_ignored_and_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prodfix.adapters.shacache import ShaCache

    monkeypatch.setenv("PRODFIX_HOME", str(tmp_path / "home"))
    cache = ShaCache(tmp_path / "repo", "objects")
    cache.path.parent.mkdir(parents=True)
    cache.path.write_bytes(b'{"a": ')  # what a power cut can leave of an unflushed write
    assert cache.get("a") is None
    cache.put("a", 1)
    cache.save()
    assert ShaCache(tmp_path / "repo", "objects").get("a") == 1


def test_no_folder_and_refused_file(tree: Path) -> None:
    write(
        tree,
        "apps/sre-triggers/eu1/templated.yaml",
        "apiVersion: apps/v1\nkind: Pod\nmetadata:\n  name: {{ .Values.name }}\nspec:\n"
        "  containers:\n  - image: registry.example.com/sre-triggers/steps-go:1\n",
    )
    p = plan(tree, dcs=("us1", "eu1", "xx9"))
    assert [(d.dc, d.status) for d in p.dcs] == [
        ("us1", "change"),
        ("eu1", "refused"),
        ("xx9", "no-folder"),
    ]
    assert [(e.reason, e.dc, e.file, e.line) for e in p.errors] == [
        ("templated", "eu1", "apps/sre-triggers/eu1/templated.yaml", 4),
        ("no-folder", "xx9", None, 0),
    ]
    assert "apps/sre-triggers/eu1/templated.yaml:4" in p.errors[0].message
    jsonschema.validate(p.to_json(), PLAN_JSON_SCHEMA)


def test_mixed_tags_inside_one_dc(tree: Path) -> None:
    write(
        tree,
        "apps/sre-triggers/eu1/job.yaml",
        "apiVersion: batch/v1\nkind: Job\nspec:\n  template:\n    spec:\n      containers:\n"
        "      - image: registry.example.com/sre-triggers/steps-go:1.3.9\n",
    )
    p = plan(tree, dcs=("eu1",))
    assert p.dcs[0].status == "change" and p.dcs[0].current == ("1.3.9", "1.5.0")
    assert [(w.reason, w.message) for w in p.warnings] == [
        ("mixed-tags", "eu1: files disagree on the current tag: 1.3.9, 1.5.0")
    ]


def test_digest_deploy(tree: Path) -> None:
    digest = "sha256:" + "7" * 64
    p = plan(tree, dcs=("us1",), tag=digest)
    assert [(e.kind, e.new) for e in p.dcs[0].edits] == [
        ("container", f"{IMG}@{digest}"),
        ("kustomize-digest", digest),
    ]


def test_symlinks_are_not_followed(tree: Path) -> None:
    (tree / "apps/sre-triggers/ap1/link.yaml").symlink_to(
        tree / "apps/other/us1/kustomization.yaml"
    )
    p = plan(tree, dcs=("ap1",), allow_missing=True)
    assert ("symlink", "apps/sre-triggers/ap1/link.yaml") in [
        (w.reason, w.file) for w in p.warnings
    ]
    assert p.changes == ()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dcs": ["../x"]}, "DC name"),
        ({"dcs": ["us1", "us1"]}, "twice"),
        ({"dcs": []}, "no DC"),
        ({"path_template": "apps/sre-triggers"}, "has no {dc}"),
        ({"path_template": "/abs/{dc}"}, "outside the repository"),
        ({"path_template": "../up/{dc}"}, "outside the repository"),
        ({"path_template": "apps/{team}/{dc}"}, "not a valid template"),
        ({"tag": "not a tag"}, "not a valid image tag"),
        ({"image": "registry.example.com/x:1"}, "without a tag"),
    ],
)
def test_invalid_inputs_are_usage_errors(
    tree: Path, kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {
        "path_template": TEMPLATE,
        "dcs": ["us1"],
        "image": IMG,
        "tag": "1.5.0",
        "allow_missing": False,
        **kwargs,
    }
    with pytest.raises(ProdfixError, match=message) as info:
        plan_deploy(tree, **args)  # type: ignore[arg-type]
    assert info.value.code == Exit.USAGE and info.value.hint
