"""`.prodfix.toml`: schema as data, defaults from WORKFLOW.md, validation on load.

The schema table below is the single source of truth: the loader validates against it and
`prodfix config-reference` (and the README section) are generated from it.
"""

from __future__ import annotations

import fnmatch
import re
import string
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prodfix.errors import ProdfixError

FILENAME = ".prodfix.toml"
KINDS = ("python", "go")
TEST_DEFAULTS = {"python": "python -m pytest", "go": "go test -v ./test/*.go"}


@dataclass(frozen=True)
class Key:
    name: str  # dotted: "deploy.argocd.url"
    types: tuple[type, ...]
    default: Any
    doc: str
    check: Callable[[Any], str | None] | None = None  # returns an error text, or None


def _one_of(*choices: str) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        return None if v in choices else f"must be one of {', '.join(choices)}"

    return check


def _glob(v: Any) -> str | None:
    if not v.strip():
        return "must not be empty"
    if v.count("[") != v.count("]"):
        return "is not a valid glob (unbalanced [ ])"
    try:
        re.compile(fnmatch.translate(v))
    except re.error as exc:  # pragma: no cover - fnmatch escapes almost everything
        return f"is not a valid glob ({exc})"
    return None


def _template(*fields: str, required: tuple[str, ...] = ()) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        try:
            names = [f for _, f, _, _ in string.Formatter().parse(v) if f is not None]
        except ValueError as exc:
            return f"is not a valid template ({exc})"
        for n in names:
            if n not in fields:
                return f"uses {{{n}}}; allowed: {', '.join('{' + f + '}' for f in fields)}"
        for r in required:
            if r not in names:
                return f"must contain {{{r}}}"
        return None

    return check


def _service_url(v: Any) -> str | None:
    # CLI.md: https only, except loopback, so tokens never travel in clear text to another host.
    m = re.match(r"^(https?)://(\[[^\]]+\]|[^/:]+)", v)
    if not m:
        return "must be an http(s) URL"
    if m.group(1) == "http" and m.group(2) not in ("127.0.0.1", "localhost", "[::1]"):
        return "must use https:// (http:// is accepted only for 127.0.0.1, ::1 and localhost)"
    return None


def _positive(v: Any) -> str | None:
    return None if v >= 0 else "must be 0 or more"


def _str_list(v: Any) -> str | None:
    return None if all(isinstance(x, str) and x for x in v) else "must be a list of names"


def _shas(v: Any) -> str | None:
    bad = [x for x in v if not (isinstance(x, str) and re.fullmatch(r"[0-9a-fA-F]{7,64}", x))]
    if bad:
        return f"must list commit SHAs (7 to 64 hex digits), not {bad[0]!r}"
    return None


def _waves(v: Any) -> str | None:
    ok = all(isinstance(w, list) and all(isinstance(x, str) for x in w) for w in v)
    return None if ok else 'must be a list of lists of DC names, e.g. [["us1"], ["eu1", "ap1"]]'


SCHEMA: tuple[Key, ...] = (
    Key(
        "kind",
        (str,),
        None,
        "python | go; detected from pyproject.toml/setup.py or go.mod",
        _one_of(*KINDS),
    ),
    Key("mainline", (str,), "master", "the mainline branch"),
    Key("delivery", (str,), "delivery*", "glob of the delivery branches", _glob),
    Key(
        "fix-branch",
        (str,),
        "fix/{name}",
        "template of fix branch names",
        _template("name", required=("name",)),
    ),
    Key("remote", (str,), "origin", "the remote prodfix fetches from and pushes to"),
    Key(
        "max-backmerge-days",
        (int,),
        7,
        "days a delivery commit may wait for its back-merge before `check` says error",
        _positive,
    ),
    Key(
        "check.allow-merges",
        (list,),
        [],
        "mainline → delivery merges the team accepted after the fact (SHAs, ≥ 7 hex): "
        "`check` reports them as info",
        _shas,
    ),
    Key(
        "test.command",
        (str,),
        None,
        'test command; python: "python -m pytest", go: "go test -v ./test/*.go"',
    ),
    Key(
        "forge.type",
        (str,),
        "git",
        "github | git (embedded: PRs kept in the remote itself)",
        _one_of("git", "github"),
    ),
    Key("forge.approvals", (int,), 1, "approvals a PR needs before prodfix merges it", _positive),
    Key(
        "forge.api-url", (str,), None, "API base; default derived from the remote URL", _service_url
    ),
    Key("forge.repo", (str,), None, "owner/name when the remote URL does not say it"),
    Key(
        "forge.insecure-skip-tls-verify",
        (bool,),
        False,
        "disable TLS verification (prints a warning on every use)",
    ),
    Key(
        "build.type",
        (str,),
        "none",
        "jenkins | command | none",
        _one_of("jenkins", "command", "none"),
    ),
    Key("build.url", (str,), None, "Jenkins base URL", _service_url),
    Key("build.fix-job", (str,), None, "Jenkins job whose to-be-built branches get the fix branch"),
    Key("build.delivery-job", (str,), None, "Jenkins job that builds the delivery branch"),
    Key(
        "build.command",
        (str,),
        None,
        "type = command: a local build run in a clean worktree; prints the image tag last",
    ),
    Key(
        "build.image-tag",
        (str,),
        "{delivery}-{build}",
        "where the image tag comes from: param:NAME, description, artifact:PATH, or a template "
        "with {delivery} {build} {sha} {short}",
    ),
    Key(
        "build.insecure-skip-tls-verify",
        (bool,),
        False,
        "disable TLS verification (prints a warning on every use)",
    ),
    Key("deploy.repo", (str,), None, "path or URL of the GitOps repository"),
    Key(
        "deploy.path",
        (str,),
        "apps/sre-triggers/{dc}",
        "folder of one data center",
        _template("dc", required=("dc",)),
    ),
    Key("deploy.dcs", (list,), ["us1", "eu1", "ap1"], "data centers, in order", _str_list),
    Key("deploy.waves", (list,), None, 'optional: e.g. [["us1"], ["eu1", "ap1"]]', _waves),
    Key("deploy.image", (str,), None, "the image repository this service publishes"),
    Key("deploy.target", (str,), "master", "branch of the GitOps repository Argo CD deploys"),
    Key("deploy.argocd.url", (str,), None, "Argo CD URL (optional: wait for sync)", _service_url),
    Key(
        "deploy.argocd.app",
        (str,),
        "sre-triggers-{dc}",
        "Argo CD application of a DC",
        _template("dc"),
    ),
    Key(
        "deploy.argocd.insecure-skip-tls-verify",
        (bool,),
        False,
        "disable TLS verification (prints a warning on every use)",
    ),
)
_BY_NAME = {k.name: k for k in SCHEMA}
_TABLES = {"check", "test", "forge", "build", "deploy", "deploy.argocd"}


