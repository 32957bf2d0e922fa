"""The console entry point: `prodfix check` with plain arguments starts without click.

`check` runs in hooks, CI jobs and editor integrations, often many times a minute, and its
answer takes a few git processes; loading the full command-line layer (click and every
command's options) would cost more than the answer. Plain invocations — the global `-C DIR`
and `--debug`, then `check` with `[REF] [--into BRANCH] [--json] [--no-fetch]` — are parsed
here; anything else (help, a typo, a repeated option, another command) goes to `prodfix.cli`,
so its messages and exit codes stay the only ones. tests/test_launch.py proves both parsers
give `check` the same arguments.
"""

from __future__ import annotations

import os
import sys

from prodfix.app import App

# Nothing on `check`'s path imports typing, re, pathlib, json or enum at run time: together
# they cost more than its git processes on a clean repository (prodfix/tuples.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any, NoReturn


def parse_check(args: Sequence[str]) -> tuple[str | None, bool, dict[str, Any]] | None:
    """(directory, debug, check's keyword arguments), or None when click must parse."""
    directory: str | None = None
    debug = False
    i = 0
    while i < len(args) and args[i] != "check":
        if args[i] == "-C" and i + 1 < len(args) and directory is None:
            directory, i = args[i + 1], i + 2
        elif args[i] == "--debug" and not debug:
            debug, i = True, i + 1
        else:
            return None
    if i == len(args):
        return None
    kw: dict[str, Any] = {"ref": None, "into": None, "as_json": False, "fetch": True}
    seen: set[str] = set()
    rest = args[i + 1 :]
    j = 0
    while j < len(rest):
        a = rest[j]
        name, value = a.partition("=")[0], a.partition("=")[2]
        if name in seen:
            return None
        if a in ("--json", "--no-fetch"):
            kw["as_json" if a == "--json" else "fetch"] = a == "--json"
        elif a == "--into" and j + 1 < len(rest) and not rest[j + 1].startswith("-"):
            kw["into"], j = rest[j + 1], j + 1
        elif name == "--into" and value and not value.startswith("-"):
            kw["into"] = value
        elif not a.startswith("-") and "ref" not in seen:
            kw["ref"], name = a, "ref"
        else:
            return None
        seen.add(name)
        j += 1
    return directory, debug, kw


def main(argv: list[str] | None = None) -> NoReturn:
    args = sys.argv[1:] if argv is None else argv
    parsed = parse_check(args)
    if parsed is None:
        from prodfix.cli import main as full

        full(argv)
        sys.exit(0)  # pragma: no cover - the full parser always exits
    directory, debug, kw = parsed
    guarded(lambda: _check(directory, debug, kw), debug=debug, as_json=bool(kw["as_json"]))


def _check(directory: str | None, debug: bool, kw: dict[str, Any]) -> NoReturn:
    from prodfix.errors import ProdfixError

    cwd = os.path.abspath(directory or os.getcwd())
    if directory is not None and not os.path.isdir(directory):
        raise ProdfixError(
            f"cannot change to {directory}: no such directory", hint="check the path given to -C"
        )
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="debug: %(name)s: %(message)s")
    from prodfix.commands import check

    app = App(cwd=cwd, debug=debug)
    if kw["as_json"]:
        app.quiet()
    sys.exit(int(check.run(app, **kw)))


def json_error(message: str, hint: str, code: int) -> None:
    """With `--json`, an error is also one JSON document on stdout: scripts that parse stdout
    get an answer they can read, not an empty stream."""
    from prodfix.jsontext import dumps

    doc = {"ok": False, "error": {"code": code, "message": message, "hint": hint}}
    sys.stdout.write(dumps(doc) + "\n")
    sys.stdout.flush()


def guarded(body: Callable[[], object], *, debug: bool, as_json: bool = False) -> NoReturn:
    """The one top-level error handler: exit codes for ProdfixError, no bare tracebacks."""
    from prodfix.errors import Exit, ProdfixError

    try:
        body()
        sys.exit(0)
    except ProdfixError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        from prodfix.output import print_error

        print_error(exc.message, exc.hint)
        if as_json:
            json_error(exc.message, exc.hint, int(exc.code))
        sys.exit(int(exc.code))
    except KeyboardInterrupt:
        print(
            "\nprodfix: interrupted; nothing was lost — `prodfix status` shows where things are",
            file=sys.stderr,
        )
        sys.exit(Exit.INTERRUPTED)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except Exception as exc:  # the last line of defence: never a bare traceback
        if debug:
            raise
        print(f"prodfix: error: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        print("  next: run again with --debug and report the traceback", file=sys.stderr)
        sys.exit(Exit.FAILED)
