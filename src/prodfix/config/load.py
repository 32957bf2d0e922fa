"""Reading `.prodfix.toml`: validate against the schema, build the typed Config.

A checkout without the file (a delivery branch cut before the team adopted prodfix) reads the
mainline's copy from the remote-tracking branch and says so once per repository.
"""

from __future__ import annotations

import os

from prodfix.config import tomlcache
from prodfix.config.model import Config
from prodfix.config.schema import BY_NAME, SCHEMA, TABLES, TOML_TYPE
from prodfix.errors import ProdfixError
from prodfix.names import fnmatchcase

# Every command loads its configuration, `check` too: no typing or pathlib at run time here
# (prodfix/tuples.py says what they cost at start-up).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path
    from typing import Any

    from prodfix.adapters.git import Repo

FILENAME = ".prodfix.toml"


def _flatten(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for k, v in doc.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict) and name in TABLES:
            flat.update(_flatten(v, name + "."))
        else:
            flat[name] = v
    return flat


def parse(
    text: str, source: str, *, detected_kind: str = "python", cache: str | None = None
) -> dict[str, Any]:
    """Validate a TOML document; return the flat values, every key filled. `cache`: the
    checkout's cache of parsed documents (`tomlcache.cache_file`)."""
    doc = tomlcache.loads(text, source, cache)
    values: dict[str, Any] = {k.name: k.default for k in SCHEMA}
    values["kind"] = detected_kind
    for name, v in _flatten(doc).items():
        key = BY_NAME.get(name)
        if key is None:
            import difflib  # only for this message: not at start-up

            close = difflib.get_close_matches(name, [*BY_NAME, *TABLES], n=1, cutoff=0.6)
            did = f" (did you mean {close[0]!r}?)" if close else ""
            raise ProdfixError(
                f"{source}: unknown key {name!r}{did}",
                hint="see the configuration reference in the README (or docs/configuration.md)",
            )
        # bool is an int in Python; a TOML `true` for an int key is a type error.
        if not isinstance(v, key.types) or (isinstance(v, bool) and bool not in key.types):
            want = " or ".join(TOML_TYPE[t] for t in key.types)
            got = TOML_TYPE.get(type(v), type(v).__name__)
            raise ProdfixError(
                f"{source}: key {name!r} must be {want}, not {got}",
                hint=f"default: {key.default!r}" if key.default is not None else key.doc,
            )
        if key.check and (problem := key.check(v)):
            raise ProdfixError(f"{source}: key {name!r} {problem}", hint=key.doc)
        values[name] = v
    _check_consistency(values, source)
    return values


def _check_consistency(values: Mapping[str, Any], source: str) -> None:
    """Settings that are each valid but together would defeat the rules."""
    mainline, delivery = str(values["mainline"]), str(values["delivery"])
    if fnmatchcase(mainline, delivery):
        raise ProdfixError(
            f"{source}: the delivery pattern {delivery!r} matches the mainline {mainline!r}: "
            "a fix could then start from the mainline",
            hint='make `delivery` match only production branches, e.g. delivery = "delivery*"',
        )
    fix_example = str(values["fix-branch"]).format(name="x")
    if fnmatchcase(fix_example, delivery) or fix_example == mainline:
        raise ProdfixError(
            f"{source}: fix branches ({values['fix-branch']!r}) would match the delivery "
            f"pattern {delivery!r} or the mainline",
            hint='use a fix-branch template of its own, e.g. fix-branch = "fix/{name}"',
        )


def detect_kind(root: Path | str) -> str:
    if os.path.exists(os.path.join(root, "go.mod")):
        return "go"
    return "python"


def load(root: Path | str, *, mainline_text: str | None = None, mainline_ref: str = "") -> Config:
    """Load `<root>/.prodfix.toml`; with no file, the mainline's copy (if given); else defaults."""
    path = os.path.join(root, FILENAME)
    kind = detect_kind(root)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        values = parse(text, path, detected_kind=kind, cache=tomlcache.cache_file(root))
        return Config.from_values(values, source=path)
    if mainline_text is not None:
        source = f"{mainline_ref}:{FILENAME}"
        values = parse(mainline_text, source, detected_kind=kind, cache=tomlcache.cache_file(root))
        note = f"this checkout has no {FILENAME}; using the one on {mainline_ref}"
        return Config.from_values(values, note=note)
    return Config.from_values(parse("", "(defaults)", detected_kind=kind))


def load_for_repo(repo: Repo) -> Config:
    """The checkout's .prodfix.toml; else the mainline's copy from the remote-tracking branch
    (`cfg.note` says so: the caller tells the user once); else the defaults."""
    if os.path.exists(os.path.join(repo.root, FILENAME)):
        return load(repo.root)
    defaults = load(repo.root)
    ref = f"{defaults.remote}/{defaults.mainline}"
    r = repo.git("show", f"refs/remotes/{ref}:{FILENAME}", check=False)
    if r.returncode != 0:
        return defaults
    return load(repo.root, mainline_text=r.stdout, mainline_ref=ref)
