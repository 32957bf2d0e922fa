"""Rule 2 that can be acted on: accepted merges, the refusal gates, hints that work, merged
syncs and `-x` backports in both directions. Real repositories (tests/gitfix.py)."""

from __future__ import annotations

import shlex

import pytest

from prodfix import config
from prodfix.adapters.git import Repo
from prodfix.errors import Exit, ProdfixError
from prodfix.policy.gate import delivery_refusals, proposal_refusals
from prodfix.policy.report import Finding
from tests.gitfix import Sandbox, lines
from tests.test_policy import World, only, rules

SYNC = "Sync master into delivery\n\nProdfix-Sync: ada after the train"


@pytest.fixture
def world(sandbox: Sandbox) -> World:
    return World(sandbox)


def summary(found: list[Finding]) -> list[tuple[str, str, str]]:
    return [(f.rule, f.severity, f.branch) for f in found]


def configure(world: World, text: str, *, branch: str = "master") -> None:
    """Commit .prodfix.toml on a remote branch (the mainline by default) and fetch it."""
    world.g("checkout", "-q", "-B", branch, f"origin/{branch}")
    world.commit("configure prodfix", {".prodfix.toml": text})
    world.sb.push(world.w, branch)
    world.g("fetch", "-q", "origin")


def refusals(world: World, branch: str, delivery: str = "delivery") -> list[Finding]:
    repo = Repo(world.w)
    return proposal_refusals(repo, config.load(world.w), branch=branch, delivery=delivery)


def run_hint(world: World, hint: str) -> None:
    """Run the `git …` lines of a hint exactly as a user would paste them."""
    for line in hint.splitlines():
        cmd = line.split("#", 1)[0].strip()
        if cmd.startswith("git ") and "push" not in cmd:
            world.g(*shlex.split(cmd)[1:])


# -- [check] allow-merges ----------------------------------------------------------------------


def test_accepted_merge_is_info_and_an_unlisted_one_stays_an_error(world: World) -> None:
    bad = world.land("origin/master", "Merge branch master into delivery")
    finding = only(world.check(ref="master"), "master-merged-into-delivery")
    assert (finding.severity, finding.commits) == ("error", (bad,))
    assert finding.hint.splitlines()[:3] == [
        "if the team accepts this merge, record it in .prodfix.toml on master "
        "(prodfix reads the list there too):",
        "  [check]",
        f'  allow-merges = ["{bad[:7]}"]   # add to the list if there is one',
    ]
    configure(world, f'[check]\nallow-merges = ["{bad[:7]}"]\n')
    report = world.check(ref="master")
    assert rules(report) == [("master-merged-into-delivery", "info", "delivery")]
    assert only(report, "master-merged-into-delivery").message == (
        f"merge {bad[:7]} brought 2 change(s) of master (first-parent commits) into delivery; accepted in "
        "[check] allow-merges"
    )
    assert report.ok


def test_allow_list_on_the_mainline_counts_when_the_checkout_has_an_old_copy(world: World) -> None:
    world.g("checkout", "-q", "-B", "delivery", "origin/delivery")
    world.commit("configure prodfix", {".prodfix.toml": "max-backmerge-days = 30\n"})
    world.sb.push(world.w, "delivery")
    bad = world.land("origin/master", "Merge branch master into delivery")
    world.land("origin/delivery", "Back-merge delivery into master", into="master")
    world.fix("fix/npe", "the fix")  # the checkout: delivery's copy, no allow-list
    assert [f.severity for f in refusals(world, "fix/npe")] == ["error"]
    configure(world, f'max-backmerge-days = 30\n[check]\nallow-merges = ["{bad}"]\n')
    world.g("checkout", "-q", "fix/npe")
    assert (world.w / ".prodfix.toml").read_text() == "max-backmerge-days = 30\n"
    assert refusals(world, "fix/npe") == []
    assert rules(world.check()) == [("master-merged-into-delivery", "info", "delivery")]


@pytest.mark.parametrize("value", ['["abc12"]', '["not-a-sha"]', "[42]", '"abc1234"'])
def test_allow_merges_must_list_shas(world: World, value: str) -> None:
    (world.w / ".prodfix.toml").write_text(f"[check]\nallow-merges = {value}\n")
    with pytest.raises(ProdfixError) as exc:
        config.load(world.w)
    assert exc.value.code == Exit.USAGE
    assert "allow-merges" in exc.value.message


# -- proposal_refusals: only what concerns this proposal ---------------------------------------


