"""Facts → the state of every step. Pure: no git, no network (tests feed it facts directly)."""

from __future__ import annotations

from dataclasses import dataclass

from prodfix.adapters.build import BuildState
from prodfix.adapters.forge import PrState, PullRequest
from prodfix.workflow.facts import RepoFacts, age
from prodfix.workflow.playbooks import FINISHED, State, steps_for


@dataclass(frozen=True)
class Step:
    id: str
    state: State
    detail: str
    who: str = ""  # who can unblock a waiting step

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "state": self.state.value, "detail": self.detail}


def evaluate(f: RepoFacts) -> list[Step]:
    if f.error:
        return [Step(s, State.FAILED, f.error) for s in steps_for(f.rec.kind)]
    raw = [_STEP[s](f) for s in steps_for(f.rec.kind)]
    out: list[Step] = []
    blocked = False
    for step in raw:
        if blocked and step.state in (State.READY, State.WAITING):
            step = Step(step.id, State.PENDING, step.detail if step.state == State.WAITING else "")
        out.append(step)
        if step.state not in FINISHED:
            blocked = True
    return out


def _branch(f: RepoFacts) -> Step:
    if f.head or f.pr or f.landing:
        base = (f.rec.base_sha or "")[:7]
        return Step("branch", State.DONE, f"{f.rec.branch} from origin/{f.rec.delivery} at {base}")
    return Step(
        "branch",
        State.FAILED,
        f"{f.rec.branch} is gone locally and on the remote (deleted before it was merged?)",
    )


def _test(f: RepoFacts) -> Step:
    t = f.test
    if t and t["result"] == "passed":
        return Step("test", State.DONE, f"passed for {(f.head or '')[:7]}")
    if t and t["result"] == "skipped":
        return Step("test", State.SKIPPED, t["reason"])
    if f.landing:
        return Step("test", State.DONE, "merged into delivery (tested before merge)")
    if t and t["result"] == "failed":
        return Step("test", State.FAILED, f"failed for {(f.head or '')[:7]}: {t['reason']}")
    if f.ahead == 0:
        return Step("test", State.WAITING, f"commit your fix on {f.rec.branch}", who="you")
    return Step("test", State.READY, f"run the tests for {(f.head or '')[:7]}")


def _pr_wait(step: str, pr: PullRequest, since: float | None) -> Step:
    waited = f" for {age(since)}" if since else ""
    if pr.blockers:
        return Step(
            step,
            State.WAITING,
            f"PR #{pr.number} waiting{waited}: {'; '.join(pr.blockers)}",
            who="reviewers",
        )
    ready = "approved" if pr.approvals else "mergeable"
    return Step(step, State.READY, f"PR #{pr.number} {ready}: `prodfix next --merge` merges it")


def _propose(f: RepoFacts) -> Step:
    if f.pr is not None and f.pr.state != PrState.CLOSED:
        return Step("propose", State.DONE, f"PR #{f.pr.number} {f.pr.url}")
    if f.landing:
        return Step("propose", State.DONE, f"landed without a PR as {f.landing[:7]}")
    if f.pr is not None:
        return Step("propose", State.READY, f"PR #{f.pr.number} was closed; propose again")
    return Step(
        "propose", State.READY, f"push {f.rec.branch} and open the PR into {f.rec.delivery}"
    )


def _merge(f: RepoFacts) -> Step:
    if f.landing:
        return Step("merge", State.DONE, f"on {f.rec.delivery} as {f.landing[:7]}")
    if f.pr is None:
        return Step("merge", State.PENDING, "")
    if f.pr.state == PrState.CLOSED:
        return Step("merge", State.FAILED, f"PR #{f.pr.number} was closed without merging")
    return _pr_wait("merge", f.pr, f.since.get("pr"))


def _build(f: RepoFacts) -> Step:
    if not f.build_configured:
        return Step("build", State.SKIPPED, "no [build] configured")
    b = f.build
    if b is None:
        return Step("build", State.READY, f"build {f.rec.delivery} at {(f.delivery_tip or '')[:7]}")
    label = f"build #{b.number}" if b.number else f"build {b.id}"
    if b.state == BuildState.SUCCESS:
        return Step("build", State.DONE, f"{label} → image tag {b.image_tag or f.tag}")
    if b.state in (BuildState.QUEUED, BuildState.RUNNING):
        return Step(
            "build",
            State.WAITING,
            f"{label} {b.state.value}" + (f" {b.url}" if b.url else ""),
            who="CI",
        )
    tail = b.console_tail.strip().splitlines()[-1:] if b.console_tail else []
    return Step(
        "build",
        State.FAILED,
        f"{label} {b.state.value}"
        + (f" {b.url}" if b.url else "")
        + (f": {tail[0]}" if tail else ""),
    )


def _deploy(f: RepoFacts) -> Step:
    if not f.deploy_configured:
        return Step("deploy", State.SKIPPED, "no [deploy] configured")
    if not f.build_configured:
        return Step(
            "deploy",
            State.SKIPPED,
            "no build step produces an image tag: run `prodfix deploy --tag TAG` yourself",
        )
    d = f.deploy
    if d.get("done"):
        return Step("deploy", State.DONE, d.get("detail", ""))
    if d.get("failed"):
        return Step("deploy", State.FAILED, d["failed"])
    pr = d.get("pr")
    if isinstance(pr, PullRequest) and pr.state == PrState.OPEN:
        return _pr_wait("deploy", pr, f.since.get("deploy_pr"))
    if d.get("waiting"):
        return Step("deploy", State.WAITING, d["waiting"], who="Argo CD")
    if not f.tag:
        return Step("deploy", State.PENDING, "")
    return Step("deploy", State.READY, f"pin {f.tag} in {d.get('dcs', 'every DC')}")


def _backmerge(f: RepoFacts) -> Step:
    problems = f.idents.get("backmerge_problems")
    if problems:
        return Step("backmerge", State.FAILED, "; ".join(problems))
    if f.backmerged:
        return Step("backmerge", State.DONE, f"{(f.landing or '')[:7]} is in {f.mainline}")
    if not f.landing:
        return Step("backmerge", State.PENDING, "")
    pr = f.backmerge_pr
    if pr is not None and pr.state == PrState.OPEN:
        return _pr_wait("backmerge", pr, f.since.get("backmerge_pr"))
    if pr is not None and pr.state == PrState.MERGED:
        return Step("backmerge", State.WAITING, f"PR #{pr.number} merged; fetching {f.mainline}")
    return Step("backmerge", State.READY, f"open the back-merge PR {f.rec.delivery} → {f.mainline}")


_STEP = {
    "branch": _branch,
    "test": _test,
    "propose": _propose,
    "merge": _merge,
    "build": _build,
    "deploy": _deploy,
    "backmerge": _backmerge,
}
