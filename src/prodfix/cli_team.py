"""The command line's team and tooling commands: `audit`, `pr`, `demo`, `serve`, `doctor`
(cli.py adds them to `prodfix`; the fix's own commands live there)."""

from __future__ import annotations

from pathlib import Path

import click

from prodfix.clirun import run


@click.command(epilog="Example: prodfix audit ~/src/* --jobs 8 --json")
@click.argument(
    "paths", nargs=-1, required=True, metavar="PATH...", type=click.Path(path_type=Path)
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    metavar="N",
    default=None,
    help="Parallel repositories (default: min(16, 4 × cores)).",
)
def audit(paths: tuple[Path, ...], as_json: bool, jobs: int | None) -> None:
    """Run the repository-level checks over many repositories at once."""
    run("audit", paths=list(paths), as_json=as_json, jobs=jobs)


@click.group()
def pr() -> None:
    """Pull requests on the configured forge (the embedded one included)."""


@pr.command(name="list")
@click.option("--all", "all_", is_flag=True, help="Include merged and closed PRs.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def pr_list(all_: bool, as_json: bool) -> None:
    """List pull requests."""
    run("pr", verb="list", all_=all_, as_json=as_json)


@pr.command(name="show")
@click.argument("number", type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def pr_show(number: int, as_json: bool) -> None:
    """Show one pull request."""
    run("pr", verb="show", number=number, as_json=as_json)


@pr.command(name="approve")
@click.argument("number", type=click.IntRange(min=1))
@click.option("--dry-run", is_flag=True, help="Print what would happen, change nothing.")
def pr_approve(number: int, dry_run: bool) -> None:
    """Approve a pull request (records your git identity; not your own PR)."""
    run("pr", verb="approve", number=number, dry_run=dry_run)


@pr.command(name="merge")
@click.argument("number", type=click.IntRange(min=1))
@click.option(
    "--method",
    type=click.Choice(["merge", "squash", "rebase"]),
    default=None,
    help="Merge method (back-merges are always true merges).",
)
@click.option("--dry-run", is_flag=True, help="Print what would happen, change nothing.")
def pr_merge(number: int, method: str | None, dry_run: bool) -> None:
    """Merge an approved pull request."""
    run("pr", verb="merge", number=number, method=method, dry_run=dry_run)


@click.command(epilog="Example: prodfix demo --dir /tmp/prodfix-demo")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Build the sandbox here and keep it (fixed layout).",
)
@click.option("--keep", is_flag=True, help="Keep the temporary sandbox and print where it is.")
def demo(directory: Path | None, keep: bool) -> None:
    """Build a sandbox, drive one fix through every step of both flows, then a sync."""
    from prodfix.cli import main  # the demo types its commands into the command line

    run("demo", directory=directory, keep=keep, entry=main)


@click.command(
    epilog="Examples:\n\n\b\n  prodfix serve --config /etc/prodfix/prodfix-serve.toml\n"
    "  prodfix serve /tmp/demo/remotes/*.git"
)
@click.argument("repos", nargs=-1, metavar="[REPO]...")
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="prodfix-serve.toml (default: ./prodfix-serve.toml when present).",
)
@click.option("--host", metavar="HOST", help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), metavar="PORT", help="Port (default 8080).")
@click.option("--database", metavar="URL", help='"sqlite" (default) or postgresql://…')
def serve(
    repos: tuple[str, ...],
    config: Path | None,
    host: str | None,
    port: int | None,
    database: str | None,
) -> None:
    """The team service: policy checks, automatic back-merges, a live dashboard."""
    run("serve", config=config, host=host, port=port, database=database, repos=list(repos))


@click.command()
def doctor() -> None:
    """Check git, remotes, credentials and services for this repository."""
    run("doctor")


TEAM_COMMANDS = (audit, pr, demo, serve, doctor)
