"""A team drives three fixes through one delivery branch: two engineers on two machines, a
reviewer, and a third clone that only watches. Fixes merge in either order — by `prodfix next
--merge`, by hand in the "web UI" (git merge + push), and squashed by someone else — and after
every step the remote refs, the DC files, the builds and image tags, and `status --all --json`
in all three clones (identical) are asserted exactly."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.cli import prodfix_proc
from tests.team import (
    Person,
    Team,
    changed,
    make_team,
    parents,
    pinned,
    pr_list,
    proposed,
    refs,
    rows,
    shipped,
    step,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def team(tmp_path: Path) -> Team:
    return make_team(tmp_path / "team")


@dataclass
class Expect:
    """Everything the team's remotes must hold after a step."""

    heads: dict[str, str]
    tag: str = "1.0.0"  # pinned in every DC
    builds: dict[int, tuple[str, str, str | None]] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    prs: dict[int, tuple[str, str, str]] = field(default_factory=dict)
    deploy_prs: dict[int, tuple[str, str, str]] = field(default_factory=dict)
    rows: dict[str, str] = field(default_factory=dict)


def verify(team: Team, e: Expect) -> dict[str, Any]:
    """The remotes hold exactly what `e` says, and every clone's status agrees with it."""
    assert team.heads() == e.heads
    assert team.dc_files() == pinned(e.tag)
    assert team.builds() == e.builds
    assert team.images() == e.images
    assert pr_list(team) == e.prs
    assert pr_list(team, deploy=True) == e.deploy_prs
    doc = team.agreed()
    assert rows(doc) == e.rows
    return doc


OWNER = {"a": "alice", "b": "bob", "c": "alice"}


def other(team: Team, fix: str) -> Person:
    return team.bob if OWNER[fix] == "alice" else team.alice


