"""`prodfix sync`: the planned sync of master into a delivery branch, end to end on real
repositories (a bare origin, the user's clone, a colleague's clone) and the embedded forge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from prodfix.adapters.forge import MergeMethod
from prodfix.adapters.forge.embedded.forge import EmbeddedForge
from prodfix.adapters.git import Repo
from prodfix.types import BranchName, PrNumber
from tests.cli import prodfix
from tests.gitfix import Sandbox
from tests.scenario import (
    World,
    clone_state,
    fixed_dates,
    land_on_delivery,
    prs,
    remote_refs,
    service_toml,
    service_world,
)

REASON = "planned sync of master at {short} into delivery"


@pytest.fixture(autouse=True)
def _dates(monkeypatch: pytest.MonkeyPatch) -> None:
    fixed_dates(monkeypatch)


def rev(w: World, ref: str, where: Path | None = None) -> str:
    return w.sb.g(where or w.sb.origin, "rev-parse", ref)


def head_of(w: World) -> str:
    return f"sync/delivery-{rev(w, 'master')[:7]}"


def record(w: World, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        w.sb.g(w.sb.origin, "show", f"refs/prodfix/syncs/{name}:record.json")
    )
    return doc


def other_clone(w: World, name: str = "colleague") -> Path:
    path = w.sb.root / name
    if not path.exists():
        w.sb.g(w.sb.root, "clone", "-q", str(w.sb.origin), str(path))
    return path


def conflict_world(sb: Sandbox) -> World:
    """master and delivery both changed app.py since the cut: merging master conflicts."""
    w = service_world(sb, conflict_on_master=True)
    land_on_delivery(w, {"app.py": "def answer():\n    return 42\n"})
    return w


def resolve(w: World) -> None:
    (w.work / "app.py").write_text("def answer():\n    return 42  # and 43 on master\n")
    w.sb.g(w.work, "add", "app.py")


def approve_and_merge(w: World, head: str) -> None:
    """Tested on the team's side (in a colleague's clone), approved, merged by `next`."""
    tester = other_clone(w, "tester")
    w.sb.g(tester, "fetch", "-q", "origin")
    w.sb.g(tester, "switch", "-q", head)
    assert prodfix(tester, "test").code == 0
    number = next(n for n, p in prs(w.sb, w.sb.origin).items() if p["head"] == head)
    assert prodfix(w.work, "pr", "approve", str(number)).code == 0
    r = prodfix(w.work, "next", head, "--merge")
    assert r.code == 0, r.out + r.err
    assert prs(w.sb, w.sb.origin)[number]["state"] == "merged", r.out


# -- the clean sync ----------------------------------------------------------------------------


def test_clean_sync_pushes_a_marked_merge_and_opens_the_pr(sandbox: Sandbox) -> None:
    w = service_world(sandbox)
    before = clone_state(w.sb, w.work)
    d_tip, m_tip = rev(w, "delivery"), rev(w, "master")
    head = head_of(w)
    r = prodfix(w.work, "sync")
    assert r.code == 0, r.out + r.err
    assert "sync PR #1 into delivery" in r.out
    assert f"`prodfix next {head} --merge`" in r.out
    sync = rev(w, head)
    assert w.sb.g(w.sb.origin, "rev-list", "--parents", "-n1", sync).split()[1:] == [d_tip, m_tip]
    reason = REASON.format(short=m_tip[:7])
    assert w.sb.g(w.sb.origin, "log", "-1", "--format=%B", sync) == (
        "Merge master into delivery (sync)\n\n"
        f"Brings 1 commit of master (up to {m_tip[:7]}) into delivery: a planned sync "
        "prepared by prodfix.\n\n"
        f"Prodfix-Sync: Ada Tester <ada@example.com> {reason}"
    )
    trailer = w.sb.g(
        w.sb.origin, "log", "-1", "--format=%(trailers:key=Prodfix-Sync,valueonly)", sync
    )
    assert trailer == f"Ada Tester <ada@example.com> {reason}"
    assert prs(w.sb, w.sb.origin) == {
        1: {
            "number": 1,
            "state": "open",
            "head": head,
            "base": "delivery",
            "title": f"Sync master into delivery ({m_tip[:7]})",
        }
    }
    doc = record(w, f"delivery-{m_tip[:7]}")
    assert {k: doc[k] for k in ("name", "kind", "branch", "delivery", "base", "mainline_sha")} == {
        "name": f"delivery-{m_tip[:7]}",
        "kind": "sync",
        "branch": head,
        "delivery": "delivery",
        "base": d_tip,
        "mainline_sha": m_tip,
    }
    assert doc["head"] == sync and doc["reason"] == reason and doc["done_at"] is None
    # made with plumbing: the checkout, its files and index are as they were
    after = clone_state(w.sb, w.work)
    assert after["branches"] == {**before["branches"], f"refs/heads/{head}": sync}
    assert {k: after[k] for k in ("head", "status", "files")} == {
        k: before[k] for k in ("head", "status", "files")
    }


def test_pr_body_lists_the_changes_and_mentions_the_people_to_ask(sandbox: Sandbox) -> None:
    w = service_world(sandbox)
    seed = w.sb.root / "seed"
    w.sb.g(seed, "switch", "-q", "master")
    (seed / "CODEOWNERS").write_text("* @core\n/payments/ @team-payments\n")
    (seed / "payments").mkdir()
    (seed / "payments" / "api.py").write_text("PAY = 1\n")
    w.sb.g(seed, "add", "-A")
    w.sb.g(seed, "commit", "-q", "--author", "Carol Payer <carol@example.com>", "-m", "payments")
    w.sb.push(seed, "master")
    assert prodfix(w.work, "sync", "--reason", "agreed with\n payments").code == 0
    body = json.loads(w.sb.g(w.sb.origin, "show", "refs/prodfix/pulls/1/meta:pr.json"))["body"]
    master = w.sb.g(w.sb.origin, "log", "--reverse", "--format=%h %s (%ae)", "delivery..master")
    changes = [f"- {ln}" for ln in master.splitlines()]
    assert len(changes) == 2
    assert body.splitlines()[3:6] == ["Changes:", *changes]
    assert (
        "Please check these changes on your side: ada@example.com, carol@example.com, @core, "
        "@team-payments"
    ) in body
    assert f"`git switch {head_of(w)}`" in body
    trailer = w.sb.g(
        w.sb.origin, "log", "-1", "--format=%(trailers:key=Prodfix-Sync,valueonly)", head_of(w)
    )
    assert trailer == "Ada Tester <ada@example.com> agreed with payments"  # one line


def test_sync_tested_merged_built_and_finished_then_check_accepts_it(sandbox: Sandbox) -> None:
    w = service_world(sandbox)
    assert prodfix(w.work, "sync").code == 0
    head, m_tip = head_of(w), rev(w, "master")
    sync = rev(w, head)
    untested = prodfix(w.work, "next", head, "--merge")
    assert untested.code == 0 and f"waiting at test: switch to {head}" in untested.out
    assert prs(w.sb, w.sb.origin)[1]["state"] == "open"  # never merged untested
    w.sb.g(w.work, "switch", "-q", head)
    tested = prodfix(w.work, "test")
    assert tested.code == 0, tested.out + tested.err
    assert f"refs/prodfix/tests/{sync}" in remote_refs(w.sb, w.sb.origin)  # shared at once
    status = json.loads(prodfix(w.work, "status", "--json").out)
    entry = status["fixes"][0]
    assert (entry["name"], entry["repos"][0]["kind"], entry["repos"][0]["branch"]) == (
        head,
        "sync",
        head,
    )
    assert [(s["id"], s["state"]) for s in entry["repos"][0]["steps"]] == [
        ("prepare", "done"),
        ("test", "done"),
        ("propose", "done"),
        ("merge", "waiting"),
        ("build", "pending"),
        ("deploy", "skipped"),
        ("backmerge", "skipped"),
    ]
    approve_and_merge(w, head)
    tip = rev(w, "delivery")
    assert w.sb.g(w.sb.origin, "rev-list", "--parents", "-n1", tip).split()[2] == sync
    refs = remote_refs(w.sb, w.sb.origin)
    assert f"refs/heads/{head}" not in refs  # the throwaway head went when it finished
    assert record(w, f"delivery-{m_tip[:7]}")["done_at"]
    shown = json.loads(prodfix(w.work, "status", "--all", "--json").out)["fixes"][0]
    assert shown["done"] is True
    steps = {s["id"]: (s["state"], s["detail"]) for s in shown["repos"][0]["steps"]}
    assert steps["merge"] == ("done", f"on delivery as {tip[:7]}")
    assert steps["build"][0] == "done"
    assert steps["backmerge"] == ("skipped", "a sync needs no back-merge")
    assert json.loads(prodfix(w.work, "status", "--json").out)["fixes"] == []
    # the policy accepts the merged sync …
    check = prodfix(w.work, "check", "delivery", "--json")
    assert check.code == 0, check.out
    found = json.loads(check.out)["findings"]
    assert [(f["rule"], f["severity"], f["commits"]) for f in found] == [
        ("master-merged-into-delivery", "info", [tip])
    ]
    # … and still flags an unmarked master merge made afterwards
    colleague = other_clone(w)
    w.sb.g(colleague, "switch", "-q", "master")
    w.sb.commit(colleague, "master: feature C", {"feature_c.py": "C = 3\n"})
    w.sb.push(colleague, "master")
    w.sb.g(colleague, "switch", "-q", "delivery")
    leak = w.sb.merge(colleague, "master", "Merge master into delivery")
    w.sb.push(colleague, "delivery")
    again = prodfix(w.work, "check", "delivery", "--json")
    assert again.code == 1, again.out
    errors = [f for f in json.loads(again.out)["findings"] if f["severity"] == "error"]
    assert [(f["rule"], f["commits"]) for f in errors] == [("master-merged-into-delivery", [leak])]


def test_dry_run_json_is_the_preview_and_changes_nothing(sandbox: Sandbox) -> None:
    w = service_world(sandbox)
    colleague = other_clone(w)
    w.sb.g(colleague, "switch", "-q", "master")
    newer = w.sb.commit(colleague, "master: feature C", {"feature_c.py": "C = 3\n"})
    w.sb.push(colleague, "master")
    before_local = w.sb.g(w.work, "for-each-ref", "--format=%(refname) %(objectname)")
    before_remote = remote_refs(w.sb, w.sb.origin)
    offline = prodfix(w.work, "sync", "--dry-run", "--json", "--no-fetch")
    assert offline.code == 0 and offline.err == ""
    m_known = rev(w, "origin/master", w.work)
    assert m_known != newer  # not fetched: the preview is of what the clone knows
    assert json.loads(offline.out) == {
        "into": "delivery",
        "from": "master",
        "clean": True,
        "commits": [
            {
                "sha": m_known,
                "author": "ada@example.com",
                "subject": "master only: feature B",
                "pr": None,
                "paths": ["feature_b.py"],
            }
        ],
        "ask": ["ada@example.com"],
        "conflicts": [],
    }
    assert w.sb.g(w.work, "for-each-ref", "--format=%(refname) %(objectname)") == before_local
    online = prodfix(w.work, "sync", "--dry-run", "--json")
    assert [c["sha"] for c in json.loads(online.out)["commits"]] == [m_known, newer]
    human = prodfix(w.work, "sync", "--dry-run")
    assert human.code == 0 and "would: push" in human.out
    assert remote_refs(w.sb, w.sb.origin) == before_remote
    assert w.sb.g(w.work, "branch", "--list", "sync/*") == ""


def test_preview_groups_by_merged_pr_names_owners_and_attributes_conflicts(
    sandbox: Sandbox,
) -> None:
    """Commits landed by PRs on the embedded forge carry the PR's number; CODEOWNERS of the
    touched paths are asked after the authors; a conflict is blamed on the master commit
    (its landing) whose prefix first conflicts."""
    w = service_world(sandbox, conflict_on_master=True)
    land_on_delivery(w, {"app.py": "def answer():\n    return 42\n"})
    seed = w.sb.root / "seed"
    w.sb.g(seed, "switch", "-q", "master")
    w.sb.commit(seed, "codeowners", {".github/CODEOWNERS": "* @core\n/payments/ @team-pay\n"})
    w.sb.push(seed, "master")
    w.sb.g(seed, "switch", "-q", "-c", "feat/pay")
    for name in ("api", "db"):
        (seed / "payments").mkdir(exist_ok=True)
        (seed / "payments" / f"{name}.py").write_text(f"{name} = 1\n")
        w.sb.g(seed, "add", "-A")
        w.sb.g(seed, "commit", "-q", "--author", "Carol <carol@example.com>", "-m", f"pay {name}")
    w.sb.push(seed, "feat/pay")
    author = EmbeddedForge(Repo(seed), identity="Carol <carol@example.com>")
    pr = author.create_pr(BranchName("feat/pay"), BranchName("master"), "Payments", "")
    EmbeddedForge(Repo(seed), identity="Rui <rui@example.com>").approve(pr.number)
    merger = EmbeddedForge(Repo(seed), identity="Mia <mia@example.com>")
    merged = merger.merge(pr.number, method=MergeMethod.MERGE, expected_head=pr.head_sha)
    assert merged.merge_commit is not None
    r = prodfix(w.work, "sync", "--dry-run", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    log = w.sb.g(w.sb.origin, "log", "--format=%H %s", "delivery..master").splitlines()
    by_subject = {line.split(" ", 1)[1]: line.split(" ", 1)[0] for line in log}
    conflicting, owners_commit = by_subject["master: answer 43"], by_subject["codeowners"]
    api, db = by_subject["pay api"], by_subject["pay db"]
    merge = merged.merge_commit
    assert [(c["sha"], c["pr"], c["author"], c["paths"]) for c in doc["commits"]] == [
        (conflicting, None, "ada@example.com", ["app.py"]),
        (owners_commit, None, "ada@example.com", [".github/CODEOWNERS"]),
        (api, 1, "carol@example.com", ["payments/api.py"]),
        (db, 1, "carol@example.com", ["payments/db.py"]),
        (merge, 1, "mia@example.com", []),
    ]
    assert doc["ask"] == [
        "ada@example.com",
        "carol@example.com",
        "mia@example.com",
        "@core",
        "@team-pay",
    ]
    assert (doc["clean"], doc["conflicts"]) == (
        False,
        [{"path": "app.py", "introduced_by": conflicting}],
    )
    human = prodfix(w.work, "sync", "--dry-run")
    assert "  PR #1 Payments\n" in human.out
    assert "ask before merging (CODEOWNERS: .github/CODEOWNERS):" in human.out
    assert f"  app.py  (first from {conflicting[:7]} master: answer 43)" in human.out


# -- conflicts ---------------------------------------------------------------------------------


def test_conflicting_sync_stops_then_continue_commits_the_marked_merge(sandbox: Sandbox) -> None:
    w = conflict_world(sandbox)
    head, m_tip, d_tip = head_of(w), rev(w, "master"), rev(w, "delivery")
    r = prodfix(w.work, "sync", "--reason", "monthly")
    assert r.code == 1, r.out + r.err
    assert "sync conflicts in: app.py" in r.err and "prodfix continue" in r.err
    assert w.sb.g(w.work, "symbolic-ref", "--short", "HEAD") == head
    assert (w.work / ".git" / "MERGE_HEAD").exists()
    assert f"refs/heads/{head}" not in remote_refs(w.sb, w.sb.origin)  # nothing pushed yet
    unresolved = prodfix(w.work, "continue")
    assert unresolved.code == 1 and "app.py" in unresolved.err
    resolve(w)
    done = prodfix(w.work, "continue")
    assert done.code == 0, done.out + done.err
    assert w.sb.g(w.work, "symbolic-ref", "--short", "HEAD") == "master"  # back where it was
    sync = rev(w, head)
    assert w.sb.g(w.sb.origin, "rev-list", "--parents", "-n1", sync).split()[1:] == [d_tip, m_tip]
    assert (
        w.sb.g(w.sb.origin, "show", f"{sync}:app.py")
        == "def answer():\n    return 42  # and 43 on master"
    )
    assert (
        w.sb.g(w.sb.origin, "log", "-1", "--format=%(trailers:key=Prodfix-Sync,valueonly)", sync)
        == "Ada Tester <ada@example.com> monthly"
    )
    assert w.sb.g(w.sb.origin, "log", "-1", "--format=%B", sync) == (
        "Merge master into delivery (sync)\n\n"
        f"Brings 1 commit of master (up to {m_tip[:7]}) into delivery: a planned sync "
        "prepared by prodfix.\n\n"
        "Prodfix-Sync: Ada Tester <ada@example.com> monthly"
    )  # exactly: no `# Conflicts:` lines after the trailer
    assert prs(w.sb, w.sb.origin)[1]["head"] == head
    check = prodfix(w.work, "check", head, "--into", "delivery", "--json")
    found = {(f["rule"], f["severity"]) for f in json.loads(check.out)["findings"]}
    # a marked sync may go into delivery (the old hotfix's missing back-merge is another story)
    assert found == {("master-merged-into-delivery", "info"), ("missing-backmerge", "error")}


def test_conflicting_sync_then_abort_restores_everything(sandbox: Sandbox) -> None:
    w = conflict_world(sandbox)
    before_clone, before_remote = clone_state(w.sb, w.work), remote_refs(w.sb, w.sb.origin)
    assert prodfix(w.work, "sync").code == 1
    r = prodfix(w.work, "abort")
    assert r.code == 0, r.out + r.err
    assert clone_state(w.sb, w.work) == before_clone
    assert remote_refs(w.sb, w.sb.origin) == before_remote


# -- merged by hand ----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["forge-ui", "plain-git"])
def test_a_sync_merged_by_hand_is_still_a_sync(sandbox: Sandbox, how: str) -> None:
    w = service_world(sandbox)
    assert prodfix(w.work, "sync").code == 0
    head = head_of(w)
    colleague = other_clone(w)
    if how == "forge-ui":
        assert prodfix(colleague, "pr", "approve", "1").code == 0  # the reviewer
        merged = prodfix(colleague, "pr", "merge", "1")
        assert merged.code == 0, merged.out + merged.err
    else:
        w.sb.g(colleague, "switch", "-q", "delivery")
        w.sb.merge(colleague, f"origin/{head}", "merged by hand")
        w.sb.push(colleague, "delivery")
    status = json.loads(prodfix(w.work, "status", "--json").out)
    [entry] = status["fixes"]
    assert entry["name"] == head and entry["repos"][0]["kind"] == "sync"
    steps = {s["id"]: s["state"] for s in entry["repos"][0]["steps"]}
    assert steps["merge"] == "done" and steps["backmerge"] == "skipped"
    # the other clone, which did not make the sync, observes the very same steps
    theirs = json.loads(prodfix(colleague, "status", "--json").out)["fixes"]
    assert [(f["name"], f["repos"][0]["steps"]) for f in theirs] == [
        (head, entry["repos"][0]["steps"])
    ]
    check = prodfix(w.work, "check", "delivery")
    assert check.code == 0, check.out + check.err
    assert "marked sync" in check.out


# -- independence from fixes -------------------------------------------------------------------


def test_a_fix_proposed_while_a_sync_pr_is_open_stays_independent(sandbox: Sandbox) -> None:
    w = service_world(sandbox)
    assert prodfix(w.work, "sync").code == 0
    head = head_of(w)
    assert prodfix(w.work, "start", "npe").code == 0
    w.sb.commit(w.work, "fix: answer 42", {"app.py": "def answer():\n    return 42\n"})
    assert prodfix(w.work, "test").code == 0
    proposed = prodfix(w.work, "propose")
    assert proposed.code == 0, proposed.out + proposed.err
    assert {n: (p["head"], p["base"]) for n, p in prs(w.sb, w.sb.origin).items()} == {
        1: (head, "delivery"),
        2: ("fix/npe", "delivery"),
    }
    status = json.loads(prodfix(w.work, "status", "--json").out)
    assert {f["name"]: f["repos"][0]["kind"] for f in status["fixes"]} == {
        head: "sync",
        "npe": "python",
    }
    # a sync never rides inside a fix: a fix branch that merged the sync head is refused
    assert prodfix(w.work, "start", "rides").code == 0
    w.sb.commit(w.work, "fix: rides", {"ride.txt": "x\n"})
    w.sb.merge(w.work, f"origin/{head}", "take the sync along")
    refused = prodfix(w.work, "propose")
    assert refused.code == 3, refused.out + refused.err
    assert "branched-from-master" in refused.err
    assert len(prs(w.sb, w.sb.origin)) == 2
    assert rev(w, "fix/rides") == rev(w, "delivery")  # as `start` published it: not pushed
    fix_head = rev(w, "fix/npe")
    approve_and_merge(w, head)  # the sync goes first; the fix is untouched by it
    assert rev(w, "fix/npe") == fix_head
    assert prodfix(w.work, "pr", "approve", "2").code == 0
    r = prodfix(w.work, "next", "npe", "--merge")
    assert r.code == 0, r.out + r.err
    assert prs(w.sb, w.sb.origin)[2]["state"] == "merged"
    check = json.loads(prodfix(w.work, "check", "delivery", "--json").out)
    assert {(f["rule"], f["severity"]) for f in check["findings"]} == {
        ("master-merged-into-delivery", "info"),  # the sync
        ("missing-backmerge", "error"),  # the fix, not back-merged yet (fixed old dates)
    }


# -- undo and refusals -------------------------------------------------------------------------


def test_undo_before_the_merge_withdraws_the_sync(sandbox: Sandbox) -> None:
    w = service_world(sandbox)
    before = remote_refs(w.sb, w.sb.origin)
    assert prodfix(w.work, "sync").code == 0
    r = prodfix(w.work, "undo")
    assert r.code == 0, r.out + r.err
    after = remote_refs(w.sb, w.sb.origin)
    assert {k: v for k, v in after.items() if not k.startswith("refs/prodfix/pulls/")} == before
    assert prs(w.sb, w.sb.origin)[1]["state"] == "closed"
    assert w.sb.g(w.work, "branch", "--list", "sync/*") == ""


def test_undo_after_the_merge_is_refused(sandbox: Sandbox) -> None:
    w = service_world(sandbox)
    assert prodfix(w.work, "sync").code == 0
    head = head_of(w)
    colleague = other_clone(w)
    assert prodfix(colleague, "pr", "approve", "1").code == 0
    assert prodfix(colleague, "pr", "merge", "1").code == 0
    before = remote_refs(w.sb, w.sb.origin)
    r = prodfix(w.work, "undo")
    assert r.code == 3, r.out + r.err
    assert f"{head} is merged into delivery by PR #1: a merged sync cannot be undone" in r.err
    assert "revert it on delivery by hand" in r.err
    assert remote_refs(w.sb, w.sb.origin) == before


def test_several_delivery_branches_and_no_into(sandbox: Sandbox) -> None:
    w = service_world(sandbox)
    seed = w.sb.root / "seed"
    w.sb.g(seed, "push", "-q", "origin", "delivery:delivery-2026.12")
    r = prodfix(w.work, "sync", "--dry-run")
    assert r.code == 2
    assert "several delivery branches on origin: delivery, delivery-2026.12" in r.err
    assert "prodfix sync --into delivery-2026.12" in r.err
    assert prodfix(w.work, "sync", "--into", "delivery-2026.12", "--dry-run").code == 0
    wrong = prodfix(w.work, "sync", "--into", "master", "--dry-run")
    assert wrong.code == 2 and "'master' is not a delivery branch" in wrong.err


def test_usage_nothing_to_sync_and_one_sync_at_a_time(sandbox: Sandbox) -> None:
    w = service_world(sandbox)
    assert prodfix(w.work, "sync", "--json").code == 2  # --json goes with --dry-run
    assert prodfix(w.work, "sync").code == 0
    again = prodfix(w.work, "sync")
    assert again.code == 0 and "the sync PR is open: #1" in again.out
    assert len(prs(w.sb, w.sb.origin)) == 1
    colleague = other_clone(w)
    w.sb.g(colleague, "switch", "-q", "master")
    w.sb.commit(colleague, "master: feature C", {"feature_c.py": "C = 3\n"})
    w.sb.push(colleague, "master")
    blocked = prodfix(w.work, "sync")
    assert blocked.code == 2
    assert f"another sync of delivery is open: PR #1 ({head_of_old(w)})" in blocked.err
    assert len(prs(w.sb, w.sb.origin)) == 1
    # delivery already has master: nothing to do
    w2 = service_world(Sandbox(sandbox.root.parent / "sb2"), toml=service_toml())
    seed = w2.sb.root / "seed"
    w2.sb.g(seed, "push", "-q", "origin", "master:delivery", "--force")
    nothing = prodfix(w2.work, "sync")
    assert (
        nothing.code == 0 and "nothing to sync: delivery has every commit of master" in nothing.out
    )


def head_of_old(w: World) -> str:
    return next(p["head"] for p in prs(w.sb, w.sb.origin).values())


def test_a_closed_sync_pr_abandons_the_sync_and_sync_proposes_it_again(sandbox: Sandbox) -> None:
    w = service_world(sandbox)
    assert prodfix(w.work, "sync").code == 0
    head = head_of(w)
    EmbeddedForge(Repo(other_clone(w))).close(PrNumber(1))
    assert json.loads(prodfix(w.work, "status", "--json").out)["fixes"] == []  # nothing to do
    [shown] = json.loads(prodfix(w.work, "status", "--all", "--json").out)["fixes"]
    steps = {s["id"]: (s["state"], s["detail"]) for s in shown["repos"][0]["steps"]}
    assert steps["prepare"][0] == "done" and steps["backmerge"][0] == "skipped"
    assert steps["merge"] == ("skipped", "abandoned: PR #1 was closed without merging")
    again = prodfix(w.work, "sync")
    assert again.code == 0, again.out + again.err
    assert "push" not in again.out  # the head on the remote is proposed as it is
    assert {n: (p["head"], p["state"]) for n, p in prs(w.sb, w.sb.origin).items()} == {
        1: (head, "closed"),
        2: (head, "open"),
    }
    [entry] = json.loads(prodfix(w.work, "status", "--json").out)["fixes"]
    assert entry["name"] == head


@pytest.mark.parametrize("method", ["squash", "rebase"])
def test_a_sync_pr_is_never_squashed_or_rebased(sandbox: Sandbox, method: str) -> None:
    w = service_world(sandbox)
    assert prodfix(w.work, "sync").code == 0
    assert prodfix(w.work, "pr", "approve", "1").code == 0
    before = rev(w, "delivery")
    r = prodfix(w.work, "pr", "merge", "1", "--method", method)
    assert r.code == 2
    assert f"refusing to {method} a sync: the marked merge (Prodfix-Sync) must reach" in r.err
    assert rev(w, "delivery") == before and prs(w.sb, w.sb.origin)[1]["state"] == "open"


def test_a_preview_needs_no_git_identity_a_sync_does(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = service_world(sandbox)
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("EMAIL", "")
    w.sb.g(w.work, "config", "user.useConfigOnly", "true")
    preview = prodfix(w.work, "sync", "--dry-run", "--json")
    assert preview.code == 0, preview.err
    refused = prodfix(w.work, "sync")
    assert refused.code == 2 and "git does not know who you are" in refused.err
    assert prs(w.sb, w.sb.origin) == {}
