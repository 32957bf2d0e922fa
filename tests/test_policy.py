"""The policy gate on real repositories (tests/gitfix.py): exact SHAs, rule ids and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodfix import config
from prodfix.adapters import gitrun
from prodfix.adapters.git import Repo
from prodfix.errors import Exit, ProdfixError
from prodfix.policy import facts
from prodfix.policy.gate import check_repo
from prodfix.policy.report import Finding, Report
from tests.gitfix import Sandbox, lines, seeded

DAY = 86_400


def _seed_world(sb: Sandbox) -> tuple[str, str, str]:
    sb.init_origin()
    w = sb.clone()
    base = sb.commit(w, "base", {"app.txt": lines(f"line{i}" for i in range(1, 6))})
    sb.push(w, "master")
    sb.g(w, "branch", "delivery")
    sb.push(w, "delivery")
    a = sb.commit(w, "master: feature A")
    b = sb.commit(w, "master: feature B")
    sb.push(w, "master")
    return base, a, b


class World:
    """origin with master (base, A, B) and delivery cut at base; one working clone."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        # built once per process, then copied
        self.base, self.a, self.b = seeded(sb, "policy-world", _seed_world)
        self.w = sb.root / "work"

    def g(self, *args: str, check: bool = True) -> str:
        return self.sb.g(self.w, *args, check=check)

    def commit(self, message: str, files: dict[str, str] | None = None) -> str:
        return self.sb.commit(self.w, message, files)

    def fix(self, name: str, *messages: str, start: str = "origin/delivery") -> list[str]:
        self.g("checkout", "-q", "-b", name, start)
        return [self.commit(m) for m in messages]

    def land(self, branch: str, message: str, *, into: str = "delivery") -> str:
        """Merge a branch into a remote branch the way a forge does (--no-ff) and push."""
        self.g("checkout", "-q", "-B", into, f"origin/{into}")
        sha = self.sb.merge(self.w, branch, message)
        self.sb.push(self.w, into)
        return sha

    def check(self, **kw: object) -> Report:
        kw.setdefault("ref", None)
        kw.setdefault("into", None)
        kw.setdefault("fetch", False)
        return check_repo(Repo(self.w), config.load(self.w), **kw)  # type: ignore[arg-type]


@pytest.fixture
def world(sandbox: Sandbox) -> World:
    return World(sandbox)


def rules(report: Report) -> list[tuple[str, str, str]]:
    return [(f.rule, f.severity, f.branch) for f in report.findings]


def only(report: Report, rule: str, severity: str | None = None) -> Finding:
    found = [f for f in report.by_rule(rule) if severity is None or f.severity == severity]
    assert len(found) == 1, report.findings
    return found[0]


# -- branched-from-master ------------------------------------------------------------------


def test_fix_from_master_lists_exactly_the_master_commits(world: World) -> None:
    world.fix("fix/bad", "fix on the wrong base", start="origin/master")
    report = world.check()
    assert rules(report) == [("branched-from-master", "error", "fix/bad")]
    assert only(report, "branched-from-master").commits == (world.b, world.a)
    assert not report.ok


def test_fix_from_delivery_passes(world: World) -> None:
    world.fix("fix/good", "the fix")
    report = world.check()
    assert report.findings == ()
    assert report.ok


def test_master_merged_into_a_fix_branch(world: World) -> None:
    world.fix("fix/merged", "the fix")
    world.g("merge", "-q", "--no-ff", "-m", "merge master", "origin/master")
    report = world.check(ref="fix/merged")
    assert only(report, "branched-from-master").commits == (world.b, world.a)


def test_newest_merge_base_picks_the_delivery_branch(world: World) -> None:
    world.g("push", "-q", "origin", f"{world.b}:refs/heads/delivery-2")  # cut later, at B
    world.g("fetch", "-q", "origin")
    world.fix("topic", "hand-made fix", start="origin/delivery-2")
    assert world.check().findings == ()  # judged against delivery-2, not delivery


