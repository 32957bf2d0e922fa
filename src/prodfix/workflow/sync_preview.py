"""What a sync of the mainline into a delivery branch would bring, and whom to ask about it.

Reads only: one `git log` of `delivery..mainline` (authors, subjects, touched paths), the
CODEOWNERS file of the mainline's tip, and the merge prediction of `policy/backmerge.py`
run the other way round (the mainline merged into delivery, each conflicting path attributed
to the mainline commit — a landing on its first-parent chain — that first makes it conflict).
The merged pull requests come from the caller (the forge's answer, or none): each commit is
grouped under the PR whose merge commit brought it to the mainline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from prodfix.adapters.forge import PullRequest
from prodfix.adapters.git import Repo
from prodfix.policy.backmerge import Prediction, predict
from prodfix.policy.graph import Commit, landings
from prodfix.types import BranchName, Sha
from prodfix.workflow import codeowners

_FMT = "%x1e%H%x1f%P%x1f%ae%x1f%an%x1f%ct%x1f%s"
DAY = 86_400


@dataclass(frozen=True)
class Incoming:
    """A mainline commit the sync would bring."""

    sha: Sha
    author: str  # e-mail, as the commit says
    name: str  # the author's name
    subject: str
    landing: Sha  # the mainline first-parent commit that brought it there
    paths: tuple[str, ...]  # files it touches (none for a merge commit)
    when: int = 0  # committer date, seconds since the epoch
    pr: int | None = None  # the merged PR whose merge commit is `landing`

    def to_json(self) -> dict[str, object]:
        return {
            "sha": self.sha,
            "author": self.author,
            "subject": self.subject,
            "pr": self.pr,
            "paths": list(self.paths),
        }


@dataclass(frozen=True)
class Preview:
    into: BranchName
    mainline: BranchName
    commits: tuple[Incoming, ...]  # grouped by landing, oldest landing first
    prediction: Prediction
    ask: tuple[str, ...]  # commit authors, then code owners of the touched paths
    owners_file: str | None = None  # where CODEOWNERS was found
    pr_titles: dict[int, str] = field(default_factory=dict)

    @property
    def delivery_tip(self) -> Sha:
        return self.prediction.mainline  # the prediction merges *into* delivery

    @property
    def mainline_tip(self) -> Sha:
        return self.prediction.delivery

    @property
    def clean(self) -> bool:
        return self.prediction.clean

    def to_json(self) -> dict[str, object]:
        """The `sync --dry-run --json` document."""
        return {
            "into": self.into,
            "from": self.mainline,
            "clean": self.clean,
            "commits": [c.to_json() for c in self.commits],
            "ask": list(self.ask),
            "conflicts": [
                {"path": c.path, "introduced_by": c.introduced_by}
                for c in self.prediction.conflicts
            ],
        }

    def groups(self) -> list[tuple[int | None, Sha, list[Incoming]]]:
        """(PR or None, landing, its commits) in landing order: a PR's commits together."""
        out: list[tuple[int | None, Sha, list[Incoming]]] = []
        for c in self.commits:
            if out and out[-1][1] == c.landing:
                out[-1][2].append(c)
            else:
                out.append((c.pr, c.landing, [c]))
        return out


MergedPrs = Callable[[str], Iterable[PullRequest]]  # since (ISO 8601) → PRs merged since


def read(
    repo: Repo,
    *,
    into: str,
    mainline: str,
    delivery_tip: Sha,
    mainline_tip: Sha,
    merged_prs: MergedPrs | None = None,
) -> Preview:
    """The preview of merging `mainline_tip` into `delivery_tip` (both verified commits);
    `merged_prs` asks the forge (None: PRs stay unknown)."""
    commits = incoming(repo, delivery_tip, mainline_tip)
    merged: list[PullRequest] = []
    if commits and merged_prs is not None:
        merged = list(merged_prs(_since(commits)))
        commits = with_prs(commits, merged)
    prediction = predict(repo, mainline=delivery_tip, delivery=mainline_tip)
    where, rules = codeowners.read(repo, mainline_tip)
    ask = dict.fromkeys(c.author for c in commits if c.author)
    ask.update(dict.fromkeys(codeowners.owners(rules, (p for c in commits for p in c.paths))))
    titles = {int(pr.number): pr.title for pr in merged if pr.merge_commit}
    used = {c.pr for c in commits}
    return Preview(
        into=BranchName(into),
        mainline=BranchName(mainline),
        commits=commits,
        prediction=prediction,
        ask=tuple(ask),
        owners_file=where,
        pr_titles={n: t for n, t in titles.items() if n in used},
    )


def _since(commits: Iterable[Incoming]) -> str:
    """A day before the oldest landing: a PR that merged one was updated at or after it (the
    day absorbs clock skew between the forge and whoever made the commit)."""
    oldest = min(c.when for c in commits if c.landing == c.sha) - DAY
    return datetime.fromtimestamp(oldest, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def with_prs(commits: Iterable[Incoming], merged: Iterable[PullRequest]) -> tuple[Incoming, ...]:
    """Each commit with the PR whose merge commit is its landing on the mainline."""
    by_merge = {pr.merge_commit: int(pr.number) for pr in merged if pr.merge_commit}
    return tuple(replace(c, pr=by_merge.get(c.landing)) for c in commits)


def incoming(repo: Repo, delivery_tip: Sha, mainline_tip: Sha) -> tuple[Incoming, ...]:
    """`delivery..mainline`, each commit with its landing on the mainline (one `git log`; the
    landings are computed here, graph.py), grouped by landing, oldest first."""
    out = repo.git(
        "log", "-z", "--topo-order", "--no-renames", "--name-only", f"--format={_FMT}",
        mainline_tip, f"^{delivery_tip}",
    ).stdout  # fmt: skip
    rows: list[tuple[Commit, str, str, tuple[str, ...]]] = []
    for chunk in out.split("\x1e"):
        if not chunk:
            continue
        header, _, names = chunk.partition("\0")
        sha, parents, email, name, when, subject = header.split("\x1f", 5)
        paths = tuple(p for p in names.lstrip("\n").split("\0") if p)
        commit = Commit(Sha(sha), tuple(Sha(p) for p in parents.split()), int(when), subject)
        rows.append((commit, email, name, paths))
    records = {c.sha: c for c, _, _, _ in rows}
    landed = landings(records, mainline_tip)
    order = {sha: i for i, sha in enumerate(reversed(list(records)))}  # oldest first
    first_parent = [s for s in order if landed.get(s) == s]
    rank = {s: i for i, s in enumerate(first_parent)}
    result = [
        Incoming(
            sha=c.sha,
            author=email,
            name=name,
            subject=c.subject,
            landing=landed.get(c.sha, c.sha),
            paths=paths,
            when=c.time,
        )
        for c, email, name, paths in rows
    ]
    result.sort(key=lambda i: (rank.get(i.landing, len(rank)), order[i.sha]))
    return tuple(result)