@pytest.mark.parametrize("order", ["abc", "cba"])
def test_three_fixes_two_engineers_one_observer(team: Team, order: str) -> None:
    first, second, third = order
    alice, bob = team.alice, team.bob
    owner = {f: team.people[p] for f, p in OWNER.items()}
    e = Expect(heads={"master": team.tip("master"), "delivery": team.tip("delivery")})
    d0 = e.heads["delivery"]
    heads: dict[str, str] = {}
    number: dict[str, int] = {}

    # -- three fixes started, tested and proposed by two engineers --------------------------
    for fix in "abc":
        who = owner[fix]
        team.ok(who, "start", fix)
        e.heads[f"fix/{fix}"] = d0
        e.rows[fix] = "dwppppp"  # the test step waits for a commit
        verify(team, e)
        heads[fix] = team.commit(who, f"fix {fix}", {f"{fix}.py": f"{fix.upper()} = 1\n"})
        team.git(who.svc, "push", "-q", "origin", f"fix/{fix}")
        team.ok(who, "test")
        e.heads[f"fix/{fix}"] = heads[fix]
        e.rows[fix] = "ddrpppp"
        verify(team, e)
        team.ok(who, "propose")
        number[fix] = len(e.prs) + 1
        e.prs[number[fix]] = (f"fix/{fix}", "delivery", "open")
        e.rows[fix] = "dddwppp"
        verify(team, e)

    # Authors cannot approve their own PRs; a second `start` of a name says whose it is.
    r = team.run(alice, "pr", "approve", str(number["a"]))
    assert (r.code, "authors cannot approve their own pull requests" in r.err) == (1, True)
    r = team.run(bob, "start", "a")
    assert r.code == 2
    assert "fix 'a' already exists on origin (started by Alice Engineer at " in r.err
    assert "prodfix next a" in r.err
    # Alice moves her clone: nothing is lost (the remote is the truth, not the path).
    moved = alice.root / "svc-moved"  # beside the old one: `[deploy] repo` is relative
    shutil.move(alice.svc, moved)
    alice.svc = moved
    verify(team, e)

    for fix in "abc":
        team.approve(number[fix])
        e.rows[fix] = "dddrppp"
    verify(team, e)

    # -- the first fix: merged, built and deployed by `prodfix next --merge` ----------------
    team.ok(owner[first], "next", "--merge", first)
    d1 = team.tip("delivery")
    assert parents(team, d1) == [d0, heads[first]]
    e.heads["delivery"] = d1
    e.builds[1] = (d1, "success", "delivery-1")
    e.images["delivery-1"] = d1
    e.prs[number[first]] = (f"fix/{first}", "delivery", "merged")
    e.deploy_prs[1] = ("deploy/svc/delivery-1", "master", "open")
    e.rows[first] = "dddddwp"
    verify(team, e)

    team.approve(1, deploy=True)
    team.ok(owner[first], "next", "--merge", first)
    e.tag = "delivery-1"
    e.deploy_prs[1] = ("deploy/svc/delivery-1", "master", "merged")
    backmerge = f"backmerge/delivery-{d1[:7]}"
    e.heads[backmerge] = d1
    e.prs[4] = (backmerge, "master", "open")
    e.rows[first] = "ddddddw"
    verify(team, e)

    # -- the second fix: merged by hand in the "web UI" by the other engineer ---------------
    merger = other(team, second)
    team.pull(merger, "delivery")
    team.sb.merge(merger.svc, f"origin/fix/{second}", f"Merge pull request #{number[second]}")
    team.git(merger.svc, "push", "-q", "origin", "delivery")
    d2 = team.tip("delivery")
    assert parents(team, d2) == [d1, heads[second]]
    e.heads["delivery"] = d2
    e.prs[number[second]] = (f"fix/{second}", "delivery", "merged")
    e.rows[second] = "ddddrpp"
    verify(team, e)

    team.ok(owner[second], "next", "--merge")  # on its fix branch: no name needed
    e.builds[2] = (d2, "success", "delivery-2")
    e.images["delivery-2"] = d2
    e.deploy_prs[2] = ("deploy/svc/delivery-2", "master", "open")
    e.rows[second] = "dddddwp"
    doc = verify(team, e)
    # The first fix still runs everywhere: a newer build of it is not a reason to redeploy
    # (and the open PR of that newer build deployed nothing yet).
    assert step(doc, first, "deploy")["detail"] == (
        f"us1, eu1 run delivery-1, built with {d1[:7]} in it"
    )

    team.approve(2, deploy=True)
    team.ok(owner[second], "next", "--merge", second)
    e.tag = "delivery-2"
    e.deploy_prs[2] = ("deploy/svc/delivery-2", "master", "merged")
    e.heads[backmerge] = d2  # the open back-merge PR brings the second fix too
    e.rows[second] = "ddddddw"
    verify(team, e)

    # -- the third fix: squashed by the other engineer, who also drives it on ---------------
    merger = other(team, third)
    team.ok(merger, "pr", "merge", str(number[third]), "--method", "squash")
    d3 = team.tip("delivery")
    assert parents(team, d3) == [d2]
    assert changed(team, d2, d3) == [f"{third}.py"]
    e.heads["delivery"] = d3
    e.prs[number[third]] = (f"fix/{third}", "delivery", "merged")
    e.rows[third] = "ddddrpp"
    verify(team, e)

    team.ok(merger, "next", "--merge", third)
    e.builds[3] = (d3, "success", "delivery-3")
    e.images["delivery-3"] = d3
    e.deploy_prs[3] = ("deploy/svc/delivery-3", "master", "open")
    e.rows[third] = "dddddwp"
    verify(team, e)

    team.approve(3, deploy=True)
    team.ok(merger, "next", "--merge", third)
    e.tag = "delivery-3"
    e.deploy_prs[3] = ("deploy/svc/delivery-3", "master", "merged")
    e.heads[backmerge] = d3
    e.rows[third] = "ddddddw"
    verify(team, e)

    # -- one back-merge brings all three to master; each fix is finished -------------------
    m0 = e.heads["master"]
    team.approve(4)
    team.ok(owner[first], "next", "--merge", first)
    m1 = team.tip("master")
    assert parents(team, m1) == [m0, d3]
    e.heads["master"] = m1
    del e.heads[backmerge], e.heads[f"fix/{first}"]
    e.prs[4] = (backmerge, "master", "merged")
    e.rows = {fix: "ddddddd." for fix in "abc"}
    verify(team, e)

    for fix in (second, third):
        team.ok(owner[fix], "next", fix)
        del e.heads[f"fix/{fix}"]
        verify(team, e)
    assert e.heads == {"master": m1, "delivery": d3}
    for fix in "abc":
        assert team.git(team.service, "show", f"master:{fix}.py") == f"{fix.upper()} = 1"