def test_equally_new_delivery_branches_ask_for_into(world: World) -> None:
    world.g("push", "-q", "origin", "origin/delivery:refs/heads/delivery-2")
    world.g("fetch", "-q", "origin")
    world.fix("topic", "hand-made fix")
    with pytest.raises(ProdfixError) as exc:
        world.check()
    assert exc.value.code == Exit.USAGE
    assert "--into" in exc.value.hint
    # what `start` records settles it, as does --into
    world.g("config", "branch.topic.prodfix-delivery", "delivery-2")
    assert world.check().findings == ()
    assert world.check(ref="topic", recorded_delivery="delivery").findings == ()
    assert rules(world.check(into="delivery")) == [("wrong-target", "error", "topic")]


# -- master-merged-into-delivery -------------------------------------------------------------


def test_master_merged_into_delivery_is_named_after_a_later_back_merge(world: World) -> None:
    world.fix("fix/one", "fix one")
    pr = world.land("fix/one", "Merge PR #1 fix/one into delivery")
    bad = world.land("origin/master", "Merge branch master into delivery")
    back = world.land("origin/delivery", "Back-merge delivery into master", into="master")
    leaks = facts.mainline_leaks(Repo(world.w), bad, back)
    assert [(lk.merge.sha, lk.brought) for lk in leaks.merges] == [(bad, (world.b, world.a))]
    report = world.check(ref="master")
    assert rules(report) == [("master-merged-into-delivery", "error", "delivery")]
    assert only(report, "master-merged-into-delivery").commits == (bad,)
    assert pr != bad


def test_clean_delivery_history_has_no_leak(world: World) -> None:
    world.fix("fix/one", "fix one")
    world.land("fix/one", "Merge PR #1 fix/one into delivery")
    world.land("origin/delivery", "Back-merge delivery into master", into="master")
    world.commit("master: feature C")
    world.sb.push(world.w, "master")
    assert world.check(ref="master").findings == ()


def test_marked_sync_is_info_and_not_charged_again(world: World) -> None:
    sync = world.land("origin/master", "Sync master into delivery\n\nProdfix-Sync: planned with QA")
    world.g("checkout", "-q", "master")
    world.g("reset", "-q", "--hard", "origin/master")
    c = world.commit("master: feature C")
    world.sb.push(world.w, "master")
    world.g("fetch", "-q", "origin")
    bad = world.land("origin/master", "Merge master into delivery again")
    leaks = facts.mainline_leaks(Repo(world.w), bad, c)
    assert [(lk.merge.sha, lk.merge.sync, lk.brought) for lk in leaks.merges] == [
        (bad, False, (c,)),
        (sync, True, (world.b, world.a)),
    ]
    report = world.check(ref="master")
    assert only(report, "master-merged-into-delivery", "info").commits == (sync,)
    assert only(report, "master-merged-into-delivery", "error").commits == (bad,)


def test_only_a_marked_sync_passes(world: World) -> None:
    world.land("origin/master", "Sync master into delivery\n\nProdfix-Sync: release train 12")
    report = world.check(ref="master")
    assert rules(report) == [("master-merged-into-delivery", "info", "delivery")]
    assert report.ok


def test_into_delivery_judges_the_proposal_itself(world: World) -> None:
    report = world.check(ref="master", into="delivery")
    assert only(report, "master-merged-into-delivery").commits == (world.b, world.a)
    assert only(report, "wrong-target").severity == "error"
    world.g("checkout", "-q", "-b", "sync/12", "origin/delivery")
    world.g("merge", "-q", "--no-ff", "-m", "Sync\n\nProdfix-Sync: train 12", "origin/master")
    report = world.check(into="delivery")
    assert rules(report) == [("master-merged-into-delivery", "info", "sync/12")]


# -- missing-backmerge -------------------------------------------------------------------------


