from __future__ import annotations

from pathlib import Path

import pytest

from prodfix.config import load, parse
from prodfix.errors import ProdfixError
from tests.cli import prodfix
from tests.gitfix import Sandbox
from tests.repos import service_repo


def test_no_file_means_workflow_defaults(tmp_path: Path) -> None:
    cfg = load(tmp_path)
    assert cfg.mainline == "master" and cfg.delivery == "delivery*"
    assert cfg.test_command == "python -m pytest" and cfg.forge.type == "git"
    (tmp_path / "go.mod").write_text("module x\n")
    assert load(tmp_path).test_command == "go test -v ./test/*.go"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mainlin = 'x'", "unknown key 'mainlin' (did you mean 'mainline'?)"),
        (
            "max-backmerge-days = 'seven'",
            "key 'max-backmerge-days' must be an integer, not a string",
        ),
        (
            "max-backmerge-days = true",
            "key 'max-backmerge-days' must be an integer, not true or false",
        ),
        ("delivery = 'delivery[0-9'", "key 'delivery' is not a valid glob"),
        ("fix-branch = 'fix/{nme}'", "key 'fix-branch' uses {nme}"),
        ("fix-branch = 'fix/static'", "key 'fix-branch' must contain {name}"),
        ("[forge]\ntype = 'gitlab'", "key 'forge.type' must be one of git, github"),
        ("[build]\nurl = 'http://jenkins.example.com'", "key 'build.url' must use https://"),
        ("[deploy]\nwaves = [1, 2]", "key 'deploy.waves' must be a list of lists"),
        ("kind = ", "invalid TOML"),
    ],
)
def test_invalid_config_names_file_and_key(text: str, message: str) -> None:
    with pytest.raises(ProdfixError) as exc:
        parse(text, "/r/.prodfix.toml")
    assert exc.value.code == 2
    assert exc.value.message.startswith("/r/.prodfix.toml")
    assert message in exc.value.message


def test_loopback_http_is_allowed() -> None:
    assert (
        parse("[build]\nurl = 'http://127.0.0.1:8080'", "f")["build.url"] == "http://127.0.0.1:8080"
    )


def test_bad_config_exits_2_without_traceback(sandbox: Sandbox) -> None:
    work = service_repo(sandbox)
    (work / ".prodfix.toml").write_text("delivry = 'x'\n")
    r = prodfix(work, "start", "x")
    assert r.code == 2
    assert "unknown key 'delivry' (did you mean 'delivery'?)" in r.err
    assert "Traceback" not in r.err


def test_mainline_config_used_when_checkout_lacks_it(sandbox: Sandbox) -> None:
    work = service_repo(sandbox)
    seed = sandbox.root / "seed"
    sandbox.checkout(seed, "master")
    sandbox.commit(seed, "adopt prodfix", {".prodfix.toml": "fix-branch = 'hotfix/{name}'\n"})
    sandbox.push(seed, "master")
    sandbox.g(work, "fetch", "-q", "origin")  # the clone knows origin/master's copy
    r = prodfix(work, "start", "x")
    assert r.code == 0, r.err
    assert "using the one on origin/master" in r.err
    assert sandbox.g(work, "symbolic-ref", "--short", "HEAD") == "hotfix/x"
    sandbox.checkout(work, "master")
    assert "using the one on" not in prodfix(work, "start", "y").err  # said once


def test_every_key_has_its_typed_attribute_and_back() -> None:
    """The typed sections are built from SCHEMA: no key without an attribute, no attribute
    without a key, and every default the same on both sides."""
    from prodfix.config import SCHEMA, Config
    from prodfix.config.load import parse as parse_values

    cfg = Config.from_values(parse_values("", "x"))
    top = {"fix-branch": "fix_branch_template", "deploy.waves": "deploy.waves_"}
    seen: set[str] = set()
    for key in SCHEMA:
        path = top.get(key.name, key.name.replace("-", "_"))
        obj: object = cfg
        for part in path.split("."):
            assert hasattr(obj, part), f"{key.name} has no attribute {path}"
            obj = getattr(obj, part)
        expected = tuple(key.default) if isinstance(key.default, list) else key.default
        if key.name != "kind":
            assert obj == expected, key.name
        seen.add(path)

    def attrs(kind: type, prefix: str) -> set[str]:
        names: set[str] = set()
        defaults: dict[str, object] = kind._field_defaults  # type: ignore[attr-defined]
        for name in kind._fields:  # type: ignore[attr-defined]
            if name in ("source", "note"):
                continue
            default = defaults.get(name)
            if hasattr(type(default), "_fields"):  # a section: its keys are dotted
                names |= attrs(type(default), f"{prefix}{name}.")
            else:
                names.add(prefix + name)
        return names

    assert attrs(Config, "") == seen


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("delivery = '*'", "the delivery pattern '*' matches the mainline 'master'"),
        ("mainline = 'delivery-main'", "matches the mainline 'delivery-main'"),
        ("fix-branch = 'delivery-{name}'", "fix branches ('delivery-{name}') would match"),
        (
            "[check]\nallow-merges = ['xyz']",
            "key 'check.allow-merges' must list commit SHAs",
        ),
        (
            "[notify]\nslack-webhook-url-env = 'https://hooks.slack.com/x'",
            "must name an environment variable",
        ),
    ],
)
def test_config_that_defeats_the_rules_is_refused(text: str, message: str) -> None:
    with pytest.raises(ProdfixError) as exc:
        parse(text, "/r/.prodfix.toml")
    assert exc.value.code == 2
    assert message in exc.value.message


def test_delivery_job_defaults_to_fix_job() -> None:
    from prodfix.config import Config

    values = parse("[build]\ntype = 'jenkins'\nurl = 'https://j.example.com'\nfix-job = 'svc'", "f")
    cfg = Config.from_values(values)
    assert cfg.build.delivery_job is None and cfg.build.delivery_job_or_fix_job == "svc"


def test_fix_name_inverts_the_template() -> None:
    from prodfix.config import Config

    cfg = Config.from_values(parse("fix-branch = 'hotfix/{name}-pf'", "f"))
    assert cfg.fix_branch("npe") == "hotfix/npe-pf"
    assert cfg.fix_name("hotfix/npe-pf") == "npe"
    assert cfg.fix_name("hotfix/a/b-pf") == "a/b"
    assert cfg.fix_name("fix/npe") is None and cfg.fix_name("hotfix/-pf") is None
