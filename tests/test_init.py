from __future__ import annotations

import tomllib

from tests.cli import prodfix
from tests.gitfix import Sandbox
from tests.repos import service_repo


def test_init_detects_python_and_embedded_forge(sandbox: Sandbox) -> None:
    work = service_repo(sandbox)
    r = prodfix(work, "init")
    assert r.code == 0, r.err
    doc = tomllib.loads((work / ".prodfix.toml").read_text())
    assert doc["kind"] == "python" and doc["delivery"] == "delivery*"
    assert doc["forge"] == {"type": "git", "approvals": 1}
    again = prodfix(work, "init")
    assert again.code == 2 and "--force" in again.err
    assert prodfix(work, "init", "--force", "--kind", "go").code == 0
    assert tomllib.loads((work / ".prodfix.toml").read_text())["kind"] == "go"


def test_init_go_module_and_github_enterprise_remote(sandbox: Sandbox) -> None:
    work = service_repo(sandbox)
    (work / "go.mod").write_text("module x\n")
    sandbox.g(work, "remote", "set-url", "--push", "origin", str(sandbox.origin))
    sandbox.g(work, "remote", "add", "upstream", "git@github.acme.corp:team/steps-python.git")
    sandbox.g(work, "remote", "rename", "origin", "local")
    sandbox.g(work, "remote", "rename", "upstream", "origin")
    r = prodfix(work, "init", "--dry-run")
    assert r.code == 0, r.err  # the host is unreachable: a warning, the file from the URL
    doc = tomllib.loads(r.out)
    assert doc["kind"] == "go"
    assert doc["forge"] == {
        "type": "github",
        "api-url": "https://github.acme.corp/api/v3",
        "repo": "team/steps-python",
    }
    assert not (work / ".prodfix.toml").exists()
