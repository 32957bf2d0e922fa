"""Random interleavings of what a team does, across two clones — fixes started and merged (by
prodfix or by hand, merge or squash), builds, deploys (by `next`, or by hand with `deploy
--tag`), back-merges, hand pushes to master — with the safety invariants checked after every
action:

- no DC ever moves to a build that lacks a fix it already ran;
- no master commit reaches a delivery build;
- every fix on delivery ends on master with its change intact (after a final round of
  approvals and `next --merge`);
- and, after each fix shipped, `deploy --dry-run` of the oldest build is refused (exit 3)
  exactly when a DC runs a fix that build lacks.

A fix is "in" a commit when its file, with its content, is in the commit's tree: that holds
for merges and squashes alike.

One rule draws the action from a weighted list, rather than one rule per action: Hypothesis
enables a random subset of rules per example (swarm testing), and with a handful of costly
examples most subsets would never land a fix. The first action of the list is what shrinking
tends to: shipping a fix (merged, built, deployed; started first when none waits).
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from tests.team import DCS, Person, Team, make_team

pytestmark = pytest.mark.slow

# Each action is a few prodfix commands (a second or more of git processes): six examples of
# up to six actions keep the test near half a minute on two cores. A failure prints the steps
# and a @reproduce_failure blob.
SETTINGS = settings(
    max_examples=6,
    stateful_step_count=6,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)
MAX_FIXES = 3
MAX_PUSHES = 2
ACTIONS = (
    "ship",
    "merge",
    "deploy by hand",
    "build",
    "deploy",
    "backmerge",
    "ship",
    "deploy by hand",
    "start",
    "push to master",
)
HOW = ("prodfix merge", "prodfix squash", "hand merge", "hand squash")
PEOPLE = ("alice", "bob")
TAG = re.compile(rb'newTag: "([^"]+)"')


class TeamMachine(RuleBasedStateMachine):
    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.world: Team | None = None  # made by the first action (see `team`)
        self.base = ""  # where delivery and master parted
        self.fixes: dict[str, Person] = {}  # started: name → owner
        self.order: list[str] = []  # the fixes landed on delivery, in that order
        self.ran: dict[str, set[str]] = {dc: set() for dc in DCS}  # fixes each DC has run
        self.pushed = 0  # hand pushes to master

    @property
    def team(self) -> Team:
        """The world, made when the first action runs (an example of none costs nothing)."""
        if self.world is None:
            self.world = make_team(self.root, people=("alice", "rui", "bob"))
            self.base = self.world.tip("delivery")
        return self.world

    @property
    def landed(self) -> set[str]:
        return set(self.order)

    @rule(data=st.data(), action=st.sampled_from(ACTIONS), who=st.sampled_from(PEOPLE))
    def act(self, data: st.DataObject, action: str, who: str) -> None:
        person = self.team.people[who]
        if action == "start":
            self.start(person)
        elif action == "merge":
            self.merge(data, person)
        elif action == "ship":  # merged, built and deployed in one go
            fix = self.merge(data, person)
            if fix is not None:
                self.advance(data, merge=True, approve="deploy", fix=fix)
                self.advance(data, merge=True, approve="deploy", fix=fix)
                self.try_the_oldest_build()
        elif action == "build":
            self.advance(data, merge=False)
        elif action == "deploy by hand" and self.team.images():
            self.deploy_by_hand(data)
        elif action in ("deploy", "backmerge", "deploy by hand"):  # nothing built yet: next
            # Approve, next --merge; what that opened is approved and merged by a second look.
            step = "backmerge" if action == "backmerge" else "deploy"
            fix = self.advance(data, merge=True, approve=step)
            if fix is not None:
                self.advance(data, merge=True, approve=step, fix=fix)
        else:
            self.push_to_master(person)

    # -- the actions --------------------------------------------------------------------------
    def start(self, person: Person) -> None:
        """`start`, a commit, `propose`; the reviewer approves."""
        if len(self.fixes) >= MAX_FIXES:
            return
        t = self.team
        fix = f"f{len(self.fixes) + 1}"
        t.ok(person, "start", fix)
        t.commit(person, f"fix {fix}", {f"{fix}.py": f"{fix.upper()} = 1\n"})
        t.ok(person, "propose")
        t.approve(self._pr_of(f"fix/{fix}"))
        self.fixes[fix] = person

    def merge(self, data: st.DataObject, person: Person) -> str | None:
        """A fix merged: by `pr merge` (merge or squash) or by hand in the "web UI" (git)."""
        if not set(self.fixes) - self.landed:
            self.start(person)  # nothing waits: someone starts a fix first
        waiting = sorted(set(self.fixes) - self.landed)
        if not waiting:
            return None
        fix = data.draw(st.sampled_from(waiting), label="fix")
        how = data.draw(st.sampled_from(HOW), label="how")
        t = self.team
        if how.startswith("prodfix"):
            method = ["--method", "squash"] if how.endswith("squash") else []
            t.ok(person, "pr", "merge", str(self._pr_of(f"fix/{fix}")), *method)
        else:
            t.pull(person, "delivery")
            if how == "hand merge":
                t.sb.merge(person.svc, f"origin/fix/{fix}", f"Merge fix/{fix} (web UI)")
            else:
                t.git(person.svc, "merge", "-q", "--squash", f"origin/fix/{fix}")
                t.git(person.svc, "commit", "-q", "-m", f"fix {fix} (squashed in the web UI)")
            t.git(person.svc, "push", "-q", "origin", "delivery")
        self.order.append(fix)
        return fix

    def advance(
        self, data: st.DataObject, *, merge: bool, approve: str = "", fix: str | None = None
    ) -> str | None:
        """`next` for a landed fix, by its owner: builds and opens PRs; with --merge it also
        merges what the reviewer approved (deploy or back-merge PRs, as `approve` says)."""
        if not self.order:
            return None
        if fix is None:
            fix = data.draw(st.sampled_from(sorted(self.landed)), label="fix")
        if approve:
            self._approve_open(deploy=approve == "deploy")
        r = self.team.run(self.fixes[fix], "next", fix, *(["--merge"] if merge else []))
        assert r.code == 0, r.out + r.err
        return fix

    def deploy_by_hand(self, data: st.DataObject) -> None:
        """`deploy --tag` of any build: refused (exit 3, nothing changes) when a DC would
        lose a fix; else its PR is approved and merged."""
        t = self.team
        tag = data.draw(st.sampled_from(sorted(t.images())), label="tag")
        before = t.refs_of(t.deploy, "refs/")
        r = t.run(t.alice, "deploy", "--tag", tag)
        if r.code == 3:
            assert "refusing to move back" in r.err
            assert t.refs_of(t.deploy, "refs/") == before
            return
        assert r.code == 0, r.out + r.err
        if "nothing to do" in r.out:
            return  # every DC runs it already
        (number,) = [
            n
            for n, (head, _, state) in t.prs(deploy=True).items()
            if head == f"deploy/svc/{tag}" and state == "open"
        ]
        t.approve(number, deploy=True)
        t.ok(t.rui, "pr", "merge", str(number), cwd=t.rui.deploy)

    def try_the_oldest_build(self) -> None:
        """`deploy --tag <the oldest build> --dry-run` is refused exactly when a DC runs a fix
        that build lacks."""
        t = self.team
        images = t.images()
        if len(images) < 2:
            return
        oldest = min(images, key=lambda tag: int(tag.rsplit("-", 1)[1]))
        lacks = any(not self._fixes_in(images[oldest]) >= self._running(dc) for dc in DCS)
        r = t.run(t.alice, "deploy", "--tag", oldest, "--dry-run")
        assert r.code == (3 if lacks else 0), r.out + r.err

    def push_to_master(self, person: Person) -> None:
        if self.pushed >= MAX_PUSHES:
            return
        t = self.team
        self.pushed += 1
        t.pull(person, "master")
        t.commit(person, f"master work {self.pushed}", {f"m{self.pushed}.py": "M = 1\n"})
        t.git(person.svc, "push", "-q", "origin", "master")

    # -- the invariants -----------------------------------------------------------------------
    @invariant()
    def no_dc_loses_a_fix_it_ran(self) -> None:
        if self.world is None:
            return
        for dc in DCS:
            now = self._running(dc)
            assert now >= self.ran[dc], f"{dc} lost {self.ran[dc] - now}"
            self.ran[dc] = now

    @invariant()
    def no_master_commit_reaches_a_build(self) -> None:
        if self.world is None:
            return
        t = self.world
        master = set(
            t.git(t.service, "rev-list", "--first-parent", "master", f"^{self.base}").split()
        )
        for number, (sha, _, _) in t.builds().items():
            history = set(t.git(t.service, "rev-list", sha, f"^{self.base}").split())
            assert not history & master, f"build #{number} has master commits"

    def teardown(self) -> None:
        """Every fix on delivery ends on master, its change intact: a few rounds of approvals
        and `next --merge` of the newest landing (its build, deploy and back-merge carry every
        fix landed before it) finish them all."""
        try:
            if self.order:
                last = self.order[-1]
                for _ in range(4):
                    self._approve_open(deploy=True)
                    self._approve_open(deploy=False)
                    r = self.team.run(self.fixes[last], "next", "--merge", last)
                    assert r.code == 0, r.out + r.err
                    self.no_dc_loses_a_fix_it_ran()
                    self.no_master_commit_reaches_a_build()
                    if f"fix {last} is done" in r.out:
                        break
                assert self._done() >= self.landed
                assert self._fixes_in(self.team.tip("master")) == self.landed
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- helpers ------------------------------------------------------------------------------
    def _pr_of(self, head: str) -> int:
        (number,) = [n for n, (h, _, _) in self.team.prs().items() if h == head]
        return number

    def _approve_open(self, *, deploy: bool) -> None:
        """The reviewer approves every open deploy PR (or back-merge PR)."""
        t = self.team
        for n, (head, _, state) in t.prs(deploy=deploy).items():
            if state == "open" and (deploy or head.startswith("backmerge/")):
                t.approve(n, deploy=deploy)

    def _running(self, dc: str) -> set[str]:
        """The fixes in the build the DC's folder pins on the GitOps master."""
        t = self.team
        found = TAG.search(t.blob(t.deploy, "master", f"apps/{dc}/kustomization.yaml"))
        assert found is not None
        built = t.images().get(found.group(1).decode())
        return self._fixes_in(built) if built else set()

    def _fixes_in(self, commit: str) -> set[str]:
        """The landed fixes whose change is in `commit`'s tree (one `cat-file --batch`)."""
        fixes = sorted(self.landed)
        query = "".join(f"{commit}:{f}.py\n" for f in fixes)
        out = subprocess.run(
            ("git", "cat-file", "--batch"),
            cwd=self.team.service,
            input=query.encode(),
            capture_output=True,
            check=True,
        ).stdout
        found = set()
        for fix in fixes:
            header, _, out = out.partition(b"\n")
            if header.endswith(b" missing"):
                continue
            size = int(header.split()[2])
            if out[:size] == f"{fix.upper()} = 1\n".encode():
                found.add(fix)
            out = out[size + 1 :]
        return found

    def _done(self) -> set[str]:
        """The fixes whose every step is done, as status says."""
        t = self.team
        r = t.run(t.alice, "status", "--all", "--json")
        assert r.code == 0, r.out + r.err
        return {f["name"] for f in json.loads(r.out)["fixes"] if f["done"]}


def test_random_interleavings_keep_the_safety_invariants(tmp_path: Path) -> None:
    examples = itertools.count()

    class Machine(TeamMachine):
        def __init__(self) -> None:
            super().__init__(tmp_path / f"example-{next(examples)}")

    run_state_machine_as_test(Machine, settings=SETTINGS)
