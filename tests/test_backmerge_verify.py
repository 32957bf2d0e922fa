"""Verification of a landed back-merge, on real merges made the right and the wrong ways."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodfix.adapters.git import Repo
from prodfix.errors import Exit, ProdfixError
from prodfix.policy.verify import (
    Accepted,
    Problem,
    Verification,
    inspect_backmerge,
    verify_backmerge,
)
from tests.gitfix import Sandbox, lines, seeded

NINE = [f"line{i}" for i in range(1, 10)]


def edit(*changes: tuple[int, str]) -> str:
    out = list(NINE)
    for i, text in changes:
        out[i - 1] = text
    return lines(out)


@pytest.fixture
def w(sandbox: Sandbox) -> Path:
    """Delivery with two fix PRs merged; master changed the line next to fix one's line, so
    the back-merge conflicts in a.txt. The clone is left on master (seeded once per process,
    then copied: the same SHAs)."""
    seeded(sandbox, "backmerge-verify", _seed)
    return sandbox.root / "work"


def _seed(sandbox: Sandbox) -> None:
    sandbox.init_origin()
    w = sandbox.clone("work")
    sandbox.commit(w, "base", {"a.txt": edit(), "b.txt": edit()})
    sandbox.g(w, "branch", "delivery")
    for name, files in (("one", {"a.txt": edit((2, "D1"))}), ("two", {"b.txt": edit((6, "D2"))})):
        sandbox.checkout(w, "-b", f"fix/{name}", "delivery")
        sandbox.commit(w, f"fix {name}", files)
        sandbox.checkout(w, "delivery")
        sandbox.merge(w, f"fix/{name}", f"Merge PR fix/{name}")
    sandbox.checkout(w, "master")
    sandbox.commit(w, "master refactor", {"a.txt": edit((3, "M"))})


def backmerge(
    sb: Sandbox, w: Path, *merge_args: str, resolve: str | None = None, markers: bool = False
) -> str:
    """Merge delivery into master the way a back-merge PR would land; returns the new tip.
    `resolve`: a.txt's content after resolving; `markers`: commit the conflicted file as is."""
    sb.checkout(w, "-b", f"bm{sb.clock.tick()}", "master")
    sb.g(
        w,
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Back-merge delivery",
        *merge_args,
        "delivery",
        check=False,
    )
    if resolve is not None:
        (w / "a.txt").write_text(resolve)
    if resolve is not None or markers:
        sb.g(w, "add", "a.txt")
        sb.g(w, "commit", "-q", "--no-edit")
    tip = sb.g(w, "rev-parse", "HEAD")
    sb.checkout(w, "master")
    sb.g(w, "reset", "-q", "--hard", tip)  # the PR merged: master moves to the back-merge
    return tip


def verify(w: Path, m: str) -> list[Problem]:
    return verify_backmerge(Repo(w), merge_commit=m, delivery_tip="delivery", mainline="master")


def not_merged(tip: str) -> Problem:
    return Problem(
        "delivery-not-merged",
        f"delivery tip {tip[:7]} is not an ancestor of master",
        (tip,),
        "open the back-merge again: `prodfix backmerge`",
    )


def sha(sb: Sandbox, w: Path, rev: str) -> str:
    return sb.g(w, "rev-parse", rev)


def test_good_backmerge_passes(sandbox: Sandbox, w: Path) -> None:
    m = backmerge(sandbox, w, resolve=edit((2, "D1"), (3, "M")))
    assert verify(w, m) == []


def test_clean_backmerge_passes(sandbox: Sandbox, w: Path) -> None:
    sandbox.g(w, "reset", "-q", "--hard", "HEAD^")  # no master change: merges cleanly
    sandbox.commit(w, "master elsewhere", {"c.txt": "c\n"})
    m = backmerge(sandbox, w)
    assert verify(w, m) == []


LANDED = {"one": "delivery^", "two": "delivery"}  # the PR merges of the fixture


