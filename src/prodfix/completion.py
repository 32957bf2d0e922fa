"""Dynamic shell completion: delivery branches and fix names, read offline from local refs.

Click drives the protocol (`_PRODFIX_COMPLETE=bash_source prodfix`, see docs/completion.md);
these functions only answer "which values fit here". They run on every TAB, so they read
refs with one `git for-each-ref` and never fetch, and they never raise: a broken config or a
directory outside a repository completes nothing rather than printing an error.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import click

from prodfix.errors import ProdfixError

DEFAULTS = {"delivery": "delivery*", "remote": "origin", "fix-branch": "fix/{name}"}


def _settings(ctx: click.Context) -> tuple[Path, dict[str, str]] | None:
    """The repository root (honouring `-C`) and the three settings completion needs."""
    from prodfix.adapters.git import run

    directory = ctx.find_root().params.get("directory")
    cwd = Path(directory) if directory else Path.cwd()
    try:
        top = run(cwd, "rev-parse", "--show-toplevel", check=False)
    except ProdfixError:
        return None
    if top.returncode != 0:
        return None
    root = Path(top.stdout.strip())
    values = dict(DEFAULTS)
    try:
        from prodfix.config import load

        cfg = load(root)
        values = {
            "delivery": cfg.delivery,
            "remote": cfg.remote,
            "fix-branch": cfg.fix_branch_template,
        }
    except (ProdfixError, OSError, KeyError):
        pass  # an invalid .prodfix.toml: complete with the defaults
    return root, values


def _branches(root: Path, remote: str) -> list[str]:
    """Local and `remote`'s remote-tracking branch names, deduplicated, in ref order."""
    from prodfix.adapters.git import run

    out = run(
        root,
        "for-each-ref",
        "--format=%(refname)",
        "refs/heads/",
        f"refs/remotes/{remote}/",
        check=False,
    ).stdout
    names: dict[str, None] = {}
    for ref in out.splitlines():
        for prefix in ("refs/heads/", f"refs/remotes/{remote}/"):
            if ref.startswith(prefix) and ref != f"refs/remotes/{remote}/HEAD":
                names[ref.removeprefix(prefix)] = None
    return list(names)


def delivery_branches(ctx: click.Context, incomplete: str) -> list[str]:
    found = _settings(ctx)
    if found is None:
        return []
    root, s = found
    return [
        b
        for b in _branches(root, s["remote"])
        if fnmatch.fnmatchcase(b, s["delivery"]) and b.startswith(incomplete)
    ]


def fix_names(ctx: click.Context, incomplete: str) -> list[str]:
    """Names of the fixes whose branches exist here (`fix/{name}` → name)."""
    found = _settings(ctx)
    if found is None:
        return []
    root, s = found
    before, _, after = s["fix-branch"].partition("{name}")
    pattern = re.compile(re.escape(before) + "(.+)" + re.escape(after) + "$")
    names = [m.group(1) for b in _branches(root, s["remote"]) if (m := pattern.match(b))]
    return [n for n in dict.fromkeys(names) if n.startswith(incomplete)]


def branches(ctx: click.Context, incomplete: str) -> list[str]:
    found = _settings(ctx)
    if found is None:
        return []
    root, s = found
    return [b for b in _branches(root, s["remote"]) if b.startswith(incomplete)]


def dcs(ctx: click.Context, incomplete: str) -> list[str]:
    from prodfix.adapters.git import run
    from prodfix.config import load

    directory = ctx.find_root().params.get("directory")
    try:
        top = run(Path(directory) if directory else Path.cwd(), "rev-parse", "--show-toplevel")
        names = load(Path(top.stdout.strip())).deploy.all_dcs
    except (ProdfixError, OSError, KeyError):
        return []
    return [d for d in names if d.startswith(incomplete)]


COMPLETERS = {"delivery": delivery_branches, "fix": fix_names, "branch": branches, "dc": dcs}
