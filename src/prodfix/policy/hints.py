"""How to resolve each finding: the exact commands or configuration, in one place.

A hint is what `check` prints under a finding (`next:`) and the `hint` of its JSON; the gates
of `propose`, `next` and `deploy` show the same text when they refuse. docs/rules.md explains
each rule and its resolution at more length.
"""

from __future__ import annotations

from prodfix.types import short

TYPE_CHECKING = False  # no typing at run time: `check` loads this module (prodfix/tuples.py)
if TYPE_CHECKING:
    from collections.abc import Sequence


def rebuild(branch: str, base: str, own: Sequence[str], remote: str | None) -> str:
    """Recreate `branch` from its delivery branch with only its own commits."""
    lines = [
        f"recreate {branch} from {base} with only its own commits:",
        f"  git branch -f {branch}-before-rebuild {branch}   # keep the old commits",
        f"  git switch -C {branch} {base}",
    ]
    if own:
        lines.append(f"  git cherry-pick {' '.join(own)}")
    else:
        lines.append("  (it has no commits of its own: commit the fix again)")
    if remote:
        lines.append(f"  git push --force-with-lease {remote} {branch}   # if it was pushed")
    return "\n".join(lines)


def accept_merge(sha: str, delivery: str, mainline: str) -> str:
    """An unmarked mainline → delivery merge: it stays in the history, so it must be recorded;
    reverting its changes is a separate, ordinary fix."""
    return "\n".join(
        [
            f"if the team accepts this merge, record it in .prodfix.toml on {mainline} "
            "(prodfix reads the list there too):",
            "  [check]",
            f'  allow-merges = ["{short(sha)}"]   # add to the list if there is one',
            f"if its changes must not ship from {delivery}, record it as above and revert them "
            f"with a fix: `prodfix start revert-{short(sha)} --from {delivery}`, "
            f"`git revert -m 1 {sha}`, `prodfix propose`",
        ]
    )


def move_to_fix(ref: str, into: str, own: Sequence[str]) -> str:
    """A branch that is not a fix branch, proposed into a delivery branch."""
    lines = [
        f"put the change on a fix branch made from {into}:",
        f"  prodfix start NAME --from {into}",
    ]
    if own:
        lines.append(f"  git cherry-pick {' '.join(own)}")
    lines.append("  prodfix propose")
    return "\n".join(lines)


def delivery_into_mainline(ref: str, mainline: str) -> str:
    return f"a delivery branch goes only into {mainline}: `prodfix backmerge --from {ref}`"


def mainline_into_delivery(mainline: str, into: str) -> str:
    return (
        f"{mainline} reaches {into} only through a planned sync: a merge of {mainline} into a "
        f"branch made from {into}, whose message carries a `Prodfix-Sync: <who> <why>` trailer "
        "(docs/rules.md)"
    )


def backmerge(delivery: str) -> str:
    return f"open the back-merge: `prodfix backmerge --from {delivery}`"
