"""`prodfix audit`: many real repositories at once — rules, fixes, back-merge PRs, DC drift,
failed rows that never stop the others, the JSON document, exit codes, parallelism."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from prodfix import config
from prodfix.adapters.forge.embedded.forge import EmbeddedForge
from prodfix.adapters.git import Repo
from prodfix.policy.gate import check_repo
from prodfix.types import BranchName
from prodfix.workflow import audit_run
from tests.cli import Run, prodfix
from tests.gitfix import EPOCH, Sandbox

DAY = 86_400
NOW = EPOCH + 10 * DAY  # every fixed-date commit landed ~10 days before "now"
PR_OPENED = EPOCH + 2 * DAY  # the back-merge PR: 8 days old
REPO_KEYS = {"path", "ok", "error", "findings", "fixes", "backmerge_prs", "drift", "deliveries"}
IMAGE = "registry.example.com/sre/triggers"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  template:
    spec:
      containers:
        - name: app
          image: {image}:{tag}
"""


def service(sb: Sandbox) -> tuple[Path, str]:
    """origin: master (base, A) with delivery cut at base; a clone. Returns (clone, base)."""
    sb.init_origin()
    w = sb.clone("work")
    base = sb.commit(w, "base", {"app.txt": "1\n"})
    sb.push(w, "master")
    sb.g(w, "branch", "delivery")
    sb.push(w, "delivery")
    sb.commit(w, "master: feature A")
    sb.push(w, "master")
    return w, base


def land_on_delivery(sb: Sandbox, w: Path, branch: str, start: str, message: str) -> str:
    """A fix branch from `start`, merged --no-ff into delivery and pushed (as a forge does);
    returns the fix commit."""
    sb.g(w, "checkout", "-q", "-b", branch, start)
    sha = sb.commit(w, f"{branch}: the fix")
    sb.g(w, "checkout", "-q", "-B", "delivery", "origin/delivery")
    sb.merge(w, branch, message)
    sb.push(w, "delivery")
    sb.g(w, "checkout", "-q", "master")
    return sha


def deploy_file(dc: str, tag: str, image: str = IMAGE) -> str:
    return DEPLOYMENT.format(name=f"triggers-{dc}", image=image, tag=tag)


@dataclass
class Fleet:
    root: Path
    clean: Path
    leak: Path
    late: Path
    infra: Path
    leak_merge: str
    late_fix: str
    pr_url: str

    def audit(self, *paths: Path, jobs: int = 4) -> Run:
        return prodfix(self.root, "audit", *map(str, paths), "--jobs", str(jobs))

    def audit_json(self, *paths: Path, jobs: int = 4) -> tuple[int, dict[str, Any]]:
        r = prodfix(self.root, "audit", *map(str, paths), "--json", "--jobs", str(jobs))
        return r.code, json.loads(r.out)


def build(tmp_path: Path) -> Fleet:
    clean, _ = service(Sandbox(tmp_path / "clean"))

    sb_leak = Sandbox(tmp_path / "leak")
    leak, _ = service(sb_leak)
    # Rule 2 broken: master merged into delivery by hand, no Prodfix-Sync trailer.
    sb_leak.g(leak, "checkout", "-q", "-B", "delivery", "origin/delivery")
    leak_merge = sb_leak.merge(leak, "origin/master", "Merge master into delivery")
    sb_leak.push(leak, "delivery")

    sb_late = Sandbox(tmp_path / "late")
    late, _ = service(sb_late)
    late_fix = land_on_delivery(
        sb_late, late, "fix/npe", "origin/delivery", "Merge PR #1 fix/npe into delivery"
    )
    # The back-merge PR, opened (forge clock) 2 days after the epoch and still open.
    sb_late.g(late, "push", "-q", "origin", "origin/delivery:refs/heads/backmerge/delivery-x")
    forge = EmbeddedForge(
        Repo(late),
        identity="Ada <ada@example.com>",
        now=lambda: datetime.fromtimestamp(PR_OPENED, UTC),
    )
    pr = forge.create_pr(
        BranchName("backmerge/delivery-x"), BranchName("master"), "Back-merge delivery", ""
    )
    assert pr.number == 1

    sb_infra = Sandbox(tmp_path / "deployment-infra")
    sb_infra.init_origin()
    infra = sb_infra.clone("work")
    files = {
        f"apps/triggers/{dc}/deployment.yaml": deploy_file(dc, tag)
        for dc, tag in (("us1", "1.4.2"), ("eu1", "1.5.0"), ("ap1", "1.4.2"))
    }
    # Another app whose DCs agree: no drift reported for it.
    files |= {
        f"apps/billing/{dc}/deploy.yml": deploy_file(dc, "7.0", "registry.example.com/sre/billing")
        for dc in ("us1", "eu1")
    }
    # Outside apps/<app>/<dc>/: never read.
    files["base/deployment.yaml"] = deploy_file("base", "0.1")
    sb_infra.commit(infra, "deployments", files)
    sb_infra.push(infra, "master")
    return Fleet(tmp_path, clean, leak, late, infra, leak_merge, late_fix, pr.url)


