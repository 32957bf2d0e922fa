"""Build the demo's repositories: bare remotes, working clones, fixed identities and dates."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from prodfix.adapters.git import clean_env

IMAGE_PY = "registry.example.com/sre-triggers/steps-python"
IMAGE_GO = "registry.example.com/sre-triggers/triggers-go"
DCS = ("us1", "eu1", "ap1")


class Builder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.remotes = root / "remotes"
        self.work = root / "work"
        self.when = 1_790_000_000

    def env(self) -> dict[str, str]:
        self.when += 3600
        date = f"@{self.when} +0000"
        return clean_env(
            {
                "GIT_AUTHOR_NAME": "Dana Demo",
                "GIT_AUTHOR_EMAIL": "dana@example.com",
                "GIT_COMMITTER_NAME": "Dana Demo",
                "GIT_COMMITTER_EMAIL": "dana@example.com",
                "GIT_AUTHOR_DATE": date,
                "GIT_COMMITTER_DATE": date,
            }
        )

    def g(self, cwd: Path, *args: str) -> str:
        p = subprocess.run(
            ("git", *args), cwd=cwd, env=self.env(), capture_output=True, text=True, check=False
        )
        if p.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {p.stderr.strip()}")
        return p.stdout.strip()

    def write(self, repo: Path, files: dict[str, str]) -> None:
        for name, text in files.items():
            path = repo / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            if name.endswith(".sh"):
                path.chmod(0o755)

    def commit(self, repo: Path, message: str, files: dict[str, str]) -> None:
        self.write(repo, files)
        self.g(repo, "add", "-A")
        self.g(repo, "commit", "-q", "-m", message)

    def new_repo(self, name: str) -> Path:
        bare = self.remotes / f"{name}.git"
        bare.mkdir(parents=True)
        self.g(bare, "init", "-q", "--bare", "--initial-branch=master")
        clone = self.work / name
        self.g(self.work, "clone", "-q", str(bare), str(clone))
        self.g(clone, "config", "user.name", "Dana Demo")
        self.g(clone, "config", "user.email", "dana@example.com")
        return clone


def prodfix_toml(kind: str, image: str, test: str) -> str:
    return f"""kind = "{kind}"
mainline = "master"
delivery = "delivery*"

[test]
command = {json.dumps(test)}

[forge]
type = "git"
approvals = 1

[build]
type = "command"
command = "sh ci/build.sh"

[deploy]
repo = "../deployment-infra"
path = "apps/sre-triggers/{{dc}}"
dcs = ["us1", "eu1", "ap1"]
image = "{image}"
target = "master"
"""


BUILD_SH = """#!/bin/sh
# The demo's delivery build: a real build would push an image; it prints the tag last.
set -e
echo "building $PRODFIX_DELIVERY at $PRODFIX_SHA" >&2
echo "${PRODFIX_DELIVERY}-${PRODFIX_BUILD_NUMBER}"
"""


TEST_PARSER = """import unittest

from steps.parser import parse


class ParseTest(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(parse("a = 1"), ("a", "1"))
"""


def steps_python(b: Builder) -> Path:
    r = b.new_repo("steps-python")
    # unittest, not pytest: the standard library's runner is there in every install of prodfix
    # (pip, pipx, uv tool), with or without development extras; pytest runs these tests too.
    test = f"{shlex.quote(sys.executable)} -m unittest -v"
    b.commit(
        r,
        "steps: parser and tests",
        {
            "pyproject.toml": '[project]\nname = "steps"\nversion = "1.0"\n',
            "steps/__init__.py": "",
            "steps/parser.py": 'def parse(line):\n    key, _, value = line.partition("=")\n'
            "    return key.strip(), value.strip()\n",
            "tests/__init__.py": "",
            "tests/test_parser.py": TEST_PARSER,
            ".prodfix.toml": prodfix_toml("python", IMAGE_PY, test),
            "ci/build.sh": BUILD_SH,
        },
    )
    b.g(r, "push", "-q", "origin", "master")
    b.g(r, "branch", "delivery-2026.10")
    b.commit(r, "steps: retry step", {"steps/retry.py": "ATTEMPTS = 3\n"})
    b.g(r, "branch", "delivery-2026.11")
    b.commit(r, "steps: new scheduler (unreleased)", {"steps/scheduler.py": "INTERVAL = 5\n"})
    b.g(r, "push", "-q", "origin", "master", "delivery-2026.10", "delivery-2026.11")
    b.g(r, "switch", "-q", "delivery-2026.10")
    b.commit(r, "steps: hotfix on the October train", {"steps/retry_legacy.py": "ATTEMPTS = 2\n"})
    b.g(r, "push", "-q", "origin", "delivery-2026.10")
    b.g(r, "switch", "-q", "master")
    return r


def triggers_go(b: Builder) -> Path:
    r = b.new_repo("triggers-go")
    b.commit(
        r,
        "triggers: first version",
        {
            "go.mod": "module example.com/triggers\n\ngo 1.21\n",
            "triggers.go": "package triggers\n\n// Due reports whether a trigger fires.\n"
            "func Due(now, at int) bool {\n\treturn now > at\n}\n",
            "test/triggers_test.go": 'package test\n\nimport (\n\t"testing"\n\n'
            '\ttriggers "example.com/triggers"\n)\n\n'
            "func TestDue(t *testing.T) {\n\tif !triggers.Due(2, 1) {\n"
            '\t\tt.Fatal("2 > 1")\n\t}\n}\n',
            ".prodfix.toml": prodfix_toml("go", IMAGE_GO, "go test -v ./test/triggers_test.go"),
            "ci/build.sh": BUILD_SH,
        },
    )
    b.g(r, "branch", "delivery")
    b.commit(r, "triggers: cron syntax (unreleased)", {"cron.go": "package triggers\n"})
    b.g(r, "push", "-q", "origin", "master", "delivery")
    return r


def kustomization(dc: str) -> str:
    return f"""# sre-triggers in {dc}: Argo CD syncs this folder.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
images:
  - name: {IMAGE_PY}
    newTag: "2026.11.0"  # steps-python
  - name: {IMAGE_GO}
    newTag: "2026.11.0"  # triggers-go
"""


def deployment(dc: str) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: sre-triggers
  labels:
    dc: {dc}
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: steps
          image: {IMAGE_PY}:2026.11.0  # pinned per DC
        - name: triggers
          image: "{IMAGE_GO}:2026.11.0"
"""


def deployment_infra(b: Builder) -> Path:
    r = b.new_repo("deployment-infra")
    files = {"README.md": "GitOps: Argo CD deploys master.\n"}
    for dc in DCS:
        files[f"apps/sre-triggers/{dc}/kustomization.yaml"] = kustomization(dc)
        files[f"apps/sre-triggers/{dc}/deployment.yaml"] = deployment(dc)
    files[".prodfix.toml"] = '[forge]\ntype = "git"\napprovals = 1\n'
    b.commit(r, "sre-triggers in us1, eu1, ap1", files)
    b.g(r, "push", "-q", "origin", "master")
    return r


def build(root: Path) -> dict[str, Path]:
    b = Builder(root)
    b.work.mkdir(parents=True, exist_ok=True)
    repos = {
        "steps-python": steps_python(b),
        "triggers-go": triggers_go(b),
        "deployment-infra": deployment_infra(b),
    }
    (root / "state").mkdir(exist_ok=True, mode=0o700)
    os.environ.setdefault("PRODFIX_HOME", str(root / "state"))
    return repos