# -- the regressions of a team, one by one ------------------------------------------------------


def test_a_newer_build_keeps_an_earlier_fix_deployed_and_rollback_is_on_purpose(
    team: Team,
) -> None:
    alice, bob = team.alice, team.bob
    proposed(team, alice, "a")
    shipped(team, alice, "a", pr=1, deploy_pr=1)  # delivery-1 everywhere; back-merge PR #2
    proposed(team, bob, "b")
    shipped(team, bob, "b", pr=3, deploy_pr=2)  # delivery-2 (with a and b) everywhere
    assert team.dc_files() == pinned("delivery-2")
    doc = team.agreed()
    assert rows(doc) == {"a": "ddddddw", "b": "ddddddw"}
    d1, d2 = team.images()["delivery-1"], team.tip("delivery")
    assert step(doc, "a", "deploy")["detail"] == (
        f"us1, eu1 run delivery-2, built with {d1[:7]} in it (PR #2)"
    )

    before = refs(team)
    r = team.ok(alice, "next", "a")
    assert r.out == "svc: waiting at backmerge: PR #2 waiting: needs 1 approval (who: reviewers)\n"
    assert refs(team) == before  # no deploy PR, nothing pinned
    r = team.run(alice, "deploy", "--tag", "delivery-1")
    assert r.code == 3
    why = f"runs delivery-2 (built from {d2[:7]}), which delivery-1 (built from {d1[:7]}) does not"
    assert f"prodfix: error: refusing to move back: us1 {why} contain; eu1 {why} contain" in r.err
    assert "`prodfix deploy --tag delivery-1 --rollback`" in r.err
    assert refs(team) == before
    # On purpose: a new PR from the target's tip (the branch of the first deploy is spent).
    team.ok(alice, "deploy", "--tag", "delivery-1", "--rollback")
    assert pr_list(team, deploy=True)[3] == ("deploy/svc/delivery-1", "master", "open")
    assert (
        team.blob(team.deploy, "deploy/svc/delivery-1", "apps/us1/kustomization.yaml")
        == (pinned("delivery-1")["us1"])
    )
    assert team.dc_files() == pinned("delivery-2")  # not merged: nothing moved yet
    assert d2 == team.tip("delivery")


def test_master_merged_into_delivery_stops_next_before_anything_until_accepted(
    team: Team,
) -> None:
    alice, bob = team.alice, team.bob
    proposed(team, alice, "a")
    team.approve(1)
    team.pull(bob, "delivery")  # someone brings master into delivery, unmarked
    bad = team.sb.merge(bob.svc, "origin/master", "Merge branch 'master' into delivery")
    team.git(bob.svc, "push", "-q", "origin", "delivery")
    before = refs(team)
    r = team.run(alice, "next", "--merge", "a")
    assert r.code == 3
    assert (
        "prodfix: error: refusing to merge PR #1: delivery breaks rule 2 — "
        f"master-merged-into-delivery: merge {bad[:7]} brought 1 change(s) of master "
        "(first-parent commits) into delivery without a Prodfix-Sync trailer"
    ) in r.err
    assert f'allow-merges = ["{bad[:7]}"]' in r.err
    assert refs(team) == before  # no merge, no build record, no deploy PR
    assert rows(team.agreed()) == {"a": "dddrppp"}

    # The team accepts that merge after the fact, on the mainline.
    team.pull(bob, "master")
    toml = (bob.svc / ".prodfix.toml").read_text()
    team.commit(
        bob,
        "accept the merge",
        {".prodfix.toml": f'{toml}\n[check]\nallow-merges = ["{bad[:10]}"]\n'},
    )
    team.git(bob.svc, "push", "-q", "origin", "master")
    team.ok(alice, "next", "--merge", "a")
    assert parents(team, team.tip("delivery")) == [bad, team.tip("fix/a")]
    assert team.builds() == {1: (team.tip("delivery"), "success", "delivery-1")}
    assert pr_list(team, deploy=True) == {1: ("deploy/svc/delivery-1", "master", "open")}