def lost(sb: Sandbox, w: Path, m: str, fix: str, *paths: str, mainline: str = "master") -> Problem:
    """The lost-fix problem for fix/<fix> (one commit, landed by its PR merge)."""
    sha = sb.g(w, "rev-parse", f"fix/{fix}")
    landing = sb.g(w, "rev-parse", LANDED[fix])
    return Problem(
        "lost-fix",
        f'delivery fix {sha[:7]} "fix {fix}" (landed by {landing[:7]} "Merge PR fix/{fix}") '
        f"is not on {mainline} after back-merge {m[:7]}: its change to {', '.join(paths)} "
        "is missing",
        (sha, *paths),
        f"bring it back in a PR into {mainline} (`git switch -c restore-{sha[:7]} {mainline}` "
        f"then `git cherry-pick -x {sha}`); if {mainline} replaces it on purpose, say so with a "
        f"`Prodfix-Supersedes: {sha}` trailer in that PR's commit (docs/backmerge.md)",
    )


def test_s_ours_is_empty_and_loses_every_fix(sandbox: Sandbox, w: Path) -> None:
    m = backmerge(sandbox, w, "-s", "ours")
    assert verify(w, m) == [
        Problem(
            "empty-backmerge",
            f"back-merge {m[:7]} changes nothing although it merges delivery commits "
            "(made with `-s ours`?)",
            (m,),
        ),
        lost(sandbox, w, m, "one", "a.txt"),
        lost(sandbox, w, m, "two", "b.txt"),
    ]


def test_conflict_resolved_by_taking_masters_side_loses_the_fix(sandbox: Sandbox, w: Path) -> None:
    m = backmerge(sandbox, w, "-X", "ours")
    assert sandbox.g(w, "show", f"{m}:b.txt") == edit((6, "D2")).strip()  # fix two did land
    assert verify(w, m) == [lost(sandbox, w, m, "one", "a.txt")]


def test_committed_conflict_markers(sandbox: Sandbox, w: Path) -> None:
    # `git commit -a` right after the conflicted merge: the markers go in.
    m = backmerge(sandbox, w, markers=True)
    problems = verify(w, m)
    assert sandbox.g(w, "show", f"{m}:a.txt").splitlines()[:8] == [
        "line1",
        "<<<<<<< HEAD",
        "line2",
        "M",
        "=======",
        "D1",
        "line3",
        ">>>>>>> delivery",
    ]
    # The fix's line is still there (between markers), so nothing is reported lost.
    assert problems == [
        Problem(
            "conflict-markers",
            f"back-merge {m[:7]} commits conflict markers",
            ("a.txt:2", "a.txt:5", "a.txt:8"),
            "remove them in a follow-up PR into the mainline",
        )
    ]


def test_markers_delivery_already_had_are_not_the_merges(sandbox: Sandbox, w: Path) -> None:
    sandbox.checkout(w, "delivery")
    sandbox.commit(w, "fixture with a marker", {"doc.txt": "<<<<<<< example\n"})
    sandbox.checkout(w, "master")
    m = backmerge(sandbox, w, resolve=edit((2, "D1"), (3, "M")))
    assert verify(w, m) == []


def test_squash_backmerge_is_not_a_merge(sandbox: Sandbox, w: Path) -> None:
    sandbox.checkout(w, "-b", "squash", "master")
    sandbox.g(w, "merge", "-q", "--squash", "delivery", check=False)
    (w / "a.txt").write_text(edit((2, "D1"), (3, "M")))
    sandbox.g(w, "add", "a.txt")
    sandbox.g(w, "commit", "-q", "-m", "Back-merge delivery (squashed)")
    m = sha(sandbox, w, "HEAD")
    sandbox.checkout(w, "master")
    sandbox.g(w, "reset", "-q", "--hard", m)
    tip = sha(sandbox, w, "delivery")
    assert verify(w, m) == [
        Problem(
            "not-a-merge",
            f"back-merge {m[:7]} is not a merge commit (squashed or rebased): delivery's "
            "history did not reach master, so the same fixes count as unmerged and their "
            "conflicts come back at the next back-merge",
            (m,),
            "merge back again with a merge commit (`prodfix backmerge`), never squash",
        ),
        not_merged(tip),
    ]


def test_fix_reverted_on_delivery_is_not_expected_on_master(sandbox: Sandbox, w: Path) -> None:
    sandbox.checkout(w, "delivery")
    sandbox.commit(w, "fix three", {"c.txt": "three\n"})
    sandbox.g(w, "revert", "--no-edit", "HEAD")
    sandbox.checkout(w, "master")
    m = backmerge(sandbox, w, resolve=edit((2, "D1"), (3, "M")))
    assert verify(w, m) == []


