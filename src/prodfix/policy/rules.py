"""The four policy rules (docs/rules.md) as pure functions of facts read by `facts.py`.

Each returns findings; none runs git, so each is testable on plain data and the gate decides
nothing while reading.
"""

from __future__ import annotations

from prodfix.errors import ProdfixError
from prodfix.names import template_name
from prodfix.policy import hints
from prodfix.policy.facts import Carried, Leaks, Pending
from prodfix.policy.links import Names
from prodfix.policy.report import Finding
from prodfix.types import BranchName, Sha, short

TYPE_CHECKING = False  # no typing at run time: `check` loads this module (prodfix/tuples.py)
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Literal

    Kind = Literal["mainline", "delivery", "sync", "branch"]
DAY = 86_400


def choose_delivery(branch: str, bases: Mapping[BranchName, tuple[Sha, int] | None]) -> BranchName:
    """For a branch made by hand: the delivery branch whose merge-base with it is newest.

    Two equally new candidates (typically a delivery branch just cut from another) cannot be
    told apart from history, so the user must say which one (exit 2, not a guess).
    """
    known = {name: b for name, b in bases.items() if b is not None}
    if not known:
        raise ProdfixError(
            f"{branch} shares no history with any delivery branch",
            hint="name the target with `prodfix check --into DELIVERY`",
        )
    newest = max(t for _, t in known.values())
    best = sorted(name for name, (_, t) in known.items() if t == newest)
    if len(best) > 1:
        raise ProdfixError(
            f"cannot tell which delivery branch {branch} is for: {', '.join(best)} fit equally",
            hint=f"name it: `prodfix check {branch} --into {best[0]}`",
        )
    return best[0]


def branched_from_master(
    branch: BranchName,
    delivery: BranchName,
    mainline: BranchName,
    carried: Carried,
    *,
    base: str,
    remote: str | None,
) -> list[Finding]:
    """Rule 1: a fix carries nothing of master that its delivery branch lacks. `base` is the
    delivery ref to rebuild from (e.g. origin/delivery)."""
    on_master = carried.on_master
    if not on_master:
        return []
    return [
        Finding(
            "branched-from-master",
            "error",
            branch,
            tuple(c.sha for c in on_master),
            f"{branch} carries {len(on_master)} commit(s) of {mainline} that are not on "
            f"{delivery}: it was branched from {mainline} or {mainline} was merged into it",
            tuple(c.subject for c in on_master),
            hint=hints.rebuild(branch, base, carried.own, remote),
        )
    ]


def master_merged(
    delivery: BranchName, mainline: BranchName, leaks: Leaks, accepted: Names
) -> list[Finding]:
    """Rule 2, post hoc: name each first-parent commit of the delivery branch that brought
    mainline commits. Accepted (info): a merge marked `Prodfix-Sync:`; a merge of a marked
    sync that brings nothing of master beyond what the sync brought (a forge merge of the
    sync branch); a merge listed in `[check] allow-merges`. Commits a sync brought are not
    charged to later merges (landing attribution)."""
    out: list[Finding] = []
    for leak in leaks.merges:
        merge, n = leak.merge, len(leak.brought)
        # Counted on the mainline's first-parent chain — a merged PR is one change there, however
        # many commits it had — and said so, so the number matches what `git log
        # --first-parent` shows.
        what = f"{n} change(s) of {mainline} (first-parent commits) into {delivery}"
        sync_names = ", ".join(short(s) for s in leak.syncs)
        if merge.sync:
            text = f"{short(merge.sha)} is a marked sync (Prodfix-Sync) that brought {what}"
        elif leak.syncs and not leak.beyond:
            text = (
                f"merge {short(merge.sha)} brings the marked sync {sync_names} (Prodfix-Sync): "
                f"{what}, no more than the sync brought"
            )
        elif merge.sha in accepted:
            text = f"merge {short(merge.sha)} brought {what}; accepted in [check] allow-merges"
        else:
            if leak.syncs:
                text = (
                    f"merge {short(merge.sha)} brought {len(leak.beyond)} change(s) of "
                    f"{mainline} (first-parent commits) into {delivery} beyond the marked sync "
                    f"{sync_names}"
                )
            else:
                text = f"merge {short(merge.sha)} brought {what} without a Prodfix-Sync trailer"
            out.append(
                Finding(
                    "master-merged-into-delivery",
                    "error",
                    delivery,
                    (merge.sha,),
                    text,
                    (merge.subject,),
                    hint=hints.accept_merge(merge.sha, delivery, mainline),
                )
            )
            continue
        out.append(
            Finding(
                "master-merged-into-delivery",
                "info",
                delivery,
                (merge.sha,),
                text,
                (merge.subject,),
            )
        )
    return out


