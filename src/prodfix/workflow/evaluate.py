"""Facts → the state of every step. Pure: no git, no network (tests feed it facts directly)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from prodfix.adapters.build import BuildState
from prodfix.adapters.forge import PrState, PullRequest
from prodfix.workflow.facts import RepoFacts
from prodfix.workflow.playbooks import FINISHED, State, steps_for


@dataclass(frozen=True)
class Step:
    id: str
    state: State
    detail: str
    who: str = ""  # who can unblock a waiting step
    pr: int | None = None
    url: str | None = None
    sha: str | None = None
    tag: str | None = None
    since: str | None = None  # ISO 8601: since when the step is in this state, when known

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "state": self.state.value,
            "detail": self.detail,
            "pr": self.pr,
            "url": self.url,
            "sha": self.sha,
            "tag": self.tag,
            "since": self.since,
        }


def evaluate(f: RepoFacts) -> list[Step]:
    if f.error:
        return [Step(s, State.FAILED, f.error) for s in steps_for(f.seed.kind)]
    table = _SYNC_STEP if f.seed.kind == "sync" else _STEP
    raw = [table[s](f) for s in steps_for(f.seed.kind)]
    if f.seed.kind == "sync" and f.pr is not None and f.pr.state == PrState.CLOSED:
        raw = _abandoned(f, raw)
    out: list[Step] = []
    blocked = False
    for step in raw:
        if step.since is None:
            step = replace(step, since=f.since.get(step.id))
        if step.since and step.since.endswith("+00:00"):  # one spelling of UTC in the JSON
            step = replace(step, since=step.since.removesuffix("+00:00") + "Z")
        if blocked and step.state in (State.READY, State.WAITING):
            step = replace(
                step, state=State.PENDING, detail=step.detail if step.state == State.WAITING else ""
            )
        out.append(step)
        if step.state not in FINISHED:
            blocked = True
    return out


def _with_pr(step: Step, pr: PullRequest | None) -> Step:
    return replace(step, pr=int(pr.number), url=pr.url) if pr is not None else step


def _branch(f: RepoFacts) -> Step:
    s = f.seed
    if f.head or f.pr or f.landing:
        base = (s.base or "")[:7]
        where = f" at {base}" if base else ""
        return Step("branch", State.DONE, f"{s.branch} from origin/{s.delivery}{where}", sha=s.base)
    return Step(
        "branch",
        State.FAILED,
        f"{s.branch} is gone locally and on the remote (deleted before it was merged?)",
    )


def _test(f: RepoFacts) -> Step:
    t, head = f.test, (f.head or "")[:7]
    sha = t.sha if t else f.head
    by = f" ({t.by.split(' <')[0]})" if t and t.by else ""
    if t and t.where == "jenkins":
        by = f" on Jenkins{by}"
    if t and t.result == "passed":
        return Step("test", State.DONE, f"passed for {head}{by}", sha=sha)
    if t and t.result == "skipped":
        return Step("test", State.SKIPPED, t.reason, sha=sha)
    if f.landing:
        return Step("test", State.DONE, "merged into delivery (tested before merge)", sha=sha)
    if t and t.result == "failed":
        return Step("test", State.FAILED, f"failed for {head}{by}: {t.reason}", sha=sha)
    if f.ahead == 0:
        return Step("test", State.WAITING, f"commit your fix on {f.seed.branch}", who="you")
    return Step("test", State.READY, f"run the tests for {head}", sha=f.head)


def _pr_wait(step: str, pr: PullRequest, since: str | None) -> Step:
    if pr.blockers:
        waiting = f"PR #{pr.number} waiting: {'; '.join(pr.blockers)}"
        return _with_pr(Step(step, State.WAITING, waiting, who="reviewers", since=since), pr)
    ready = "approved" if pr.approvals else "mergeable"
    text = f"PR #{pr.number} {ready}: `prodfix next --merge` merges it"
    return _with_pr(Step(step, State.READY, text, since=since), pr)


def _propose(f: RepoFacts) -> Step:
    if f.pr is not None and f.pr.state != PrState.CLOSED:
        done = Step("propose", State.DONE, f"PR #{f.pr.number} {f.pr.url}", sha=f.pr.head_sha)
        return _with_pr(done, f.pr)
    if f.landing:
        return Step("propose", State.DONE, f"landed without a PR as {f.landing[:7]}", sha=f.landing)
    if f.pr is not None:
        again = Step("propose", State.READY, f"PR #{f.pr.number} was closed; propose again")
        return _with_pr(again, f.pr)
    return Step(
        "propose", State.READY, f"push {f.seed.branch} and open the PR into {f.seed.delivery}"
    )


def _merge(f: RepoFacts) -> Step:
    s = f.seed
    if f.landing:
        done = Step("merge", State.DONE, f"on {s.delivery} as {f.landing[:7]}", sha=f.landing)
        return _with_pr(done, f.pr)
    if s.delivery is None or f.delivery_tip is None:
        where = f"{s.delivery} is gone from the remote" if s.delivery else "no delivery branch"
        gone = Step(
            "merge",
            State.FAILED,
            f"{where}: re-target the PR to the delivery branch that runs in production, or "
            f"abandon the fix (close its PR, delete {s.branch})",
        )
        return _with_pr(gone, f.pr)
    if f.pr is None or f.pr.state == PrState.CLOSED:
        return Step("merge", State.PENDING, "")
    return _pr_wait("merge", f.pr, f.since.get("merge"))


def _build(f: RepoFacts) -> Step:
    if not f.build_configured:
        return Step("build", State.SKIPPED, "no [build] configured")
    b = f.build
    if b is None:
        return Step(
            "build",
            State.READY,
            f"build {f.seed.delivery} at {(f.delivery_tip or '')[:7]}",
            sha=f.delivery_tip,
        )
    label = f"build #{b.number}" if b.number else f"build {b.id}"
    where = f" {b.url}" if b.url else ""
    if b.state == BuildState.SUCCESS:
        step = Step("build", State.DONE, f"{label} → image tag {b.image_tag}", tag=b.image_tag)
    elif b.state in (BuildState.QUEUED, BuildState.RUNNING):
        step = Step("build", State.WAITING, f"{label} {b.state.value}{where}", who="CI")
    else:
        tail = b.console_tail.strip().splitlines()[-1:] if b.console_tail else []
        why = f": {tail[0]}" if tail else ""
        step = Step("build", State.FAILED, f"{label} {b.state.value}{where}{why}")
    return replace(step, url=b.url, sha=b.sha, since=b.started_at)


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
        return Step("deploy", State.DONE, d.get("detail", ""), tag=f.tag, sha=f.landing)
    if d.get("failed"):
        return Step("deploy", State.FAILED, d["failed"], tag=f.tag)
    pr = d.get("pr")
    if isinstance(pr, PullRequest) and pr.state == PrState.OPEN:
        return replace(_pr_wait("deploy", pr, pr.created_at), tag=f.tag)
    if d.get("waiting"):
        return Step("deploy", State.WAITING, d["waiting"], who="Argo CD", tag=f.tag)
    if not f.tag:
        return Step("deploy", State.PENDING, "")
    return Step("deploy", State.READY, f"pin {f.tag} in {d.get('dcs', 'every DC')}", tag=f.tag)


def _backmerge(f: RepoFacts) -> Step:
    if f.backmerge_problems:
        return Step(
            "backmerge", State.FAILED, "; ".join(f.backmerge_problems), sha=f.backmerge_commit
        )
    if f.backmerged:
        return Step(
            "backmerge",
            State.DONE,
            f"{(f.landing or '')[:7]} is in {f.mainline}",
            sha=f.backmerge_commit or f.landing,
        )
    if not f.landing:
        return Step("backmerge", State.PENDING, "")
    pr = f.backmerge_pr
    if pr is not None and pr.state == PrState.OPEN and not f.backmerge_pr_has_fix:
        # Opened for an earlier fix: bring this one in before anyone reviews it.
        more = f"bring {(f.landing or '')[:7]} into back-merge PR #{pr.number}"
        return _with_pr(Step("backmerge", State.READY, more, since=pr.created_at), pr)
    if pr is not None and pr.state == PrState.OPEN:
        return _pr_wait("backmerge", pr, pr.created_at)
    return Step(
        "backmerge", State.READY, f"open the back-merge PR {f.seed.delivery} → {f.mainline}"
    )


def _prepare(f: RepoFacts) -> Step:
    s = f.seed
    if f.head or f.pr or f.landing:
        what = f"{s.branch}: {f.mainline} merged into {s.delivery} (marked Prodfix-Sync)"
        return Step("prepare", State.DONE, what, sha=f.head)
    return Step("prepare", State.FAILED, f"{s.branch} is gone locally and on the remote")


def _sync_propose(f: RepoFacts) -> Step:
    if f.pr is not None or f.landing:
        return _propose(f)
    again = f"open its PR into {f.seed.delivery}: `prodfix sync --into {f.seed.delivery}`"
    return Step("propose", State.WAITING, again, who="you")


def _sync_backmerge(f: RepoFacts) -> Step:
    return Step("backmerge", State.SKIPPED, "a sync needs no back-merge")


def _abandoned(f: RepoFacts, steps: list[Step]) -> list[Step]:
    """A sync whose PR was closed without merging is over: nothing is left to do."""
    if f.landing or f.pr is None:
        return steps
    why = f"abandoned: PR #{f.pr.number} was closed without merging"
    return [
        s if s.state in FINISHED else replace(s, state=State.SKIPPED, detail=why) for s in steps
    ]


_STEP = {
    "branch": _branch,
    "test": _test,
    "propose": _propose,
    "merge": _merge,
    "build": _build,
    "deploy": _deploy,
    "backmerge": _backmerge,
}
_SYNC_STEP = {
    **_STEP,
    "prepare": _prepare,
    "propose": _sync_propose,
    "backmerge": _sync_backmerge,
}