def test_fixes_already_picked_to_master_make_an_empty_merge_legitimate(
    sandbox: Sandbox, w: Path
) -> None:
    sandbox.g(w, "reset", "-q", "--hard", "HEAD^")
    sandbox.g(w, "cherry-pick", "fix/one", "fix/two")
    m = backmerge(sandbox, w)
    assert sandbox.g(w, "diff", f"{m}^1", m) == ""
    assert verify(w, m) == []


def test_delivery_tip_later_than_the_merge_is_reported(sandbox: Sandbox, w: Path) -> None:
    m = backmerge(sandbox, w, resolve=edit((2, "D1"), (3, "M")))
    sandbox.checkout(w, "delivery")
    tip = sandbox.commit(w, "after the back-merge", {"c.txt": "c\n"})
    sandbox.checkout(w, "master")
    assert verify(w, m) == [not_merged(tip)]


def test_unknown_commit_is_a_usage_error(sandbox: Sandbox, w: Path) -> None:
    with pytest.raises(ProdfixError) as err:
        verify_backmerge(Repo(w), merge_commit="nope", delivery_tip="delivery", mainline="master")
    assert err.value.code == Exit.USAGE
    assert err.value.message.startswith("back-merge commit 'nope' is not a commit")


def test_a_deletion_put_back_by_the_merge_is_lost(sandbox: Sandbox, w: Path) -> None:
    sandbox.checkout(w, "delivery")
    drop = sandbox.commit(
        w, "fix three: drop line8", {"b.txt": lines([*NINE[:5], "D2", "line7", "line9"])}
    )
    sandbox.checkout(w, "master")
    # The resolver "fixed" a.txt and, by mistake, restored b.txt from master's side plus D2.
    sandbox.checkout(w, "-b", "evil", "master")
    sandbox.g(w, "merge", "-q", "--no-ff", "--no-commit", "delivery", check=False)
    (w / "a.txt").write_text(edit((2, "D1"), (3, "M")))
    (w / "b.txt").write_text(edit((6, "D2")))
    sandbox.g(w, "add", "a.txt", "b.txt")
    sandbox.g(w, "commit", "-q", "--no-edit")
    m = sha(sandbox, w, "HEAD")
    sandbox.checkout(w, "master")
    sandbox.g(w, "reset", "-q", "--hard", m)
    assert [(p.code, p.evidence) for p in verify(w, m)] == [("lost-fix", (drop, "b.txt"))]


# -- back-merges resolved on a branch made from master (how prodfix opens them) ---------------


def resolution_backmerge(
    sb: Sandbox, w: Path, *merge_args: str, resolve: str | None = None, message: str = ""
) -> tuple[str, str]:
    """A branch from master with delivery merged into it there (the conflict resolution), then
    the PR's merge commit on master. Returns (merge commit, PR head)."""
    sb.checkout(w, "-b", "backmerge/delivery-x", "master")
    msg = message or "Merge delivery into master"
    sb.g(w, "merge", "-q", "--no-ff", "-m", msg, *merge_args, "delivery", check=False)
    if resolve is not None:
        (w / "a.txt").write_text(resolve)
        sb.g(w, "add", "a.txt")
        sb.g(w, "commit", "-q", "--no-edit")
    head = sha(sb, w, "HEAD")
    sb.checkout(w, "master")
    return sb.merge(w, head, "Merge pull request #3 from backmerge/delivery-x"), head


def inspect(w: Path, m: str, tip: str = "delivery") -> Verification:
    return inspect_backmerge(Repo(w), merge_commit=m, delivery_tip=tip, mainline="master")


def test_resolution_keeping_masters_side_loses_the_fix(sandbox: Sandbox, w: Path) -> None:
    m, head = resolution_backmerge(sandbox, w, "-X", "ours")
    assert sandbox.g(w, "show", f"{m}:a.txt") == edit((3, "M")).strip()
    expected = [lost(sandbox, w, m, "one", "a.txt")]
    assert verify(w, m) == expected
    # The PR's head (the resolution merge) stands for delivery just as well.
    assert inspect(w, m, head) == Verification(tuple(expected))


