"""Who runs prodfix: read from git once, one message when git does not know."""

from __future__ import annotations

import pytest

from prodfix.adapters import identity, records
from prodfix.adapters.git import Repo
from prodfix.errors import ProdfixError
from tests.gitfix import Sandbox


def test_the_committer_git_would_record(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.init_origin()
    repo = Repo(sandbox.clone())
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Rui Reviewer")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "rui@example.com")
    assert identity.of(repo, "why") == ("Rui Reviewer", "rui@example.com")
    assert records.identity(repo) == ("Rui Reviewer", "rui@example.com")
    env = identity.commit_env("Rui Reviewer <rui@example.com>")
    assert env == {
        "GIT_AUTHOR_NAME": "Rui Reviewer",
        "GIT_AUTHOR_EMAIL": "rui@example.com",
        "GIT_COMMITTER_NAME": "Rui Reviewer",
        "GIT_COMMITTER_EMAIL": "rui@example.com",
    }
    assert identity.email_of("Rui Reviewer <Rui@Example.com>") == "rui@example.com"


def test_no_identity_is_an_error_that_says_what_to_do(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.init_origin()
    w = sandbox.clone()
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var, raising=False)
    repo = Repo(w)
    # No guessing from the host name: only what the user configured counts.
    repo.git("config", "user.useConfigOnly", "true")
    with pytest.raises(ProdfixError) as exc:
        records.identity(repo)
    assert exc.value.message == (
        "git does not know who you are, and prodfix records who started, tested and built a fix"
    )
    assert exc.value.hint.startswith('git config --global user.name "Your Name"')