def test_other_delivery_branchs_old_merge_and_late_backmerges_never_refuse(world: World) -> None:
    world.g("push", "-q", "origin", f"{world.base}:refs/heads/delivery-old")
    world.g("fetch", "-q", "origin")
    world.land("origin/master", "Merge master into the old branch", into="delivery-old")
    world.sb.clock.now -= 60 * 86_400  # a fix landed long ago, never back-merged
    world.fix("fix/one", "fix one")
    world.land("fix/one", "Merge PR #1 fix/one into delivery")
    world.sb.clock.now += 60 * 86_400
    world.fix("fix/two", "fix two")
    report = world.check(now=world.sb.clock.now)
    assert sorted(rules(report)) == [
        ("master-merged-into-delivery", "error", "delivery-old"),
        ("missing-backmerge", "error", "delivery"),
    ]
    assert refusals(world, "fix/two") == []


def test_unaccepted_merge_on_the_target_refuses(world: World) -> None:
    bad = world.land("origin/master", "Merge branch master into delivery")
    world.fix("fix/npe", "the fix")
    (found,) = refusals(world, "fix/npe")
    assert (found.rule, found.branch, found.commits) == (
        "master-merged-into-delivery",
        "delivery",
        (bad,),
    )
    assert delivery_refusals(Repo(world.w), config.load(world.w), delivery="delivery", tip=bad) == [
        found
    ]
    assert (
        delivery_refusals(Repo(world.w), config.load(world.w), delivery="delivery", tip=world.base)
        == []
    )


def test_fix_from_master_refuses_with_commands_that_repair_it(world: World) -> None:
    own = world.fix("fix/npe", "the fix", "the test", start="origin/master")
    found = refusals(world, "fix/npe")
    assert summary(found) == [
        ("branched-from-master", "error", "fix/npe"),
        ("master-merged-into-delivery", "error", "fix/npe"),
    ]
    assert found[0].hint == "\n".join(
        [
            "recreate fix/npe from origin/delivery with only its own commits:",
            "  git branch -f fix/npe-before-rebuild fix/npe   # keep the old commits",
            "  git switch -C fix/npe origin/delivery",
            f"  git cherry-pick {own[0]} {own[1]}",
            "  git push --force-with-lease origin fix/npe   # if it was pushed",
        ]
    )
    assert found[1].hint == found[0].hint
    run_hint(world, found[0].hint)
    assert refusals(world, "fix/npe") == []
    assert world.g("log", "--format=%s", "origin/delivery..fix/npe").splitlines() == [
        "the test",
        "the fix",
    ]


def test_master_merged_into_a_fix_branch_is_repaired_by_the_hint(world: World) -> None:
    (own,) = world.fix("fix/npe", "the fix")
    world.g("merge", "-q", "--no-ff", "-m", "merge master", "origin/master")
    (found,) = refusals(world, "fix/npe")[:1]
    assert f"  git cherry-pick {own}" in found.hint.splitlines()
    run_hint(world, found.hint)
    assert refusals(world, "fix/npe") == []


def test_a_non_fix_branch_is_told_how_to_become_one(world: World) -> None:
    (own,) = world.fix("topic", "hand-made fix")
    (found,) = refusals(world, "topic")
    assert (found.rule, found.hint) == (
        "wrong-target",
        "\n".join(
            [
                "put the change on a fix branch made from delivery:",
                "  prodfix start NAME --from delivery",
                f"  git cherry-pick {own}",
                "  prodfix propose",
            ]
        ),
    )


def test_target_that_is_not_a_delivery_branch_is_a_usage_error(world: World) -> None:
    world.fix("fix/npe", "the fix")
    with pytest.raises(ProdfixError) as exc:
        refusals(world, "fix/npe", delivery="master")
    assert exc.value.code == Exit.USAGE


# -- the merged sync (a forge merge of the sync/ head) ------------------------------------------


def sync_head(world: World, *extra: str) -> str:
    """sync/… from delivery with master merged by a marked merge, then `extra` commits."""
    world.g("checkout", "-q", "-b", "sync/delivery-1", "origin/delivery")
    sync = world.sb.merge(world.w, "origin/master", SYNC)
    for message in extra:
        world.commit(message)
    return sync


def test_forge_merge_of_the_sync_head_is_accepted(world: World) -> None:
    sync = sync_head(world)
    merged = world.land("sync/delivery-1", "Merge pull request #5 from sync/delivery-1")
    report = world.check(ref="master")
    assert rules(report) == [("master-merged-into-delivery", "info", "delivery")]
    finding = only(report, "master-merged-into-delivery")
    assert finding.commits == (merged,)
    assert finding.message == (
        f"merge {merged[:7]} brings the marked sync {sync[:7]} (Prodfix-Sync): 2 change(s) of "
        "master (first-parent commits) into delivery, no more than the sync brought"
    )
    assert (
        delivery_refusals(Repo(world.w), config.load(world.w), delivery="delivery", tip=merged)
        == []
    )