def test_resolution_keeping_both_changes_passes(sandbox: Sandbox, w: Path) -> None:
    m, head = resolution_backmerge(sandbox, w, resolve=edit((2, "D1"), (3, "M")))
    assert verify(w, m) == []
    assert inspect(w, m, head) == Verification(())


def test_resolution_keeping_the_fix_in_another_place_passes(sandbox: Sandbox, w: Path) -> None:
    # The fix's line moved below master's line: neither -C1 context matches, -U0 does.
    moved = lines(["line1", "M", "D1", *NINE[3:]])
    m, _ = resolution_backmerge(sandbox, w, resolve=moved)
    assert verify(w, m) == []


@pytest.mark.parametrize("where", ["resolution", "later"])
def test_superseded_fix_passes_and_is_reported(sandbox: Sandbox, w: Path, where: str) -> None:
    one = sha(sandbox, w, "fix/one")
    trailer = f"Prodfix-Supersedes: {one[:9]} master's refactor of line 3 replaces it"
    if where == "resolution":
        message = f"Merge delivery into master\n\n{trailer}"
        m, by = resolution_backmerge(sandbox, w, "-X", "ours", message=message)
    else:
        m, _ = resolution_backmerge(sandbox, w, "-X", "ours")
        by = sandbox.commit(w, f"document the refactor\n\n{trailer}", {"n.txt": "n\n"})
    assert inspect(w, m) == Verification(
        (),
        (
            Accepted(
                one,
                "superseded",
                by,
                f'delivery fix {one[:7]} "fix one" is superseded by {by[:7]} '
                f'"{sandbox.g(w, "log", "-1", "--format=%s", by)}" on master',
            ),
        ),
    )


def test_fix_restored_on_master_after_the_merge_passes(sandbox: Sandbox, w: Path) -> None:
    m, _ = resolution_backmerge(sandbox, w, "-X", "ours")
    assert [p.code for p in verify(w, m)] == ["lost-fix"]
    sandbox.commit(w, "restore fix one", {"a.txt": edit((2, "D1"), (3, "M"))})
    assert verify(w, m) == []


def test_fix_cherry_picked_to_master_with_x_passes(sandbox: Sandbox, w: Path) -> None:
    one = sha(sandbox, w, "fix/one")
    sandbox.g(w, "cherry-pick", "-x", one, check=False)  # conflicts with master's line 3
    (w / "a.txt").write_text(edit((2, "D1 (adapted)"), (3, "M")))
    sandbox.g(w, "add", "a.txt")
    sandbox.g(w, "-c", "core.editor=true", "cherry-pick", "--continue")
    pick = sha(sandbox, w, "HEAD")
    m, _ = resolution_backmerge(sandbox, w, "-X", "ours")
    assert sandbox.g(w, "show", f"{m}:a.txt") == edit((2, "D1 (adapted)"), (3, "M")).strip()
    assert inspect(w, m).accepted == (
        Accepted(
            one,
            "cherry-picked",
            pick,
            f'delivery fix {one[:7]} "fix one" was cherry-picked to master as {pick[:7]} "fix one"',
        ),
    )
    assert verify(w, m) == []


def test_backport_from_master_with_x_passes(sandbox: Sandbox, w: Path) -> None:
    source = sandbox.commit(w, "master: line 9", {"b.txt": edit((9, "X9"))})
    sandbox.checkout(w, "delivery")
    sandbox.g(w, "cherry-pick", "-x", source)
    # The backport differs from the source (adapted to delivery): patch-ids do not match.
    (w / "b.txt").write_text(edit((6, "D2"), (9, "X9 backport")))
    sandbox.g(w, "add", "b.txt")
    sandbox.g(w, "commit", "-q", "--amend", "--no-edit")
    backport = sha(sandbox, w, "HEAD")
    sandbox.checkout(w, "master")
    m, _ = resolution_backmerge(sandbox, w, "-X", "ours")
    assert sandbox.g(w, "show", f"{m}:b.txt") == edit((6, "D2"), (9, "X9")).strip()
    accepted = inspect(w, m).accepted
    assert [(a.fix, a.how, a.by) for a in accepted if a.fix == backport] == [
        (backport, "cherry-picked", source)
    ]
    assert [p.evidence for p in verify(w, m)] == [(sha(sandbox, w, "fix/one"), "a.txt")]