CLONES = ("clean", "leak", "late", "deployment-infra")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    """Built once per module (git processes are the slow part), copied for each test."""
    root = tmp_path_factory.mktemp("fleet")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(root))  # no user git config while building
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        (root / ".gitconfig").write_text("[init]\n\tdefaultBranch = master\n")
        return build(root / "t")


@pytest.fixture
def fleet(template: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fleet:
    monkeypatch.setenv("PRODFIX_NOW", str(NOW))
    root = tmp_path / "fleet"
    shutil.copytree(template.root, root, symlinks=True)
    for name in CLONES:  # the clones name their origin by absolute path
        Sandbox(root).g(
            root / name / "work", "remote", "set-url", "origin", str(root / name / "origin.git")
        )
    late_origin = root / "late" / "origin.git"
    return replace(
        template,
        root=root,
        clean=root / "clean" / "work",
        leak=root / "leak" / "work",
        late=root / "late" / "work",
        infra=root / "deployment-infra" / "work",
        pr_url=f"git-pr://{late_origin}#1",
    )


def findings(repo: Path) -> list[dict[str, Any]]:
    """What `check master` finds at NOW: audit must report exactly these."""
    report = check_repo(
        Repo(repo), config.load(repo), ref="master", into=None, fetch=False, now=NOW
    )
    return list(report.to_json()["findings"])


def test_json_document_is_exact_and_failures_do_not_stop_the_others(fleet: Fleet) -> None:
    missing, plain = fleet.root / "missing", fleet.root / "plain"
    plain.mkdir()
    code, doc = fleet.audit_json(fleet.clean, fleet.leak, fleet.late, plain, missing, fleet.infra)
    assert code == 1
    assert set(doc) == {"ok", "repos"}
    assert doc["ok"] is False
    repos = doc["repos"]
    assert [r["path"] for r in repos] == [
        str(p) for p in (fleet.clean, fleet.leak, fleet.late, plain, missing, fleet.infra)
    ]
    assert all(set(r) == REPO_KEYS for r in repos)
    clean, leak, late, not_git, gone, infra = repos
    empty = {
        "error": None,
        "findings": [],
        "fixes": [],
        "backmerge_prs": [],
        "drift": [],
        "deliveries": [],
    }

    def lag(path: Path, behind: int, days: int) -> list[dict[str, Any]]:
        """Feature A on master is not on delivery (committed minutes after EPOCH: 9 whole
        days before NOW), and no delivery branch was ever synced."""
        return [
            {
                "path": str(path),
                "branch": "delivery",
                "behind_commits": behind,
                "behind_days": days,
                "last_sync": None,
            }
        ]

    assert clean == {
        **empty,
        "path": str(fleet.clean),
        "ok": True,
        "deliveries": lag(fleet.clean, 1, 9),
    }
    assert leak == {
        **empty,
        "path": str(fleet.leak),
        "ok": False,
        "findings": findings(fleet.leak),
        "deliveries": lag(fleet.leak, 0, 0),  # it has master: by an unmarked merge
    }
    assert [(f["rule"], f["severity"], f["commits"]) for f in leak["findings"]] == [
        ("master-merged-into-delivery", "error", [fleet.leak_merge])
    ]
    assert late == {
        **empty,
        "path": str(fleet.late),
        "ok": False,
        "findings": findings(fleet.late),
        "backmerge_prs": [{"number": 1, "url": fleet.pr_url, "age_days": 8}],
        "deliveries": lag(fleet.late, 1, 9),
    }
    assert [(f["rule"], f["severity"]) for f in late["findings"]] == [
        ("missing-backmerge", "error")
    ]
    assert fleet.late_fix in late["findings"][0]["commits"]
    assert not_git == {
        **empty,
        "path": str(plain),
        "ok": False,
        "error": f"{plain} is not inside a git repository",
    }
    assert gone == {
        **empty,
        "path": str(missing),
        "ok": False,
        "error": f"{missing} does not exist",
    }
    assert infra == {
        **empty,
        "path": str(fleet.infra),
        "ok": True,
        "drift": [
            {
                "image": IMAGE,
                "app": "triggers",
                "tags": {"ap1": "1.4.2", "eu1": "1.5.0", "us1": "1.4.2"},
            }
        ],
    }


def test_exit_codes(fleet: Fleet) -> None:
    assert fleet.audit(fleet.clean).code == 0
    assert fleet.audit(fleet.clean, fleet.infra).code == 0  # drift is a warning
    assert fleet.audit(fleet.clean, fleet.leak).code == 1
    assert fleet.audit(fleet.late).code == 1
    assert fleet.audit(fleet.clean, fleet.root / "missing").code == 1


def test_a_recent_back_merge_is_a_warning_and_exits_0(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRODFIX_NOW", str(EPOCH + 3 * DAY))
    code, doc = fleet.audit_json(fleet.late)
    (late,) = doc["repos"]
    assert code == 0 and doc["ok"] is True and late["ok"] is True
    assert [(f["rule"], f["severity"]) for f in late["findings"]] == [
        ("missing-backmerge", "warning")
    ]
    assert late["backmerge_prs"] == [{"number": 1, "url": fleet.pr_url, "age_days": 1}]


def test_human_table_sorts_by_severity_and_explains_the_rows(fleet: Fleet) -> None:
    missing = fleet.root / "missing"
    r = fleet.audit(fleet.infra, fleet.clean, missing, fleet.late, fleet.leak)
    assert r.code == 1
    lines = r.out.splitlines()
    assert lines[0].split() == [
        "path",
        "status",
        "master-merged",
        "missing-backmerge",
        "fixes",
        "in",
        "flight",
        "back-merge",
        "PRs",
        "DC",
        "drift",
        "behind",
        "master",
    ]
    rows = [ln.split()[:2] for ln in lines[1:6]]
    assert rows == [
        ["late/work", "error"],
        ["leak/work", "error"],
        ["missing", "failed"],
        ["deployment-infra/work", "warning"],
        ["clean/work", "ok"],
    ]
    assert "1 (oldest #1, 8d)" in lines[1]
    assert lines[1].endswith("delivery: 1 (9d, never synced)")
    assert lines[2].endswith("delivery: 0 (never synced)")  # leak: master merged unmarked
    assert lines[4].endswith(" -")  # deployment-infra: no delivery branch
    assert "1E" in lines[1]  # one late commit, no warning
    assert f"missing: failed: {missing} does not exist" in lines
    assert (
        f"deployment-infra/work: warning: DC drift: {IMAGE} in apps/triggers: "
        "ap1=1.4.2, eu1=1.5.0, us1=1.4.2" in lines
    )
    assert lines[-1] == "audit failed: 5 repositories (2 error, 1 failed, 1 warning, 1 ok)"


def test_a_fix_in_flight_is_reported_at_its_first_step_not_done(fleet: Fleet) -> None:
    started = prodfix(fleet.clean, "start", "x")
    assert started.code == 0, started.err
    code, doc = fleet.audit_json(fleet.clean)
    assert code == 0
    assert doc["repos"][0]["fixes"] == [{"name": "x", "step": "test", "state": "waiting"}]
    assert "x: test (waiting)" in fleet.audit(fleet.clean).out


def test_drift_reads_the_published_mainline_not_the_work_tree(fleet: Fleet) -> None:
    sb = Sandbox(fleet.root / "deployment-infra")
    sb.commit(
        fleet.infra,
        "align eu1 locally",
        {"apps/triggers/eu1/deployment.yaml": deploy_file("eu1", "1.4.2")},
    )
    _, doc = fleet.audit_json(fleet.infra)
    assert doc["repos"][0]["drift"][0]["tags"]["eu1"] == "1.5.0"  # not pushed: still drifting
    sb.push(fleet.infra, "master")
    _, doc = fleet.audit_json(fleet.infra)
    assert doc["repos"][0]["drift"] == []


def test_the_audit_fetches_what_others_pushed(fleet: Fleet) -> None:
    sb = Sandbox(fleet.root / "clean")
    other = sb.clone("other")
    sb.g(other, "checkout", "-q", "delivery")
    sb.g(other, "merge", "-q", "--no-ff", "-m", "oops", "origin/master")
    sb.push(other, "delivery")
    _, doc = fleet.audit_json(fleet.clean)
    oops = sb.g(other, "rev-parse", "HEAD")
    assert [(f["rule"], f["commits"]) for f in doc["repos"][0]["findings"]] == [
        ("master-merged-into-delivery", [oops])
    ]


def test_unreachable_remote_and_shallow_clone_are_failed_rows(fleet: Fleet, tmp_path: Path) -> None:
    shutil.rmtree(fleet.root / "leak" / "origin.git")
    shallow = tmp_path / "shallow"
    Sandbox(tmp_path).g(
        tmp_path,
        "clone",
        "-q",
        "--depth",
        "1",
        f"file://{fleet.root / 'clean' / 'origin.git'}",
        str(shallow),
    )
    code, doc = fleet.audit_json(fleet.leak, shallow, fleet.clean)
    assert code == 1
    leak, shallow_row, clean = doc["repos"]
    assert leak["error"].startswith("cannot fetch from origin: ")
    assert leak["ok"] is False and leak["findings"] == []
    assert (
        shallow_row["error"]
        == f"{shallow} is a shallow clone: prodfix needs full history to check the rules"
    )
    assert clean["ok"] is True and clean["error"] is None


def test_jobs_1_and_jobs_4_give_the_same_document(fleet: Fleet) -> None:
    paths = (fleet.clean, fleet.leak, fleet.late, fleet.infra, fleet.root / "missing")
    one = prodfix(fleet.root, "audit", *map(str, paths), "--json", "--jobs", "1")
    four = prodfix(fleet.root, "audit", *map(str, paths), "--json", "--jobs", "4")
    assert (one.code, one.out) == (four.code, four.out)
    assert len(json.loads(one.out)["repos"]) == 5


def test_paths_naming_one_repository_are_audited_once(fleet: Fleet) -> None:
    sub = fleet.clean / "sub"
    sub.mkdir()
    _, doc = fleet.audit_json(fleet.clean, sub, fleet.clean)
    assert [r["path"] for r in doc["repos"]] == [str(fleet.clean)]


def test_progress_without_a_terminal_is_a_line_per_repo_at_most_every_interval(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_run, "PLAIN_EVERY", 0.0)
    r = fleet.audit(fleet.clean, fleet.root / "missing", jobs=1)
    progress = [ln for ln in r.err.splitlines() if ln.startswith("prodfix: audited ")]
    assert sorted(progress) == [
        f"prodfix: audited 1/2: {fleet.root / 'missing'} (failed)",
        f"prodfix: audited 2/2: {fleet.clean} (ok)",
    ]
    monkeypatch.setattr(audit_run, "PLAIN_EVERY", 3600.0)
    assert fleet.audit(fleet.clean, fleet.root / "missing").err == ""


def test_bad_clock_hook_is_a_usage_error(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODFIX_NOW", "soon")
    r = fleet.audit(fleet.clean)
    assert r.code == 2
    assert "PRODFIX_NOW" in r.err and "  next: " in r.err


def test_an_unexpected_error_in_one_repository_is_its_row_only(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = audit_run.audit_repo

    def broken_for_leak(repo: Repo, *, now: float) -> Any:
        if repo.path == fleet.leak:
            raise RuntimeError("boom")
        return real(repo, now=now)

    monkeypatch.setattr(audit_run, "audit_repo", broken_for_leak)
    code, doc = fleet.audit_json(fleet.leak, fleet.clean)
    assert code == 1
    assert [(r["path"], r["ok"], r["error"]) for r in doc["repos"]] == [
        (str(fleet.leak), False, "internal error: RuntimeError: boom"),
        (str(fleet.clean), True, None),
    ]


def test_drift_follows_the_configured_dc_folders(fleet: Fleet) -> None:
    """DC folders are `[deploy] path`'s (the folder above `{dc}` names the application), not a
    fixed `apps/<app>/<dc>`: a repository laid out `k8s/<app>/<dc>` is compared too."""
    sb = Sandbox(fleet.root / "deployment-infra")
    sb.commit(
        fleet.infra,
        "k8s layout",
        {
            ".prodfix.toml": '[deploy]\npath = "k8s/{dc}"\n',
            "k8s/us1/deployment.yaml": deploy_file("us1", "2.0"),
            "k8s/eu1/deployment.yaml": deploy_file("eu1", "2.1"),
        },
    )
    sb.push(fleet.infra, "master")
    _, doc = fleet.audit_json(fleet.infra)
    (drift,) = doc["repos"][0]["drift"]
    assert (drift["app"], drift["tags"]) == ("k8s", {"eu1": "2.1", "us1": "2.0"})


def test_a_repository_is_audited_in_one_look(fleet: Fleet) -> None:
    """After its fetch an audited repository is only read: the refs read once serve the later
    reads (the PRs, the rules, the fixes in flight). Pinned, so a regression shows."""
    from prodfix.adapters import gitrun

    counts = []
    for _ in range(2):  # the second warm: nothing left to learn about commits
        before = gitrun.spawned
        code, doc = fleet.audit_json(fleet.clean)
        assert code == 0 and doc["repos"][0]["ok"]
        counts.append(gitrun.spawned - before)
    assert counts[1] == 8, counts
