"""Back-merge prediction against real `git merge` results, on constructed histories."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodfix.adapters.git import Repo
from prodfix.errors import Exit, ProdfixError
from prodfix.policy import backmerge
from prodfix.policy.backmerge import Conflict, merge_batch, predict
from tests.gitfix import Sandbox, lines, seeded

NINE = [f"line{i}" for i in range(1, 10)]


def edit(i: int, text: str) -> str:
    """a.txt with line i (1-based) replaced."""
    return lines([*NINE[: i - 1], text, *NINE[i:]])


@pytest.fixture
def w(sandbox: Sandbox) -> Path:
    """master and delivery cut at the same commit, pushed; the clone is on delivery (seeded
    once per process, then copied: the same SHAs)."""
    seeded(sandbox, "backmerge-predict", _seed)
    return sandbox.root / "work"


def _seed(sandbox: Sandbox) -> None:
    sandbox.init_origin()
    w = sandbox.clone("work")
    sandbox.commit(
        w,
        "base",
        {"a.txt": lines(NINE), "b.txt": lines(NINE), "f.txt": "f\n", "g.txt": lines(NINE)},
    )
    sandbox.g(w, "branch", "delivery")
    sandbox.push(w, "master", "delivery")
    sandbox.checkout(w, "delivery")


def land(sb: Sandbox, w: Path, name: str, files: dict[str, str]) -> str:
    """A fix PR merged into delivery with a merge commit; returns the landing (merge) SHA."""
    sb.checkout(w, "-b", f"fix/{name}", "delivery")
    sb.commit(w, f"fix {name}", files)
    sb.checkout(w, "delivery")
    return sb.merge(w, f"fix/{name}", f"Merge PR fix/{name} into delivery")


def on_master(sb: Sandbox, w: Path, message: str, files: dict[str, str]) -> str:
    sb.checkout(w, "master")
    sha = sb.commit(w, message, files)
    sb.checkout(w, "delivery")
    return sha


def publish(sb: Sandbox, w: Path) -> Repo:
    """Push both branches and predict from a fresh clone through remote-tracking names."""
    sb.push(w, "master", "delivery")
    return Repo(sb.clone(f"reader{sb.clock.tick()}"))


def real_merge(sb: Sandbox, repo: Repo, mainline: str, delivery: str) -> tuple[bool, set[str]]:
    """What `git merge` in a work tree says: clean?, unmerged paths."""
    scratch = sb.root / f"scratch{sb.clock.tick()}"
    sb.g(sb.root, "clone", "-q", str(repo.path), str(scratch))
    sb.g(scratch, "checkout", "-q", "--detach", sb.g(repo.path, "rev-parse", mainline))
    sb.g(
        scratch,
        "merge",
        "--no-commit",
        "--no-ff",
        sb.g(repo.path, "rev-parse", delivery),
        check=False,
    )
    unmerged = sb.g(scratch, "diff", "--name-only", "--diff-filter=U")
    clean = not unmerged and not sb.g(scratch, "ls-files", "--unmerged")
    return clean, set(unmerged.splitlines())


def agrees(sb: Sandbox, repo: Repo, p: backmerge.Prediction) -> None:
    clean, paths = real_merge(sb, repo, "origin/master", "origin/delivery")
    assert (p.clean, {c.path for c in p.conflicts}) == (clean, paths)


def test_clean(sandbox: Sandbox, w: Path) -> None:
    on_master(sandbox, w, "master feature", {"b.txt": edit(2, "M")})
    l1 = land(sandbox, w, "one", {"a.txt": edit(2, "D")})
    repo = publish(sandbox, w)
    p = predict(repo, mainline="origin/master", delivery="origin/delivery")
    agrees(sandbox, repo, p)
    fix = sandbox.g(w, "rev-parse", "fix/one")
    assert p.pending and p.clean and p.conflicts == ()
    assert p.commits == (fix, l1)
    assert p.to_json("delivery") == {
        "delivery": "delivery",
        "clean": True,
        "commits": [fix, l1],
        "conflicts": [],
    }


def test_one_conflicting_fix(sandbox: Sandbox, w: Path) -> None:
    l1 = land(sandbox, w, "one", {"b.txt": edit(5, "D1")})
    l2 = land(sandbox, w, "two", {"a.txt": edit(4, "D2")})
    land(sandbox, w, "three", {"g.txt": edit(8, "D3")})
    on_master(sandbox, w, "master refactor", {"a.txt": edit(4, "M")})
    repo = publish(sandbox, w)
    p = predict(repo, mainline="origin/master", delivery="origin/delivery")
    agrees(sandbox, repo, p)
    assert not p.clean
    assert p.conflicts == (Conflict("a.txt", l2),)
    assert len(p.commits) == 6 and p.commits[1] == l1
    assert p.to_json("delivery-2026.11")["conflicts"] == [{"path": "a.txt", "introduced_by": l2}]


def test_two_fixes_conflicting_in_different_files(sandbox: Sandbox, w: Path) -> None:
    l1 = land(sandbox, w, "one", {"a.txt": edit(1, "D1")})
    land(sandbox, w, "clean", {"f.txt": "D\n"})
    sandbox.commit(w, "direct commit on delivery", {"g.txt": edit(3, "D3")})
    l3 = sandbox.g(w, "rev-parse", "HEAD")
    on_master(sandbox, w, "master", {"a.txt": edit(1, "M1"), "g.txt": edit(3, "M3")})
    repo = publish(sandbox, w)
    p = predict(repo, mainline="origin/master", delivery="origin/delivery")
    agrees(sandbox, repo, p)
    # A direct commit is its own landing; a PR is attributed to its merge commit.
    assert p.conflicts == (Conflict("a.txt", l1), Conflict("g.txt", l3))


def test_conflict_only_from_two_landings_combined(sandbox: Sandbox, w: Path) -> None:
    # fix one makes master's own change (clean alone); fix two then changes that line again:
    # picked alone onto master it applies cleanly, yet delivery as a whole conflicts.
    on_master(sandbox, w, "master", {"a.txt": edit(6, "M")})
    land(sandbox, w, "one", {"a.txt": edit(6, "M")})
    l2 = land(sandbox, w, "two", {"a.txt": edit(6, "D")})
    repo = publish(sandbox, w)
    # The change of fix two, by itself, applies to master without conflict…
    sandbox.checkout(w, "-b", "probe", "master")
    assert sandbox.g(w, "cherry-pick", "fix/two", check=False) != ""
    assert sandbox.g(w, "status", "--porcelain") == ""
    sandbox.checkout(w, "delivery")
    first = merge_batch(repo, [("origin/master", sandbox.g(w, "rev-parse", "fix/one"))])
    assert first[0].clean
    p = predict(repo, mainline="origin/master", delivery="origin/delivery")
    agrees(sandbox, repo, p)
    assert p.conflicts == (Conflict("a.txt", l2),)


def test_criss_cross_history(sandbox: Sandbox, w: Path) -> None:
    d1 = land(sandbox, w, "one", {"b.txt": edit(1, "D1")})
    m1 = on_master(sandbox, w, "master one", {"g.txt": edit(9, "M1")})
    # A back-merge of d1 into master and (a rule violation, but real life) a sync of m1 into
    # delivery, both cut before the other: two merge bases.
    sandbox.checkout(w, "-b", "bm", m1)
    sandbox.merge(w, d1, "Back-merge d1")
    sandbox.checkout(w, "delivery")
    sandbox.merge(w, m1, "Sync master into delivery")
    sandbox.checkout(w, "master")
    sandbox.g(w, "merge", "-q", "--ff-only", "bm")
    sandbox.checkout(w, "delivery")
    l2 = land(sandbox, w, "two", {"a.txt": edit(2, "D2")})
    land(sandbox, w, "three", {"f.txt": "D3\n"})
    on_master(sandbox, w, "master two", {"a.txt": edit(2, "M2"), "f.txt": "f\nmore\n"})
    repo = publish(sandbox, w)
    bases = repo.out("merge-base", "--all", "origin/master", "origin/delivery").split()
    assert len(bases) == 2
    p = predict(repo, mainline="origin/master", delivery="origin/delivery")
    agrees(sandbox, repo, p)
    assert p.conflicts == (Conflict("a.txt", l2), Conflict("f.txt", p.commits[-1]))
    assert p.commits[-1] == repo.resolve("origin/delivery")


def test_modify_delete_and_rename_delete(sandbox: Sandbox, w: Path) -> None:
    l1 = land(sandbox, w, "modify", {"f.txt": "fixed\n"})
    sandbox.checkout(w, "-b", "fix/rename", "delivery")
    sandbox.g(w, "mv", "g.txt", "h.txt")
    sandbox.g(w, "commit", "-q", "-m", "rename g")
    sandbox.checkout(w, "delivery")
    l2 = sandbox.merge(w, "fix/rename", "Merge PR fix/rename")
    sandbox.checkout(w, "master")
    sandbox.g(w, "rm", "-q", "f.txt", "g.txt")
    sandbox.g(w, "commit", "-q", "-m", "drop f and g")
    sandbox.checkout(w, "delivery")
    repo = publish(sandbox, w)
    p = predict(repo, mainline="origin/master", delivery="origin/delivery")
    agrees(sandbox, repo, p)
    assert p.conflicts == (Conflict("f.txt", l1), Conflict("h.txt", l2))


def test_nothing_pending(sandbox: Sandbox, w: Path) -> None:
    on_master(sandbox, w, "master only", {"a.txt": edit(3, "M")})
    repo = publish(sandbox, w)
    p = predict(repo, mainline="origin/master", delivery="origin/delivery")
    assert (p.pending, p.clean, p.commits, p.conflicts) == (False, True, (), ())
    assert p.to_json("delivery") == {
        "delivery": "delivery",
        "clean": True,
        "commits": [],
        "conflicts": [],
    }


@pytest.mark.parametrize("which", ["mainline", "delivery"])
def test_unknown_ref_is_a_usage_error(sandbox: Sandbox, w: Path, which: str) -> None:
    repo = publish(sandbox, w)
    refs = {"mainline": "origin/master", "delivery": "origin/delivery", which: "origin/nope"}
    with pytest.raises(ProdfixError) as err:
        predict(repo, **refs)
    assert err.value.code == Exit.USAGE
    assert err.value.message == f"{which} 'origin/nope' is not a commit in {repo.path}"
    assert err.value.hint == "check the name, or fetch it first (`git fetch origin nope`)"


def test_bisection_matches_linear_walk(
    sandbox: Sandbox, w: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 20 landings, each editing one line of one file cumulatively; master edits line 5 of
    # b.txt and line 9 of g.txt, which landings 4 and 8 (0-based) touch first.
    content = {f: list(NINE) for f in ("a.txt", "b.txt", "g.txt")}
    landings = []
    for i in range(20):
        f = ("a.txt", "b.txt", "g.txt")[i % 3]
        content[f][i % 9] = f"D{i}"
        landings.append(land(sandbox, w, f"n{i}", {f: lines(content[f])}))
    on_master(sandbox, w, "master", {"b.txt": edit(5, "M"), "g.txt": edit(9, "M")})
    repo = publish(sandbox, w)
    linear = predict(repo, mainline="origin/master", delivery="origin/delivery")
    monkeypatch.setattr(backmerge, "bisect_pays", lambda landings, paths: True)
    bisected = predict(repo, mainline="origin/master", delivery="origin/delivery")
    agrees(sandbox, repo, linear)
    assert linear == bisected
    # b.txt: n4 edits line 5 (i % 9 == 4); g.txt: n8 edits line 9.
    assert linear.conflicts == (Conflict("b.txt", landings[4]), Conflict("g.txt", landings[8]))


def test_bisection_only_for_few_conflicts_in_a_long_backlog() -> None:
    assert not backmerge.bisect_pays(32, 1)  # short: always linear
    assert backmerge.bisect_pays(200, 3)  # 2·3·8 = 48 < 200
    assert not backmerge.bisect_pays(64, 24)  # measured: linear faster


def test_merge_batch_record_format(sandbox: Sandbox, w: Path) -> None:
    land(sandbox, w, "one", {"a.txt": edit(2, "D")})
    on_master(sandbox, w, "master", {"a.txt": edit(2, "M")})
    repo = Repo(w)
    conflicted, clean, same = merge_batch(
        repo, [("master", "delivery"), ("master", "fix/one^"), ("master", "master")]
    )
    assert (conflicted.clean, conflicted.paths) == (False, frozenset({"a.txt"}))
    assert (clean.clean, clean.paths) == (True, frozenset())
    assert same.tree == repo.out("rev-parse", "master^{tree}")
    assert conflicted.tree == repo.merge_tree("master", "delivery").tree