def proposal_brings_master(
    ref: BranchName,
    into: BranchName,
    mainline: BranchName,
    kind: Kind,
    brought: Sequence[Sha],
    *,
    fix_hint: str,
) -> list[Finding]:
    """With `--into DELIVERY`: the proposed merge itself would bring mainline commits. The
    finding names REF (what carries them), so callers can tell it from the delivery's history."""
    if not brought:
        return []
    if kind == "sync":
        return [
            Finding(
                "master-merged-into-delivery",
                "info",
                ref,
                tuple(brought),
                f"{ref} is a marked sync (Prodfix-Sync): it brings {len(brought)} commit(s) "
                f"of {mainline} into {into}",
            )
        ]
    return [
        Finding(
            "master-merged-into-delivery",
            "error",
            ref,
            tuple(brought),
            f"merging {ref} into {into} would bring {len(brought)} commit(s) of {mainline}; "
            f"a sync of {mainline} into {into} is a separate, planned step",
            hint=fix_hint or hints.mainline_into_delivery(mainline, into),
        )
    ]


def missing_backmerge(
    delivery: BranchName,
    mainline: BranchName,
    pending: Sequence[Pending],
    *,
    now: float,
    max_days: int,
) -> list[Finding]:
    """Rule 3: delivery work not on master. Age counts from when the commit landed on
    delivery, not its author date (a fix authored long ago may have landed today); error once
    older than max_days."""
    late = [p for p in pending if now - p.landing.time > max_days * DAY]
    recent = [p for p in pending if now - p.landing.time <= max_days * DAY]
    out: list[Finding] = []
    for severity, group, when in (
        ("error", late, f"more than {max_days} day(s) ago"),
        ("warning", recent, f"within the last {max_days} day(s)"),
    ):
        if not group:
            continue
        oldest = max(int((now - p.landing.time) // DAY) for p in group)
        out.append(
            Finding(
                "missing-backmerge",
                "error" if severity == "error" else "warning",
                delivery,
                tuple(p.commit.sha for p in group),
                f"{len(group)} commit(s) landed on {delivery} {when} (oldest {oldest} day(s)) "
                f"and are not on {mainline}",
                tuple(p.commit.subject for p in group),
                hint=hints.backmerge(delivery),
            )
        )
    return out


def wrong_target(
    ref: BranchName,
    kind: Kind,
    into: BranchName,
    into_kind: Kind,
    fix_template: str,
    *,
    mainline: BranchName,
    own: Sequence[Sha] = (),
) -> list[Finding]:
    """Only fix branches (or a marked sync) go into delivery; delivery goes only into master."""
    problem = hint = ""
    if into_kind == "delivery":
        if kind == "delivery":
            problem = f"{ref} is a delivery branch: it may only be merged into the mainline"
            hint = hints.delivery_into_mainline(ref, mainline)
        elif kind == "mainline":
            problem = f"{ref} is the mainline: it may reach {into} only as a marked sync"
            hint = hints.mainline_into_delivery(mainline, into)
        elif kind != "sync" and template_name(fix_template, ref) is None:
            problem = (
                f"{ref} is not a fix branch ({fix_template}) nor a marked sync: only those "
                f"may be proposed into {into}"
            )
            hint = hints.move_to_fix(ref, into, own)
    elif kind == "delivery" and into_kind != "mainline":
        problem = f"{ref} is a delivery branch: it may only be merged into the mainline, not {into}"
        hint = hints.delivery_into_mainline(ref, mainline)
    if not problem:
        return []
    return [Finding("wrong-target", "error", ref, (), problem, hint=hint)]
