"""Thin command-line layer: parse arguments, call `commands.<name>.run`, map errors to exit codes.

Command modules are imported only when their command runs, so `prodfix --help` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from prodfix import __version__
from prodfix.app import App
from prodfix.cli_team import TEAM_COMMANDS
from prodfix.clirun import complete as _complete
from prodfix.clirun import run as _run
from prodfix.errors import Exit, ProdfixError
from prodfix.launch import guarded

__all__ = ["App", "cli", "main"]


HELP = """Production fixes from delivery branches: checked, resumable, observable.

\b
The rules it enforces (docs/workflow.md explains them):
  1. a fix starts from a delivery branch, never from master;
  2. master is never merged into delivery as part of a fix;
  3. every fix on delivery reaches master soon, through a back-merge PR.

\b
A fix, start to finish:
  prodfix start npe-in-parser      # fix/npe-in-parser from origin/delivery*
  ... edit, git commit ...
  prodfix test                     # run the tests, recorded for HEAD
  prodfix propose                  # check, push, open the PR into delivery
  prodfix next --merge --wait      # merge when approved, build, deploy, back-merge
  prodfix status                   # where every fix stands
"""


@click.group(help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="PATH",
    help="Run as if prodfix was started in this directory.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and HTTP/git details.")
@click.version_option(__version__, prog_name="prodfix")
@click.pass_context
def cli(ctx: click.Context, directory: Path | None, debug: bool) -> None:
    cwd = (directory or Path.cwd()).absolute()
    if directory is not None and not directory.is_dir():
        raise ProdfixError(
            f"cannot change to {directory}: no such directory", hint="check the path given to -C"
        )
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="debug: %(name)s: %(message)s")
    ctx.obj = App(cwd=cwd, debug=debug)


@cli.command(epilog="Example: prodfix init --kind go")
@click.option("--kind", type=click.Choice(["python", "go"]), help="Override the detected kind.")
@click.option("--force", is_flag=True, help="Overwrite an existing .prodfix.toml.")
@click.option("--dry-run", is_flag=True, help="Print the file instead of writing it.")
@click.option(
    "--probe",
    is_flag=True,
    help="Ask the remote's host (GET https://HOST/api/v3/meta) whether it is GitHub Enterprise.",
)
def init(kind: str | None, force: bool, dry_run: bool, probe: bool) -> None:
    """Write .prodfix.toml with values detected from this repository."""
    _run("init", kind=kind, force=force, dry_run=dry_run, probe=probe)


@cli.command(
    epilog="Examples:\n\n\b\n  prodfix start npe-in-parser\n  prodfix start npe --from delivery-2026.11"
)
@click.argument("name")
@click.option(
    "--from",
    "from_",
    metavar="BRANCH",
    help="The delivery branch to start from.",
    shell_complete=_complete("delivery"),
)
@click.option("--dry-run", is_flag=True, help="Print what would happen, change nothing.")
def start(name: str, from_: str | None, dry_run: bool) -> None:
    """Create the fix branch at the remote delivery tip and switch to it."""
    _run("start", name=name, from_=from_, dry_run=dry_run)


@cli.command(
    epilog="Examples:\n\n\b\n  prodfix check\n  prodfix check fix/x --into delivery --json"
)
@click.argument("ref", required=False, shell_complete=_complete("branch"))
@click.option(
    "--into",
    metavar="BRANCH",
    help="Judge the proposal 'merge REF into BRANCH'.",
    shell_complete=_complete("branch"),
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--no-fetch", is_flag=True, help="Use the remote-tracking branches as they are.")
def check(ref: str | None, into: str | None, as_json: bool, no_fetch: bool) -> None:
    """The policy gate: exit 1 on any error finding."""
    _run("check", ref=ref, into=into, as_json=as_json, fetch=not no_fetch)


@cli.command(name="test", epilog="Examples:\n\n\b\n  prodfix test\n  prodfix test --ci")
@click.option("--ci", is_flag=True, help="Build the branch on Jenkins instead of locally.")
@click.option("--skip", metavar="REASON", help="Record the tests as skipped, saying why.")
@click.option("--dry-run", is_flag=True, help="Print what would happen, change nothing.")
def test_cmd(ci: bool, skip: str | None, dry_run: bool) -> None:
    """Run the repository's tests and record the result for HEAD."""
    _run("test", ci=ci, dry_run=dry_run, skip=skip)


