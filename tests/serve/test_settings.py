"""prodfix-serve.toml validation, the flags on top, and the checks that need the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodfix.errors import Exit, ProdfixError
from prodfix.serve import settings
from prodfix.serve.settings import RepoSpec


def write(tmp: Path, text: str) -> Path:
    p = tmp / "prodfix-serve.toml"
    p.write_text(text)
    return p


def refusal(tmp: Path, text: str) -> ProdfixError:
    with pytest.raises(ProdfixError) as info:
        settings.load(write(tmp, text))
    assert info.value.code == Exit.USAGE
    return info.value


def test_defaults_and_flags(tmp_path: Path) -> None:
    s = settings.load(None, repos=("/srv/a.git",), port=9000)
    assert (s.host, s.port, s.database, s.workers, s.poll_seconds) == (
        "127.0.0.1", 9000, "sqlite", 2, 30,
    )  # fmt: skip
    assert s.repos == (RepoSpec("/srv/a.git"),) and s.github is None


def test_a_full_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "app.pem"
    key.write_text("k")
    key.chmod(0o600)
    monkeypatch.setenv("MY_SECRET", "s3cret")
    s = settings.load(
        write(
            tmp_path,
            '[server]\nhost = "0.0.0.0"\nworkers = 4\n'
            f'[github]\napp-id = 7\nprivate-key-file = "{key}"\nwebhook-secret-env = "MY_SECRET"\n'
            'api-url = "https://ghe.example.com/api/v3/"\n'
            "[policy]\nauto-merge-backmerge = true\n"
            '[[repos]]\nurl = "team/a"\n[[repos]]\nurl = "/m/b.git"\ngithub-repo = "team/b"\n',
        ),
        host="127.0.0.1",
    )
    assert s.host == "127.0.0.1" and s.workers == 4 and s.auto_merge_backmerge
    assert s.github is not None and s.github.api_url == "https://ghe.example.com/api/v3"
    assert s.github.webhook_secret() == b"s3cret"
    assert s.repos == (RepoSpec("team/a"), RepoSpec("/m/b.git", "team/b"))


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[server]\nprot = 1\n", "unknown key 'prot' in [server] (did you mean 'port'?)"),
        ("[sever]\n", "unknown table 'sever' (did you mean 'server'?)"),
        ('[server]\nport = "80"\n', "[server] port must be an integer"),
        ("[server]\nworkers = -1\n", "[server] workers is out of range"),
        ("[server]\nport = 70000\n", "[server] port is out of range"),
        ("[policy]\nauto-merge-backmerge = 1\n", "must be true or false"),
        ("[[repos]]\nname = 'x'\n", "unknown key 'name' in [repos]"),
        ("[github]\napp-id = 1\n", "[github] needs private-key-file"),
        ("[server\n", "invalid TOML"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, said: str) -> None:
    assert said in refusal(tmp_path, text).message


def test_plain_http_api_is_refused_except_loopback(tmp_path: Path) -> None:
    e = refusal(
        tmp_path,
        '[github]\napp-id = 1\nprivate-key-file = "/k"\napi-url = "http://ghe.example.com/api/v3"\n',
    )
    assert "must use https://" in e.message


def test_the_private_key_must_be_0600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODFIX_WEBHOOK_SECRET", "s")
    key = tmp_path / "app.pem"
    key.write_text("k")
    key.chmod(0o640)
    e = refusal(tmp_path, f'[github]\napp-id = 1\nprivate-key-file = "{key}"\n')
    assert "readable by others (mode 0640)" in e.message and e.hint == f"chmod 600 {key}"
    key.chmod(0o600)
    assert settings.load(
        write(tmp_path, f'[github]\napp-id = 1\nprivate-key-file = "{key}"\n')
    ).github


def test_the_webhook_secret_variable_must_be_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRODFIX_WEBHOOK_SECRET", raising=False)
    key = tmp_path / "app.pem"
    key.write_text("k")
    key.chmod(0o600)
    e = refusal(tmp_path, f'[github]\napp-id = 1\nprivate-key-file = "{key}"\n')
    assert "PRODFIX_WEBHOOK_SECRET is not set" in e.message


def test_nothing_to_serve_is_a_usage_error() -> None:
    with pytest.raises(ProdfixError, match="nothing to serve"):
        settings.load(None)