def test_backmerge_that_keeps_masters_side_fails_naming_the_lost_fix(team: Team) -> None:
    """Also: a run stopped on a conflict blocks only its own fix, and after `continue` the
    user is back on their branch where `prodfix next` goes on."""
    alice, bob = team.alice, team.bob
    team.pull(bob, "master")  # master changes the line the fix will change
    team.commit(bob, "master: answer 43", {"app.py": "def answer():\n    return 43\n"})
    team.git(bob.svc, "push", "-q", "origin", "master")
    proposed(team, alice, "c")
    fix = proposed(team, alice, "a", {"app.py": "def answer():\n    return 42\n"})
    team.approve(2)
    team.ok(alice, "next", "--merge", "a")
    d1 = team.tip("delivery")
    team.approve(1, deploy=True)
    r = team.run(alice, "next", "--merge", "a")
    head = f"backmerge/delivery-{d1[:7]}"
    assert r.code == 1
    assert f"back-merge conflicts in: app.py (in {alice.svc} on {head})" in r.err
    assert team.git(alice.svc, "branch", "--show-current") == head

    r = team.ok(alice, "next", "c")  # fix c is not held up by fix a's stopped run
    assert r.out == "svc: waiting at merge: PR #1 waiting: needs 1 approval (who: reviewers)\n"

    team.git(alice.svc, "checkout", "--ours", "app.py")  # "ours" is master: the fix is lost
    team.git(alice.svc, "add", "app.py")
    team.ok(alice, "continue")
    assert team.git(alice.svc, "branch", "--show-current") == "fix/a"
    assert team.git(alice.svc, "status", "--porcelain") == ""
    assert pr_list(team)[3] == (head, "master", "open")
    r = team.ok(alice, "next")
    assert r.out == "svc: waiting at backmerge: PR #3 waiting: needs 1 approval (who: reviewers)\n"

    team.approve(3)
    m0 = team.tip("master")
    r = team.run(alice, "next", "--merge")
    m1 = team.tip("master")
    assert parents(team, m1)[0] == m0
    lost = (
        f'lost-fix: delivery fix {fix[:7]} "fix a" (landed by {d1[:7]} "Merge pull request #2 '
        f'from fix/a") is not on master after back-merge {m1[:7]}: its change to app.py is '
        "missing"
    )
    assert r.code == 1
    assert f"prodfix: error: svc: step backmerge failed: {lost}" in r.err
    doc = team.agreed()
    assert rows(doc) == {"a": "ddddddF", "c": "dddwppp"}
    assert (step(doc, "a", "backmerge")["detail"], step(doc, "a", "backmerge")["sha"]) == (
        lost,
        m1,
    )
    assert team.heads()["fix/a"] == fix  # not finished: nothing cleaned up
    assert team.run(alice, "status").code == 1

    # Repaired as the hint says: the fix brought back to master with a `-x` trailer.
    team.pull(bob, "master")
    body = f"restore fix a\n\n(cherry picked from commit {fix})"
    (bob.svc / "app.py").write_text("def answer():\n    return 42\n")
    team.git(bob.svc, "commit", "-q", "-am", body)
    team.git(bob.svc, "push", "-q", "origin", "master")
    r = team.ok(alice, "next", "a")
    assert r.out.endswith("fix a is done: every step of every repository\n")
    assert rows(team.agreed()) == {"a": "ddddddd.", "c": "dddwppp"}
    assert "fix/a" not in team.heads()