def test_unmerged_fix_is_missing_and_back_merge_clears_it(world: World) -> None:
    (f,) = world.fix("fix/one", "fix one")
    world.land("fix/one", "Merge PR #1 fix/one into delivery")
    now = world.sb.clock.now
    report = world.check(ref="master", now=now)
    assert rules(report) == [("missing-backmerge", "warning", "delivery")]
    assert only(report, "missing-backmerge").commits == (f,)
    world.land("origin/delivery", "Back-merge delivery into master", into="master")
    assert world.check(ref="master", now=now).findings == ()


def test_squash_landed_fix_cherry_picked_to_master_is_not_missing(world: World) -> None:
    world.fix("fix/sq", "fix sq part 1", "fix sq part 2")
    world.g("checkout", "-q", "-B", "delivery", "origin/delivery")
    world.g("merge", "-q", "--squash", "fix/sq")
    world.g("commit", "-q", "-m", "fix sq (#7)")
    squash = world.g("rev-parse", "HEAD")
    world.sb.push(world.w, "delivery")
    world.g("checkout", "-q", "-B", "master", "origin/master")
    world.g("cherry-pick", squash)
    world.sb.push(world.w, "master")
    (other,) = world.fix("fix/two", "fix two")
    world.land("fix/two", "Merge PR #8 fix/two into delivery")
    report = world.check(ref="master", now=world.sb.clock.now)
    assert only(report, "missing-backmerge").commits == (other,)


def test_fix_picked_with_x_after_a_conflict_is_found_by_trailer(world: World) -> None:
    world.fix("fix/x")
    world.commit("fix line 3", {"app.txt": lines(["line1", "line2", "FIX", "line4", "line5"])})
    fix = world.g("rev-parse", "HEAD")
    world.land("fix/x", "Merge PR #9 fix/x into delivery")
    world.g("checkout", "-q", "-B", "master", "origin/master")
    world.commit("refactor", {"app.txt": lines(["line1", "line2", "REFACTOR", "line4", "line5"])})
    world.g("cherry-pick", "-x", fix, check=False)
    (world.w / "app.txt").write_text(lines(["line1", "line2", "REFACTOR FIX", "line4", "line5"]))
    world.g("add", "app.txt")
    world.g("-c", "core.editor=true", "cherry-pick", "--continue")
    world.sb.push(world.w, "master")
    repo = Repo(world.w)
    patch_only = repo.rev_list(
        "--cherry-pick", "--right-only", "--no-merges", "origin/master...origin/delivery"
    )
    assert fix in patch_only  # patch-ids alone would call it missing
    assert world.check(ref="master").findings == ()


def test_age_counts_from_the_landing_not_the_author_date(world: World) -> None:
    clock = world.sb.clock
    now = clock.now + 30 * DAY
    clock.now = now - 20 * DAY
    (late_authored,) = world.fix("fix/b", "fix b")  # authored 20 days ago …
    world.g("checkout", "-q", "origin/delivery")
    clock.now = now - 12 * DAY
    (old,) = world.fix("fix/a", "fix a")
    clock.now = now - 10 * DAY
    world.land("fix/a", "Merge PR #1 fix/a into delivery")
    clock.now = now - 2 * DAY
    world.g("fetch", "-q", "origin")
    world.land("fix/b", "Merge PR #2 fix/b into delivery")  # … landed 2 days ago
    report = world.check(ref="master", now=now)
    assert only(report, "missing-backmerge", "error").commits == (old,)
    assert only(report, "missing-backmerge", "warning").commits == (late_authored,)
    assert not report.ok


# -- wrong-target ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "into", "wrong"),
    [
        ("fix/good", "delivery", False),
        ("feature/x", "delivery", True),
        ("delivery", "master", False),
        ("delivery", "fix/good", True),
        ("master", "delivery", True),
        ("feature/x", "master", False),
    ],
)
def test_wrong_target(world: World, ref: str, into: str, wrong: bool) -> None:
    world.fix("fix/good", "the fix")
    world.g("branch", "feature/x", "origin/delivery")
    report = world.check(ref=ref, into=into)
    assert bool(report.by_rule("wrong-target")) is wrong
    if wrong:
        assert only(report, "wrong-target").branch == ref


