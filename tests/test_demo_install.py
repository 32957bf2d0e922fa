"""`pip install prodfix && prodfix demo`, from a plain install: the suite's one demo run.

A wheel of this checkout is built once and installed without extras into a fresh virtual
environment (dependencies from the configured index, offline here); `prodfix demo --dir D` runs
there: no pytest, no dev extras, exit 0. What it leaves is then checked three ways — the final
state of every remote and every fix done (tests/demo_state.py; the Python flow went through a
SIGKILL and `prodfix continue` on the way), Go's test step run for real with `go test`, and D
served by `prodfix serve` (tests/serve/demo_served.py) — the demo being among the slowest
things the suite does.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.demo_state import assert_all_done, assert_final_state
from tests.serve.demo_served import assert_the_demo_served

ROOT = Path(__file__).resolve().parents[1]


def _run(*argv: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    p = subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert p.returncode == 0, f"{argv} exited {p.returncode}:\n{p.stdout}\n{p.stderr}"
    return p.stdout + p.stderr


def _has_backend() -> bool:
    """setuptools as pyproject.toml's [build-system] asks for it, in this Python."""
    (want,) = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    name, _, least = want.partition(">=")
    try:
        found = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return int(found.split(".")[0]) >= int(least)


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of the working tree as it is (uncommitted changes included), built once."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "bin", src / "bin")  # the `prodfix` script
    shutil.copytree(
        ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    out = tmp_path_factory.mktemp("wheel")
    # With the build backend installed here (the dev extra has it), no isolated build
    # environment is made and filled for it: the same wheel, half the time.
    isolation = ["--no-build-isolation"] if _has_backend() else []
    log = _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *isolation, "-w", out, src)
    # pyproject.toml in the form the backend will keep reading: no deprecation warnings (the
    # license as a TOML table was one, due to stop building in 2027)
    assert "Warning" not in log and "deprecated" not in log, log
    (found,) = out.glob("prodfix-*.whl")
    info = "-".join(found.name.split("-")[:2]) + ".dist-info"  # prodfix-<version>.dist-info
    with zipfile.ZipFile(found) as whl:
        meta = whl.read(f"{info}/METADATA").decode()
        licence = whl.read(f"{info}/licenses/LICENSE")
    assert "License-Expression: Apache-2.0\n" in meta and "License-File: LICENSE\n" in meta
    assert licence == (ROOT / "LICENSE").read_bytes()
    return found


@pytest.mark.slow
def test_demo_runs_from_a_plain_install_through_a_crash_and_is_served(
    wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With `go` installed the Go flow's test step runs `go test`; with CI set, a missing `go`
    # fails here instead of being skipped, so CI always exercises the Go path.
    go = shutil.which("go") is not None
    if not go and os.environ.get("CI"):
        pytest.fail("`go` is not installed but CI is set: .ci/run installs golang-go")
    venv = tmp_path / "venv"
    # --without-pip, then this pip targets it: the same plain install, seconds faster. No
    # byte-compiling of every installed module up front (pip only warns when that fails): the
    # demo's processes compile what they import, once.
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    py = venv / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", py, "install", "-q", "--no-compile", wheel)
    no_pytest = subprocess.run([py, "-c", "import pytest"], capture_output=True, check=False)
    assert no_pytest.returncode == 1, "the fresh environment must not have pytest"
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "HOME": os.environ["HOME"],
        "LANG": "C.UTF-8",
        **({"CI": os.environ["CI"]} if "CI" in os.environ else {}),
    }
    root = tmp_path / "demo"
    text = _run(venv / "bin" / "prodfix", "demo", "--dir", root, env=env)
    assert "Ran 1 test" in text and "tests passed for" in text
    assert "No module named" not in text and "bug in prodfix" not in text
    assert "demo finished in" in text
    # the crash: killed right after the merge, refused while suspended, continued
    before, killed, after = text.partition("merged PR #1 as ")[2].partition(
        "(exit -9, as expected)"
    )
    assert killed and before.count("\n") == 1, "the SIGKILL right after the merge"
    refused, _, after = after.partition("$ cd work/steps-python && prodfix continue\n")
    assert "finish it with `prodfix continue`" in refused and "(exit 2, as expected)" in refused
    assert after.startswith("  finished the interrupted step")

    # every remote as an uninterrupted run leaves it; every fix done
    assert sorted(p.name for p in (root / "remotes").iterdir()) == [
        "deployment-infra.git",
        "steps-python-copy.git",
        "steps-python.git",
        "triggers-go.git",
    ]
    assert (root / "state" / "prodfix.db").exists()
    assert_final_state(root, synced=True)
    assert_all_done(root)

    # Go's test step ran `go test`, offline and out of HOME: the build cache is the sandbox's
    if go:
        assert "--- PASS: TestDue" in text
        assert "go is not installed" not in text
        assert any((root / "state" / "go-build").iterdir())
        home = Path(os.environ["HOME"])
        assert not (home / ".cache" / "go-build").exists() and not (home / "go").exists()
    else:
        assert "go is not installed here: the Go test step is recorded as skipped" in text

    # `prodfix serve` (this environment's: serve is an extra) of what the demo left
    assert_the_demo_served(root, tmp_path / "serve", monkeypatch)
