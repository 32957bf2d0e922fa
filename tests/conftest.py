from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gitfix import Sandbox


def pytest_configure(config: pytest.Config) -> None:
    """Fewer cyclic garbage collections in the test processes: a young collection waits for
    20,000 new container objects instead of 700. Tests build large short-lived structures (YAML
    node trees, Hypothesis data, JSON documents); at the defaults the collector ran thousands
    of times per worker and took seconds re-scanning what lives for the whole session."""
    gc.set_threshold(20_000, 10, 10)


def pytest_collection_finish(session: pytest.Session) -> None:
    """What is loaded once collected (pytest, prodfix, the test modules and their items) lives
    as long as the session: frozen, no collection scans it again."""
    gc.collect()
    gc.freeze()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked slow first, each group in the order pytest-randomly gave (a seed still
    replays an order): with several workers the long tests then run side by side from the start,
    instead of one of them running alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """HOME, XDG dirs and PRODFIX_HOME in the test's temp dir; no user or system git config;
    no credentials; no real waiting between HTTP retries (a test that cares sets a policy)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".state"))
    monkeypatch.setenv("PRODFIX_HOME", str(tmp_path / "prodfix-home"))
    monkeypatch.setenv("PRODFIX_RETRY_BACKOFF", "0")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Ada Tester")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "ada@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Ada Tester")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "ada@example.com")
    for var in (
        "GH_TOKEN",
        "GITHUB_TOKEN",
        "GH_ENTERPRISE_TOKEN",
        "GITHUB_ENTERPRISE_TOKEN",
        "JENKINS_USER",
        "JENKINS_API_TOKEN",
        "ARGOCD_AUTH_TOKEN",
        "PRODFIX_GIT_TIMEOUT",
        "PRODFIX_LOCK_WAIT",
    ):
        monkeypatch.delenv(var, raising=False)
    # No automatic housekeeping: after every fetch, commit and push git would start a
    # `maintenance run --auto` or `gc --auto` process that finds nothing to do in repositories
    # this small (hundreds of processes per scenario test, none of them under test).
    (home / ".gitconfig").write_text(
        '[init]\n\tdefaultBranch = master\n[protocol "file"]\n\tallow = always\n'
        "[maintenance]\n\tauto = false\n[gc]\n\tauto = 0\n[receive]\n\tautogc = false\n"
    )
    assert os.environ["HOME"] == str(home)
    yield


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path / "sb")