def test_fix_branches_follow_the_template() -> None:
    values = config.parse('fix-branch = "hotfix/{name}-prod"\n', "test")
    cfg = config.Config.from_values(values)
    assert cfg.is_fix_branch("hotfix/npe-prod") and cfg.fix_name("hotfix/npe-prod") == "npe"
    assert not cfg.is_fix_branch("hotfix/npe")
    assert not config.Config().is_fix_branch("feature/fix/x") and config.Config().is_fix_branch(
        "fix/x"
    )


# -- inputs and sources ----------------------------------------------------------------------


@pytest.mark.parametrize(("ref", "into"), [("nope", None), ("master", "nope")])
def test_nonexistent_ref_is_a_usage_error(world: World, ref: str, into: str | None) -> None:
    with pytest.raises(ProdfixError) as exc:
        world.check(ref=ref, into=into)
    assert exc.value.code == Exit.USAGE
    assert exc.value.hint


def test_fetch_sees_what_another_clone_pushed(world: World) -> None:
    other = world.sb.clone("other")
    world.sb.g(other, "checkout", "-q", "delivery")
    world.sb.g(other, "merge", "-q", "--no-ff", "-m", "oops", "origin/master")
    world.sb.push(other, "delivery")
    bad = world.sb.g(other, "rev-parse", "HEAD")
    assert world.check(ref="master").findings == ()  # --no-fetch: the old view
    report = world.check(ref="master", fetch=True)
    assert only(report, "master-merged-into-delivery").commits == (bad,)


def test_clone_without_remote_judges_local_branches(tmp_path: Path, sandbox: Sandbox) -> None:
    w = tmp_path / "local"
    w.mkdir()
    sandbox.g(w, "init", "-q")
    sandbox.commit(w, "base")
    sandbox.g(w, "branch", "delivery")
    a = sandbox.commit(w, "master: A")
    sandbox.g(w, "checkout", "-q", "-b", "fix/bad")
    sandbox.commit(w, "fix")
    report = check_repo(Repo(w), config.load(w), ref=None, into=None, fetch=True)
    assert report.notes == ("no remote 'origin': judging the local branches",)
    assert only(report, "branched-from-master").commits == (a,)


def test_cut_after_repeated_syncs_and_back_merges(world: World) -> None:
    syncs, backs = [], []
    for n in (1, 2, 3):
        syncs.append(world.land("origin/master", f"Sync {n}\n\nProdfix-Sync: train {n}"))
        world.g("checkout", "-q", "-b", f"fix/{n}", "origin/delivery")
        world.commit(f"fix {n}")
        world.land(f"fix/{n}", f"Merge PR #{n} fix/{n} into delivery")
        backs.append(world.land("origin/delivery", f"Back-merge {n}", into="master"))
        world.commit(f"master: after back-merge {n}")
        world.sb.push(world.w, "master")
    bad = world.land("origin/master", "Merge master into delivery, unmarked")
    repo = Repo(world.w)
    m = world.g("rev-parse", "origin/master")
    x = facts.Sha(world.g("rev-parse", "HEAD^2"))  # newest mainline commit inside delivery
    d_chain = world.g("rev-list", "--first-parent", "--parents", bad, f"^{x}").splitlines()
    y = facts.Sha(d_chain[-1].split()[1])  # newest delivery first-parent commit below x
    before = gitrun.spawned
    fast = facts._cut(repo, x, y)
    assert gitrun.spawned - before >= 4  # several rounds of the alternating walk …
    assert fast == facts._cut(repo, x, y, rounds=0)  # … agree with the full-chain fallback
    assert fast[0] == world.base
    leaks = facts.mainline_leaks(repo, facts.Sha(bad), facts.Sha(m))
    assert leaks.cut == world.base
    assert [(lk.merge.sha, lk.merge.sync) for lk in leaks.merges] == [
        (bad, False),
        (syncs[2], True),
        (syncs[1], True),
        (syncs[0], True),
    ]
    assert [lk.brought for lk in leaks.merges if lk.merge.sha == bad] == [(m, backs[2])]