def runs(who: Person) -> list[str]:
    """The run states kept in `who`'s PRODFIX_HOME (a command stopped for the user)."""
    d = who.home / "runs"
    return sorted(p.name for p in d.glob("*.json")) if d.exists() else []


def test_refused_preconditions_leave_no_run_state_and_undo_of_propose(team: Team) -> None:
    alice = team.alice
    proposed(team, alice, "a")
    proposed(team, alice, "b")
    before = refs(team)
    r = team.run(alice, "pr", "merge", "1")
    assert (r.code, r.err.splitlines()[0]) == (
        1,
        "prodfix: error: PR #1 cannot be merged yet: needs 1 approval",
    )
    r = team.run(alice, "start", "x" * 300)
    assert (r.code, r.err.splitlines()[0]) == (
        2,
        "prodfix: error: the fix name is 300 characters long; at most 100",
    )
    assert refs(team) == before
    assert runs(alice) == []
    team.approve(2)
    team.ok(alice, "next", "--merge", "b")  # nothing is left that blocks another fix
    assert pr_list(team)[2] == ("fix/b", "delivery", "merged")

    # `undo` of a propose: the PR is closed and the step is back at ready, in every clone.
    team.git(alice.svc, "checkout", "-q", "fix/a")
    r = team.ok(alice, "undo")
    assert "close pull request #1" in r.out
    assert r.err == ""  # fix/b, started after that propose, is not the undo's business
    assert pr_list(team)[1] == ("fix/a", "delivery", "closed")
    doc = team.agreed()
    assert rows(doc)["a"] == "ddrpppp"
    assert step(doc, "a", "propose")["detail"] == "PR #1 was closed; propose again"
    team.ok(alice, "propose")
    assert rows(team.agreed())["a"] == "dddwppp"


FLAKY_BUILD = """#!/bin/sh
set -e
if [ "$PRODFIX_BUILD_NUMBER" = 1 ]; then echo "registry.example.com: connection refused"; exit 1; fi
echo "${PRODFIX_DELIVERY}-${PRODFIX_BUILD_NUMBER}"
"""


def test_a_failed_build_is_retried_with_rebuild(team: Team) -> None:
    alice, bob = team.alice, team.bob
    team.pull(bob, "delivery")  # the first build will fail (the registry is down)
    team.commit(bob, "ci: flaky registry", {"ci/build.sh": FLAKY_BUILD})
    team.git(bob.svc, "push", "-q", "origin", "delivery")
    proposed(team, alice, "a")
    team.approve(1)
    r = team.run(alice, "next", "--merge", "a")
    d1 = team.tip("delivery")
    failed = {1: (d1, "failure", None)}
    assert r.code == 1
    assert (
        "prodfix: error: svc: step build failed: build #1 failure: "
        "registry.example.com: connection refused\n"
        "  next: fix the build on the delivery branch, or retry it: `prodfix next --rebuild`"
    ) in r.err
    assert team.builds() == failed
    r = team.run(alice, "next", "a")  # the same failure, not a new build
    assert r.code == 1
    assert team.builds() == failed
    assert rows(team.agreed()) == {"a": "ddddFpp"}

    team.ok(alice, "next", "--rebuild", "a")
    assert team.builds() == {**failed, 2: (d1, "success", "delivery-2")}
    assert pr_list(team, deploy=True) == {1: ("deploy/svc/delivery-2", "master", "open")}
    assert rows(team.agreed()) == {"a": "dddddwp"}


