"""Snapshot → what the dashboard shows. Pure: no I/O, `now` is given (tests pin it)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from prodfix.serve.dashboard.text import (
    age_since,
    commit_href,
    display_repo,
    format_age,
    repo_name,
    safe_href,
    web_address,
)
from prodfix.serve.snapshot import (
    BackmergePr,
    DeliveryHealth,
    Drift,
    FixJson,
    FixRepoJson,
    PolicyResult,
    Snapshot,
    StepJson,
)
from prodfix.types import short
from prodfix.workflow.behind import Behind
from prodfix.workflow.playbooks import PLAYBOOKS

# Steps whose state needs someone's attention; their detail is shown under the step row.
ATTENTION = ("failed", "ready", "waiting")
# A step's `url` without a PR number: what the link leads to.
_LINK_TEXT = {"build": "build log", "test": "test run", "deploy": "deployment"}
_ORDER = {kind: {sid: i for i, sid in enumerate(steps)} for kind, steps in PLAYBOOKS.items()}
# The deploy step's commit lives in the GitOps repository, not in the fix's repository.
_OTHER_REPO_SHA = ("deploy",)


class Link(NamedTuple):
    text: str
    href: str | None  # None: shown as text (no safe web address known)


class StepView(NamedTuple):
    """A named tuple, not a dataclass: a page has thousands; templates unpack them."""

    id: str
    state: str  # one of the six states of `prodfix status`, shown as text
    detail: str
    age: str  # time since the step reached its state ("" when unknown)
    tag: str | None
    links: tuple[Link, ...]

    @property
    def attention(self) -> bool:
        return self.state in ATTENTION


@dataclass(frozen=True)
class RepoRow:
    repo: str
    kind: str
    delivery: str
    branch: str
    steps: tuple[StepView, ...]  # in the order of the repository's flow (Python or Go)

    @property
    def notes(self) -> tuple[StepView, ...]:
        """The steps that need someone, with their detail shown under the row."""
        return tuple(s for s in self.steps if s.state in ATTENTION and s.detail)


@dataclass(frozen=True)
class FixView:
    name: str
    done: bool
    failed: bool
    repos: tuple[RepoRow, ...]
    latest: str  # ISO time of the latest step change ("" when unknown): orders finished fixes
    age: str  # time since then

    @property
    def repo_names(self) -> str:
        return ", ".join(dict.fromkeys(r.repo for r in self.repos))


@dataclass(frozen=True)
class BackmergeRow:
    repo: str
    pr: Link
    delivery: str
    age: str
    age_s: int


@dataclass(frozen=True)
class DriftRow:
    repo: str
    image: str
    tags: tuple[tuple[str, tuple[str, ...]], ...]  # (tag, DCs running it), most DCs first


@dataclass(frozen=True)
class DeliveryRow:
    repo: str
    branch: str
    days: int
    red: bool


@dataclass(frozen=True)
class BehindRow:
    """How far one delivery branch is behind the mainline: information, never red."""

    repo: str
    branch: str
    line: str  # the line `prodfix status` prints for it
    sync: str  # the command that catches it up ("" when it has every mainline commit)


@dataclass(frozen=True)
class PolicyRow:
    repo: str
    pr: int
    head: str
    conclusion: str
    findings: tuple[str, ...]


@dataclass(frozen=True)
class DashboardModel:
    in_flight: tuple[FixView, ...]
    finished: tuple[FixView, ...]
    backmerge_prs: tuple[BackmergeRow, ...]
    drift: tuple[DriftRow, ...]
    deliveries: tuple[DeliveryRow, ...]
    behind: tuple[BehindRow, ...]  # by repository, then branch (as `status` lists them)
    policy: tuple[PolicyRow, ...]
    updated_at: str
    updated_age: str  # "" when nothing was observed yet

    @property
    def failed(self) -> int:
        return sum(1 for f in self.in_flight if f.failed)

    @property
    def overdue(self) -> int:
        return sum(1 for d in self.deliveries if d.red)

    def fix(self, name: str) -> FixView | None:
        return next((f for f in (*self.in_flight, *self.finished) if f.name == name), None)


def build_model(snap: Snapshot, now: datetime) -> DashboardModel:
    fixes = [_fix(f, now) for f in snap["fixes"]]
    in_flight = sorted((f for f in fixes if not f.done), key=lambda f: (not f.failed, f.name))
    finished = sorted((f for f in fixes if f.done), key=lambda f: (f.latest, f.name), reverse=True)
    return DashboardModel(
        in_flight=tuple(in_flight),
        finished=tuple(finished),
        backmerge_prs=tuple(
            sorted((_backmerge(p) for p in snap["backmerge_prs"]), key=lambda r: (-r.age_s, r.repo))
        ),
        drift=tuple(sorted((_drift(d) for d in snap["drift"]), key=lambda r: (r.repo, r.image))),
        deliveries=tuple(
            sorted(
                (_delivery(d) for d in snap["deliveries"]),
                key=lambda r: (not r.red, -r.days, r.repo, r.branch),
            )
        ),
        behind=tuple(
            sorted(
                (_behind(d) for d in snap["deliveries"] if "behind_commits" in d),
                key=lambda r: (r.repo, r.branch),
            )
        ),
        policy=tuple(
            sorted(
                (_policy(p) for p in snap["policy"]),
                key=lambda r: (r.conclusion == "success", r.repo, r.pr),
            )
        ),
        updated_at=snap["updated_at"],
        updated_age=age_since(snap["updated_at"], now),
    )


def _fix(fix: FixJson, now: datetime) -> FixView:
    repos = tuple(_repo(r, now) for r in fix["repos"])
    stamps = [s["since"] for r in fix["repos"] for s in r["steps"] if s["since"]]
    latest = max(stamps, default="")
    return FixView(
        name=fix["name"],
        done=fix["done"],
        failed=any(s.state == "failed" for r in repos for s in r.steps),
        repos=repos,
        latest=latest,
        age=age_since(latest, now),
    )


def _repo(r: FixRepoJson, now: datetime) -> RepoRow:
    order = _ORDER.get(r["kind"]) or _ORDER["python"]
    steps = r["steps"]
    if [s["id"] for s in steps] != list(order):
        steps = sorted(steps, key=lambda s: order.get(s["id"], len(order)))
    web = web_address(r["remote"])
    return RepoRow(
        repo=repo_name(r["remote"], r["path"]),
        kind=r["kind"],
        delivery=r["delivery"],
        branch=r["branch"],
        steps=tuple([_step(s, web, now) for s in steps]),
    )


def _step(s: StepJson, web: str | None, now: datetime) -> StepView:
    links: tuple[Link, ...] = ()
    url, pr, sha = s["url"], s["pr"], s["sha"]
    href = safe_href(url) if url else None
    if pr is not None:
        links = (Link(f"PR #{pr}", href),)
    elif href is not None:
        links = (Link(_LINK_TEXT.get(s["id"], "link"), href),)
    if sha:
        sha_href = None if s["id"] in _OTHER_REPO_SHA else commit_href(web, sha)
        links += (Link(short(sha), sha_href),)
    return StepView(
        id=s["id"],
        state=s["state"],
        detail=s["detail"],
        age=age_since(s["since"], now),
        tag=s["tag"],
        links=links,
    )


def _backmerge(p: BackmergePr) -> BackmergeRow:
    return BackmergeRow(
        repo=display_repo(p["repo"]),
        pr=Link(f"PR #{p['number']}", safe_href(p["url"])),
        delivery=p["delivery"],
        age=format_age(p["age_s"]),
        age_s=p["age_s"],
    )


def _drift(d: Drift) -> DriftRow:
    by_tag: dict[str, list[str]] = {}
    for dc, tag in d["tags"].items():
        by_tag.setdefault(tag, []).append(dc)
    groups = sorted(by_tag.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return DriftRow(
        repo=display_repo(d["repo"]),
        image=d["image"],
        tags=tuple((t, tuple(sorted(dcs))) for t, dcs in groups),
    )


def _delivery(d: DeliveryHealth) -> DeliveryRow:
    return DeliveryRow(
        repo=display_repo(d["repo"]),
        branch=d["branch"],
        days=d["missing_backmerge_days"],
        red=d["red"],
    )


def _behind(d: DeliveryHealth) -> BehindRow:
    b = Behind(
        branch=d["branch"],
        behind_commits=d.get("behind_commits", 0),
        behind_days=d.get("behind_days", 0),
        last_sync=d.get("last_sync"),
    )
    # Quoted for a shell: the reader copies it, and a branch name may hold `$`, `;` or `'`.
    sync = f"prodfix sync --into {shlex.quote(b.branch)}" if b.behind_commits else ""
    return BehindRow(
        repo=display_repo(d["repo"]),
        branch=b.branch,
        line=b.describe(d.get("mainline", "the mainline")),
        sync=sync,
    )


def _policy(p: PolicyResult) -> PolicyRow:
    return PolicyRow(
        repo=display_repo(p["repo"]),
        pr=p["pr"],
        head=short(p["head_sha"]),
        conclusion=p["conclusion"],
        findings=tuple(f"{f['rule']} ({f['severity']}): {f['message']}" for f in p["findings"]),
    )
