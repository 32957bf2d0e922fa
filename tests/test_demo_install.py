"""`pip install prodfix && prodfix demo` from a plain install, and Go's test step for real.

The install test builds a wheel of this checkout once, installs it without extras into a
fresh virtual environment (dependencies from the configured index, offline here) and runs
`prodfix demo --dir D` there: no pytest, no dev extras, exit 0. Then D is served
(tests/serve/demo_served.py): one demo run for both, the demo being among the slowest things
the suite does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from prodfix.demo import script
from prodfix.demo.sandbox import build
from prodfix.demo.script import Driver
from prodfix.output import Reporter
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


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel of the working tree as it is (uncommitted changes included), built once."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "bin", src / "bin")  # the `prodfix` script
    shutil.copytree(
        ROOT / "src", src / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    out = tmp_path_factory.mktemp("wheel")
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, src)
    (found,) = out.glob("prodfix-*.whl")
    return found


@pytest.mark.slow
def test_demo_runs_from_a_plain_install_without_extras_and_is_served(
    wheel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    text = _run(venv / "bin" / "prodfix", "demo", "--dir", tmp_path / "demo", env=env)
    assert "Ran 1 test" in text and "tests passed for" in text
    assert "No module named" not in text and "bug in prodfix" not in text
    assert "demo finished in" in text
    # `prodfix serve` (this environment's: serve is an extra) of what the demo left
    assert_the_demo_served(tmp_path / "demo", tmp_path / "serve", monkeypatch)


@pytest.mark.slow
def test_the_demo_runs_go_test_for_real(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With `go` installed the Go flow's test step runs `go test`; with CI set, a missing `go`
    fails here instead of being skipped, so CI always exercises the Go path."""
    if shutil.which("go") is None:
        if os.environ.get("CI"):
            pytest.fail("`go` is not installed but CI is set: .ci/run installs golang-go")
        pytest.skip("go is not installed (CI installs it)")
    root = tmp_path / "demo"
    build(root)
    script.go_flow(Driver(root, Reporter()))
    shown = capsys.readouterr().out
    assert "--- PASS: TestDue" in shown and "tests passed for" in shown
    assert "skipped" not in shown
    # offline and out of HOME: the build cache is the sandbox's
    assert any((root / "state" / "go-build").iterdir())
    home = Path(os.environ["HOME"])
    assert not (home / ".cache" / "go-build").exists() and not (home / "go").exists()
