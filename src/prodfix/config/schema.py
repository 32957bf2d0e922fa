"""The schema of `.prodfix.toml` as data: every key with its types, default, meaning and check.

The loader validates against it, the typed sections (`model.py`) are built from it, and the
README's configuration reference is generated from it (a test diffs the two).
"""

from __future__ import annotations

from _string import formatter_parser  # type: ignore[import-not-found]  # string.Formatter().parse

from prodfix.adapters.forges import FORGES

# Every command validates its configuration, `check` too: no typing or re at run time here
# (prodfix/tuples.py says what they cost at start-up); checks needing re import it themselves.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NamedTuple
else:
    from prodfix.tuples import NamedTuple

KINDS = ("python", "go")
TEST_DEFAULTS = {"python": "python -m pytest", "go": "go test -v ./test/*.go"}


class Key(NamedTuple):
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
    return None  # anything else is a glob: fnmatch escapes every other character


def _template(*fields: str, required: tuple[str, ...] = ()) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        try:
            names = [f for _, f, _, _ in formatter_parser(v) if f is not None]
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


def service_url_problem(v: Any) -> str | None:
    """https only, except loopback: tokens never travel in clear text to another host."""
    import re

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
    import re

    bad = [x for x in v if not (isinstance(x, str) and re.fullmatch(r"[0-9a-fA-F]{7,64}", x))]
    if bad:
        return f"must list commit SHAs (7 to 64 hex digits), not {bad[0]!r}"
    return None


def _waves(v: Any) -> str | None:
    ok = all(isinstance(w, list) and all(isinstance(x, str) for x in w) for w in v)
    return None if ok else 'must be a list of lists of DC names, e.g. [["us1"], ["eu1", "ap1"]]'


def _env_name(v: Any) -> str | None:
    import re

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
        return "must name an environment variable (the URL itself never goes in the file)"
    return None


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
        _one_of(*FORGES),
    ),
    Key("forge.approvals", (int,), 1, "approvals a PR needs before prodfix merges it", _positive),
    Key(
        "forge.api-url",
        (str,),
        None,
        "API base; default derived from the remote URL",
        service_url_problem,
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
    Key("build.url", (str,), None, "Jenkins base URL", service_url_problem),
    Key("build.fix-job", (str,), None, "Jenkins job whose to-be-built branches get the fix branch"),
    Key(
        "build.delivery-job",
        (str,),
        None,
        "Jenkins job that builds the delivery branch; default: fix-job",
    ),
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
    Key(
        "deploy.repo",
        (str,),
        None,
        "path of a clone or of a bare repository, or the URL of the GitOps repository",
    ),
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
    Key(
        "deploy.argocd.url",
        (str,),
        None,
        "Argo CD URL (optional: wait for sync)",
        service_url_problem,
    ),
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
    Key(
        "notify.slack-webhook-url-env",
        (str,),
        None,
        "the environment variable holding a Slack incoming-webhook URL (never the URL)",
        _env_name,
    ),
    Key(
        "notify.teams-webhook-url-env",
        (str,),
        None,
        "the environment variable holding a Teams Workflows webhook URL (never the URL)",
        _env_name,
    ),
    Key(
        "notify.wait-minutes",
        (int,),
        60,
        "tell the channel when a fix has waited on a person this long",
        _positive,
    ),
)
BY_NAME = {k.name: k for k in SCHEMA}
TABLES = frozenset({"check", "test", "forge", "build", "deploy", "deploy.argocd", "notify"})

TOML_TYPE: dict[type, str] = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    list: "an array",
    float: "a number",
    dict: "a table",
}


def reference_markdown() -> str:
    """The configuration reference, generated from SCHEMA (the README embeds it; a test diffs)."""
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for k in SCHEMA:
        t = " or ".join(TOML_TYPE[x] for x in k.types).replace("a ", "").replace("an ", "")
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