@cli.command(epilog="Example: prodfix propose --draft")
@click.option("--draft", is_flag=True, help="Open the PR as a draft.")
@click.option("--web", is_flag=True, help="Open the PR (or compare page) in a browser.")
@click.option("--dry-run", is_flag=True, help="Print what would happen, change nothing.")
def propose(draft: bool, web: bool, dry_run: bool) -> None:
    """Check the branch, push it, and open the PR into its delivery branch."""
    _run("propose", draft=draft, web=web, dry_run=dry_run)


@cli.command(
    epilog="Examples:\n\n\b\n  prodfix status\n  prodfix status npe-in-parser --json\n"
    "  prodfix status --all\n\nExit 1 when a shown step failed, 4 when a repository could "
    "not be read."
)
@click.argument("name", required=False, shell_complete=_complete("fix"))
@click.option("--all", "all_", is_flag=True, help="Show finished fixes too.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def status(name: str | None, all_: bool, as_json: bool) -> None:
    """Every fix in flight (or one), found from the remotes: each repository, each step, its
    observed state — the same in every clone on every machine."""
    _run("status", name=name, all_=all_, as_json=as_json)


@cli.command(name="next", epilog="Example: prodfix next --merge --wait --timeout 3600")
@click.argument("name", required=False, shell_complete=_complete("fix"))
@click.option("--wait", is_flag=True, help="Keep going until the fix is done or a step fails.")
@click.option("--merge", is_flag=True, help="Merge approved, green PRs.")
@click.option("--rebuild", is_flag=True, help="Build delivery again after a failed build.")
@click.option(
    "--timeout",
    type=click.IntRange(min=1),
    metavar="SECONDS",
    default=3600,
    show_default=True,
    help="With --wait: give up after this many seconds.",
)
@click.option(
    "--interval",
    type=click.IntRange(min=1),
    metavar="SECONDS",
    default=15,
    show_default=True,
    help="With --wait: seconds between observations.",
)
@click.option("--dry-run", is_flag=True, help="Print what would happen, change nothing.")
def next_cmd(
    name: str | None,
    wait: bool,
    merge: bool,
    rebuild: bool,
    timeout: int,
    interval: int,
    dry_run: bool,
) -> None:
    """Observe where the fix is and perform every step prodfix may do now.

    Works in any clone: NAME picks up a fix someone else started. Before merging, building
    and deploying it checks the delivery branch again (exit 3 if master was merged into it).
    """
    _run(
        "next",
        name=name,
        wait=wait,
        merge=merge,
        rebuild=rebuild,
        timeout=timeout,
        interval=interval,
        dry_run=dry_run,
    )


@cli.command(name="continue")
def continue_cmd() -> None:
    """Resume the command that stopped for you (e.g. after resolving conflicts)."""
    _run("resume", mode="continue")


@cli.command()
def abort() -> None:
    """Give up the stopped command and restore the repositories."""
    _run("resume", mode="abort")


@cli.command()
@click.option("--dry-run", is_flag=True, help="Print what would be undone, change nothing.")
def undo(dry_run: bool) -> None:
    """Reverse the last completed command of the current fix."""
    _run("undo", dry_run=dry_run)


@cli.command(
    epilog="Examples:\n\n\b\n  prodfix backmerge --dry-run --json\n  prodfix backmerge --from delivery-2026.11"
)
@click.option(
    "--from",
    "from_",
    metavar="BRANCH",
    help="The delivery branch to merge back.",
    shell_complete=_complete("delivery"),
)
@click.option("--dry-run", is_flag=True, help="Predict only; change nothing.")
@click.option(
    "--json", "as_json", is_flag=True, help="With --dry-run: print the prediction as JSON."
)
@click.option("--no-fetch", is_flag=True, help="Use the remote-tracking branches as they are.")
def backmerge(from_: str | None, dry_run: bool, as_json: bool, no_fetch: bool) -> None:
    """Open (or find) the back-merge PR delivery → master, predicting conflicts first."""
    _run("backmerge", from_=from_, dry_run=dry_run, as_json=as_json, fetch=not no_fetch)


@cli.command(
    epilog="Examples:\n\n\b\n  prodfix sync --dry-run\n"
    "  prodfix sync --into delivery-2026.11 --reason 'monthly sync, agreed with payments'\n"
    "  prodfix sync --dry-run --json --no-fetch"
)
@click.option(
    "--into",
    metavar="BRANCH",
    help="The delivery branch to bring master into.",
    shell_complete=_complete("delivery"),
)
@click.option("--reason", metavar="TEXT", help="Why now (recorded in the Prodfix-Sync trailer).")
@click.option("--dry-run", is_flag=True, help="Preview only; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="With --dry-run: print the preview as JSON.")
@click.option("--no-fetch", is_flag=True, help="Use the remote-tracking branches as they are.")
def sync(
    into: str | None, reason: str | None, dry_run: bool, as_json: bool, no_fetch: bool
) -> None:
    """The planned sync of master into a delivery branch, through a PR (never part of a fix).

    Lists what master would bring and whom to ask, predicts conflicts, then opens a PR from a
    throwaway sync/* head whose merge of master is marked Prodfix-Sync; stops on conflicts
    like backmerge. Test the head on your side; `prodfix next <head> --merge` merges it.
    """
    _run("sync", into=into, reason=reason, dry_run=dry_run, as_json=as_json, fetch=not no_fetch)


@cli.command(
    epilog="Examples:\n\n\b\n  prodfix deploy --tag delivery-2026.11-42 --dry-run\n  prodfix deploy --tag 1.4.2 --dc us1 --dc eu1"
)
@click.option(
    "--tag", required=True, metavar="TAG", help="The image tag (or sha256:… digest) to pin."
)
@click.option(
    "--dc",
    "dcs",
    multiple=True,
    metavar="DC",
    help="Only these data centers (repeatable).",
    shell_complete=_complete("dc"),
)
@click.option("--image", metavar="IMAGE", help="The image repository (default: [deploy] image).")
@click.option("--allow-missing", is_flag=True, help="Skip DCs that do not reference the image.")
@click.option(
    "--rollback",
    is_flag=True,
    help="Allow pinning a build that lacks commits a DC runs (a rollback on purpose).",
)
@click.option("--dry-run", is_flag=True, help="Print the diff; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="With --dry-run: print the plan as JSON.")
def deploy(
    tag: str,
    dcs: tuple[str, ...],
    image: str | None,
    allow_missing: bool,
    rollback: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Pin the image tag in every DC folder of the GitOps repository and open the PR.

    Refuses (exit 3) to pin a tag built from an ancestor of what a DC runs, unless --rollback.
    """
    _run(
        "deploy",
        tag=tag,
        dcs=list(dcs),
        image=image,
        allow_missing=allow_missing,
        rollback=rollback,
        dry_run=dry_run,
        as_json=as_json,
    )


for _command in TEAM_COMMANDS:
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the full command line (prodfix.launch parses plain `check` calls)."""
    args = argv if argv is not None else sys.argv[1:]
    guarded(lambda: _click_main(argv), debug="--debug" in args, as_json="--json" in args)


def _click_main(argv: list[str] | None) -> None:
    try:
        cli.main(args=argv, prog_name="prodfix", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        if "--json" in (argv if argv is not None else sys.argv[1:]):
            from prodfix.launch import json_error

            json_error(exc.format_message(), "see `prodfix COMMAND --help`", Exit.USAGE)
        sys.exit(Exit.USAGE)
    except click.exceptions.Abort:
        print("prodfix: interrupted", file=sys.stderr)
        sys.exit(Exit.INTERRUPTED)