def test_a_deleted_delivery_branch_fails_the_merge_and_wait_does_not_wait(team: Team) -> None:
    alice, bob = team.alice, team.bob
    proposed(team, alice, "a")
    team.approve(1)
    team.git(bob.svc, "push", "-q", "origin", ":delivery")
    doc = team.agreed()
    assert rows(doc) == {"a": "dddFppp"}
    gone = (
        "delivery is gone from the remote: re-target the PR to the delivery branch that runs "
        "in production, or abandon the fix (close its PR, delete fix/a)"
    )
    assert (step(doc, "a", "merge")["detail"], step(doc, "a", "merge")["pr"]) == (gone, 1)
    r = team.run(alice, "next", "--wait", "--merge", "--timeout", "5", "--interval", "1", "a")
    assert (r.code, r.err) == (
        1,
        f"prodfix: error: svc: step merge failed: {gone}\n"
        "  next: re-target the PR to the delivery branch that runs in production, or abandon "
        "the fix: close its PR and delete its branch\n",
    )


def test_backmerge_dry_run_without_fetch_changes_no_ref(team: Team) -> None:
    alice, bob = team.alice, team.bob
    team.pull(bob, "delivery")
    fix = team.commit(bob, "hotfix by hand", {"hot.py": "HOT = 1\n"})
    team.git(bob.svc, "push", "-q", "origin", "delivery", "delivery:refs/heads/gone-soon")
    team.git(alice.svc, "fetch", "-q", "origin")
    # Meanwhile the remote moves on: a fetch (with --prune) would move and delete refs.
    team.commit(bob, "another hotfix", {"hot2.py": "HOT = 2\n"})
    team.git(bob.svc, "push", "-q", "origin", "delivery", ":gone-soon")
    ours = ("for-each-ref", "--format=%(refname) %(objectname)")
    before = team.git(alice.svc, *ours)
    assert "refs/remotes/origin/gone-soon" in before
    r = team.ok(alice, "backmerge", "--dry-run", "--no-fetch", "--json")
    assert json.loads(r.out) == {
        "delivery": "delivery",
        "clean": True,
        "commits": [fix],
        "conflicts": [],
    }
    assert team.git(alice.svc, *ours) == before
    team.ok(alice, "backmerge", "--dry-run", "--no-fetch")
    assert team.git(alice.svc, *ours) == before


def test_concurrent_status_of_fixes_sharing_the_deploy_repository(team: Team) -> None:
    alice, rui = team.alice, team.rui
    proposed(team, alice, "a")
    proposed(team, alice, "b")
    team.approve(1)
    team.approve(2)
    team.ok(alice, "next", "--merge", "a")
    team.ok(alice, "next", "--merge", "b")
    want = {"a": "dddddwp", "b": "dddddwp"}
    assert rows(team.agreed()) == want
    cache = alice.home / "cache" / "deploy"
    for i in range(8):
        # The GitOps remote moves each time, so both reads update the cached clone's refs;
        # the first time there is no cached clone at all.
        if i == 0:
            shutil.rmtree(cache)
        team.git(rui.deploy, "pull", "-q", "origin", "master")
        team.sb.commit(rui.deploy, f"unrelated {i}", {f"other/{i}.yaml": "x: 1\n"})
        team.git(rui.deploy, "push", "-q", "origin", "master")
        with ThreadPoolExecutor(2) as pool:
            done = list(
                pool.map(
                    lambda _: prodfix_proc(alice.svc, "status", "--json", env=alice.env), range(2)
                )
            )
        for r in done:
            failed = [
                (f["name"], s["id"], s["detail"])
                for f in json.loads(r.out)["fixes"]
                for s in f["repos"][0]["steps"]
                if s["state"] == "failed"
            ]
            assert (r.code, failed) == (0, []), f"round {i}: {failed}"
            assert rows(json.loads(r.out)) == want, f"round {i}: {r.out}"


# -- rules and configuration at the command line (the policy's own tests cover the logic) ------