@dataclass(frozen=True)
class Config:
    values: Mapping[str, Any]
    source: Path | None = None  # None: defaults only
    note: str = ""  # said once, e.g. "read from origin/master"
    explicit: frozenset[str] = field(default_factory=frozenset)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    @property
    def kind(self) -> str:
        return str(self.values["kind"])

    @property
    def test_command(self) -> str:
        cmd = self.values["test.command"]
        return str(cmd) if cmd else TEST_DEFAULTS[self.kind]

    def fix_branch(self, name: str) -> str:
        return str(self.values["fix-branch"]).format(name=name)

    def is_delivery(self, branch: str) -> bool:
        return fnmatch.fnmatchcase(branch, str(self.values["delivery"]))

    @property
    def waves(self) -> list[list[str]]:
        w = self.values["deploy.waves"]
        return [list(x) for x in w] if w else [list(self.values["deploy.dcs"])]


def _flatten(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for k, v in doc.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and name in _TABLES:
            flat.update(_flatten(v, name + "."))
        else:
            flat[name] = v
    return flat


def parse(text: str, source: str, *, detected_kind: str = "python") -> dict[str, Any]:
    """Validate a TOML document; return the flat values, every key filled."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProdfixError(
            f"{source}: invalid TOML: {exc}", hint=f"fix the syntax of {source}"
        ) from exc
    values: dict[str, Any] = {k.name: k.default for k in SCHEMA}
    values["kind"] = detected_kind
    for name, v in _flatten(doc).items():
        key = _BY_NAME.get(name)
        if key is None:
            import difflib  # only for this message: not at start-up

            close = difflib.get_close_matches(name, [*_BY_NAME, *_TABLES], n=1, cutoff=0.6)
            did = f" (did you mean {close[0]!r}?)" if close else ""
            raise ProdfixError(
                f"{source}: unknown key {name!r}{did}",
                hint="see `prodfix init --help` or the configuration reference in the README",
            )
        # bool is an int in Python; a TOML `true` for an int key is a type error.
        if not isinstance(v, key.types) or (isinstance(v, bool) and bool not in key.types):
            want = " or ".join(_TOML_TYPE[t] for t in key.types)
            raise ProdfixError(
                f"{source}: key {name!r} must be {want}, not {_TOML_TYPE.get(type(v), type(v).__name__)}",
                hint=f"default: {key.default!r}" if key.default is not None else key.doc,
            )
        if key.check and (problem := key.check(v)):
            raise ProdfixError(f"{source}: key {name!r} {problem}", hint=key.doc)
        values[name] = v
    return values


_TOML_TYPE: dict[type, str] = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    list: "an array",
    float: "a number",
    dict: "a table",
}


def detect_kind(root: Path) -> str:
    if (root / "go.mod").exists():
        return "go"
    return "python"


def load(root: Path, *, mainline_text: str | None = None, mainline_ref: str = "") -> Config:
    """Load `<root>/.prodfix.toml`; with no file, the mainline's copy (if given); else defaults."""
    path = root / FILENAME
    kind = detect_kind(root)
    if path.exists():
        text = path.read_text(encoding="utf-8")
        values = parse(text, str(path), detected_kind=kind)
        return Config(values, path, explicit=frozenset(_flatten(tomllib.loads(text))))
    if mainline_text is not None:
        values = parse(mainline_text, f"{mainline_ref}:{FILENAME}", detected_kind=kind)
        return Config(
            values,
            None,
            note=f"this checkout has no {FILENAME}; using the one on {mainline_ref}",
            explicit=frozenset(_flatten(tomllib.loads(mainline_text))),
        )
    return Config(parse("", "(defaults)", detected_kind=kind))


def reference_markdown() -> str:
    """The configuration reference, generated from SCHEMA (the README embeds it; a test diffs)."""
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for k in SCHEMA:
        t = " or ".join(_TOML_TYPE[x] for x in k.types).replace("a ", "").replace("an ", "")
        d = "—" if k.default is None else f"`{_toml_value(k.default)}`"
        doc = k.doc.replace("|", "\\|")
        rows.append(f"| `{k.name}` | {t} | {d} | {doc} |")
    return "\n".join(rows) + "\n"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return str(v)