def test_sync_head_with_a_test_fix_after_the_marked_merge(world: World) -> None:
    sync_head(world, "fix the tests after the sync")
    report = world.check(into="delivery")  # the proposal: the head's tip is not the merge
    assert rules(report) == [("master-merged-into-delivery", "info", "sync/delivery-1")]
    world.land("sync/delivery-1", "Merge pull request #5 from sync/delivery-1")
    assert rules(world.check(ref="master", now=world.sb.clock.now)) == [
        ("master-merged-into-delivery", "info", "delivery"),
        ("missing-backmerge", "warning", "delivery"),  # the test fix, not yet back-merged
    ]


def test_unmarked_master_merge_after_the_sync_is_still_an_error(world: World) -> None:
    sync_head(world)
    world.land("sync/delivery-1", "Merge pull request #5 from sync/delivery-1")
    world.g("checkout", "-q", "-B", "master", "origin/master")
    c = world.commit("master: feature C")
    world.sb.push(world.w, "master")
    world.g("fetch", "-q", "origin")
    bad = world.land("origin/master", "Merge branch master into delivery")
    report = world.check(ref="master")
    errors = report.errors()
    assert [(f.rule, f.commits) for f in errors] == [("master-merged-into-delivery", (bad,))]
    assert errors[0].message == (
        f"merge {bad[:7]} brought 1 change(s) of master (first-parent commits) into delivery without a Prodfix-Sync "
        "trailer"
    )
    assert c in Repo(world.w).rev_list(bad)


def test_merge_bringing_master_beyond_the_marked_sync_is_an_error(world: World) -> None:
    sync = sync_head(world)
    world.g("checkout", "-q", "-B", "master", "origin/master")
    c = world.commit("master: feature C")
    world.sb.push(world.w, "master")
    world.g("checkout", "-q", "sync/delivery-1")
    world.sb.merge(world.w, "master", "Merge master again, unmarked")
    world.g("fetch", "-q", "origin")
    assert only(world.check(into="delivery"), "master-merged-into-delivery").severity == "error"
    merged = world.land("sync/delivery-1", "Merge pull request #5 from sync/delivery-1")
    finding = only(world.check(ref="master"), "master-merged-into-delivery")
    assert (finding.severity, finding.commits) == ("error", (merged,))
    assert finding.message == (
        f"merge {merged[:7]} brought 1 change(s) of master (first-parent commits) into delivery beyond the marked "
        f"sync {sync[:7]}"
    )
    assert c != sync
    configure(world, f'[check]\nallow-merges = ["{merged[:8]}"]\n')
    world.g("checkout", "-q", "-b", "fix/npe", "origin/delivery")
    (world.w / ".prodfix.toml").write_text("max-backmerge-days = 30\n")  # an older copy
    assert [
        f.severity for f in world.check(ref="master").by_rule("master-merged-into-delivery")
    ] == ["info"]


def test_a_sync_never_rides_inside_a_fix(world: World) -> None:
    world.fix("fix/npe", "the fix")
    world.sb.merge(world.w, "origin/master", SYNC)
    world.commit("more of the fix")
    assert summary(refusals(world, "fix/npe")) == [
        ("branched-from-master", "error", "fix/npe"),
        ("master-merged-into-delivery", "error", "fix/npe"),
    ]


# -- `-x` links in both directions --------------------------------------------------------------


def test_backport_from_master_with_x_and_a_changed_patch_is_not_missing(world: World) -> None:
    world.g("checkout", "-q", "-B", "master", "origin/master")
    source = world.commit(
        "master: fix line 4", {"app.txt": lines(["line1", "line2", "line3", "M4", "line5"])}
    )
    world.sb.push(world.w, "master")
    world.fix("fix/backport")
    world.commit("delivery: line 2", {"app.txt": lines(["line1", "D2", "line3", "line4", "line5"])})
    world.g("cherry-pick", "-x", source)
    (world.w / "app.txt").write_text(lines(["line1", "D2", "line3", "M4 (backport)", "line5"]))
    world.g("commit", "-q", "-a", "--amend", "--no-edit")
    backport = world.g("rev-parse", "HEAD")
    world.land("fix/backport", "Merge PR #3 fix/backport into delivery")
    repo = Repo(world.w)
    patch_only = repo.rev_list(
        "--cherry-pick", "--right-only", "--no-merges", "origin/master...origin/delivery"
    )
    assert backport in patch_only  # the patch changed: patch-ids alone call it missing
    finding = only(world.check(ref="master", now=world.sb.clock.now), "missing-backmerge")
    assert finding.commits == (world.g("rev-parse", "HEAD^2~1"),)  # only "delivery: line 2"
    assert backport not in finding.commits