def test_config_that_defeats_the_rules_is_a_configuration_error(team: Team) -> None:
    alice = team.alice
    toml = (alice.svc / ".prodfix.toml").read_text()
    before = refs(team)
    (alice.svc / ".prodfix.toml").write_text(toml.replace('"delivery*"', '"*"'))
    r = team.run(alice, "start", "x", "--from", "master")
    assert r.code == 2
    assert "the delivery pattern '*' matches the mainline 'master'" in r.err
    (alice.svc / ".prodfix.toml").write_text(
        toml.replace('mainline = "master"', 'mainline = "main"')
    )
    for args in (("start", "x"), ("status",), ("next", "x"), ("check",)):
        r = team.run(alice, *args)
        # `start` has listed the remote's branches already, and names them
        found = " (branches: delivery, master)" if args[0] == "start" else ""
        assert (r.code, r.err) == (
            2,
            f"prodfix: error: origin has no mainline branch 'main'{found}\n"
            "  next: set `mainline` in .prodfix.toml to the branch new features land on\n",
        ), args
    assert refs(team) == before


def test_an_old_merge_on_another_delivery_branch_and_allow_merges(team: Team) -> None:
    alice, bob, carol = team.alice, team.bob, team.carol
    team.pull(bob, "delivery")  # an old maintenance line that once took master, unmarked
    team.git(bob.svc, "checkout", "-q", "-b", "delivery-old")
    bad = team.sb.merge(bob.svc, "origin/master", "Merge branch 'master' into delivery-old")
    team.git(bob.svc, "push", "-q", "origin", "delivery-old")
    finding = {
        "rule": "master-merged-into-delivery",
        "branch": "delivery-old",
        "commits": [bad],
    }

    def findings() -> tuple[int, list[dict[str, object]]]:
        r = team.run(carol, "check", "--json")
        doc = json.loads(r.out)
        keys = ("rule", "severity", "branch", "commits")
        return r.code, [{k: f[k] for k in keys} for f in doc["findings"]]

    assert findings() == (1, [{**finding, "severity": "error"}])
    team.ok(alice, "start", "a", "--from", "delivery")
    team.commit(alice, "fix a", {"a.py": "A = 1\n"})
    team.ok(alice, "propose")  # the finding is not about delivery: a fix into it goes on
    team.ok(alice, "start", "b", "--from", "delivery-old")
    team.commit(alice, "fix b", {"b.py": "B = 1\n"})
    r = team.run(alice, "propose")
    assert r.code == 3
    assert f'allow-merges = ["{bad[:7]}"]' in r.err
    assert set(pr_list(team)) == {1}

    team.pull(bob, "master")  # the team accepts it after the fact, on the mainline
    toml = (bob.svc / ".prodfix.toml").read_text()
    allow = f'{toml}\n[check]\nallow-merges = ["{bad[:7]}"]\n'
    team.commit(bob, "accept the old merge", {".prodfix.toml": allow})
    team.git(bob.svc, "push", "-q", "origin", "master")
    assert findings() == (0, [{**finding, "severity": "info"}])
    team.ok(alice, "propose")
    assert pr_list(team)[2] == ("fix/b", "delivery-old", "open")


def test_x_backports_link_both_ways(team: Team) -> None:
    bob, carol = team.bob, team.carol
    team.pull(bob, "master")  # master → delivery: picked with -x, the patch changed
    on_master = team.commit(bob, "feature x", {"x.py": "X = 1\n"})
    team.git(bob.svc, "push", "-q", "origin", "master")
    team.pull(bob, "delivery")
    (bob.svc / "x.py").write_text("X = 1  # backported\n")
    team.git(bob.svc, "add", "x.py")
    team.git(bob.svc, "commit", "-q", "-m", f"feature x\n\n(cherry picked from commit {on_master})")
    on_delivery = team.commit(bob, "fix: hot", {"hot.py": "HOT = 1\n"})
    team.git(bob.svc, "push", "-q", "origin", "delivery")
    team.pull(bob, "master")  # delivery → master: picked with -x, the patch changed
    (bob.svc / "hot.py").write_text("HOT = 1  # on master\n")
    team.git(bob.svc, "add", "hot.py")
    team.git(
        bob.svc, "commit", "-q", "-m", f"fix: hot\n\n(cherry picked from commit {on_delivery})"
    )
    team.git(bob.svc, "push", "-q", "origin", "master")
    r = team.run(carol, "check", "--json")
    assert (r.code, json.loads(r.out)) == (0, {"ok": True, "findings": []})
