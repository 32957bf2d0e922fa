"""Verify a back-merge after it landed on the mainline: proof that no delivery fix was lost.

Ancestry alone says "merged" even when the merge threw the fixes away (`-s ours`, or a
conflict resolved by taking the mainline's side, often inside a resolution merge on the PR's
head branch), so the checks look at trees and patches. The rule is in docs/backmerge.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prodfix.adapters.git import GitError, Repo
from prodfix.policy import presence
from prodfix.policy.backmerge import resolve_commit
from prodfix.policy.graph import Commit, landings
from prodfix.policy.links import GREP, SUPERSEDES, Names, picked_from, superseded
from prodfix.types import Sha, short

MARKER = ": leftover conflict marker"


@dataclass(frozen=True)
class Problem:
    code: str  # not-a-merge | delivery-not-merged | empty-backmerge | conflict-markers | lost-fix
    message: str
    evidence: tuple[str, ...]  # SHAs, paths, or "path:line"
    hint: str = ""  # how to repair it


@dataclass(frozen=True)
class Accepted:
    """A delivery fix whose change is not in the mainline's tree, for a documented reason."""

    fix: Sha
    how: str  # superseded | patch-equivalent | cherry-picked
    by: Sha | None  # the mainline commit that accounts for it (None: patch-equivalent)
    message: str


@dataclass(frozen=True)
class Verification:
    problems: tuple[Problem, ...]
    accepted: tuple[Accepted, ...] = ()  # to report, never a failure

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_backmerge(
    repo: Repo,
    *,
    merge_commit: str,
    delivery_tip: str,
    mainline: str,
    mainline_sha: Sha | None = None,
) -> list[Problem]:
    """Problems of the back-merge `merge_commit`, which should bring `delivery_tip` (delivery
    at PR time) into `mainline`. An empty list means it is a sound back-merge. `mainline_sha`:
    the mainline's tip when the caller has read it already (`mainline` then only names it)."""
    return list(
        inspect_backmerge(
            repo,
            merge_commit=merge_commit,
            delivery_tip=delivery_tip,
            mainline=mainline,
            mainline_sha=mainline_sha,
        ).problems
    )


def inspect_backmerge(
    repo: Repo,
    *,
    merge_commit: str,
    delivery_tip: str,
    mainline: str,
    mainline_sha: Sha | None = None,
) -> Verification:
    """`verify_backmerge` plus the fixes accepted although absent (e.g. superseded)."""
    m = resolve_commit(repo, merge_commit, role="back-merge commit")
    tip = resolve_commit(repo, delivery_tip, role="delivery tip")
    main = mainline_sha or resolve_commit(repo, mainline, role="mainline")
    name = display_name(mainline)
    parents = repo.parents(m)
    problems: list[Problem] = []
    if len(parents) < 2:
        problems.append(
            Problem(
                "not-a-merge",
                f"back-merge {short(m)} is not a merge commit (squashed or rebased): delivery's "
                "history did not reach master, so the same fixes count as unmerged and their "
                "conflicts come back at the next back-merge",
                (m,),
                "merge back again with a merge commit (`prodfix backmerge`), never squash",
            )
        )
    if not repo.is_ancestor(tip, main):
        # Only a true merge moves the merge base: this is the check that proves it.
        problems.append(
            Problem(
                "delivery-not-merged",
                f"delivery tip {short(tip)} is not an ancestor of {name}",
                (tip,),
                "open the back-merge again: `prodfix backmerge`",
            )
        )
    if len(parents) < 2:
        return Verification(tuple(problems))
    ours, theirs = parents[0], parents[1]
    problems += _markers(repo, m, ours, theirs)
    empty = _empty(repo, m, ours, theirs)
    if empty:
        problems.append(empty)
    base = mainline.removeprefix("refs/remotes/").removeprefix("refs/heads/")
    lost, accepted = _fixes(repo, m, ours, tip, main, name, base)
    return Verification(tuple(problems + lost), tuple(accepted))


def display_name(ref: str) -> str:
    """`refs/remotes/origin/master` → `master`, for messages."""
    if ref.startswith("refs/remotes/"):
        return ref.split("/", 3)[3] if ref.count("/") >= 3 else ref
    return ref.removeprefix("refs/heads/")


def _markers(repo: Repo, m: Sha, ours: Sha, theirs: Sha) -> list[Problem]:
    """Conflict markers the merge itself added: lines new relative to *both* parents (a marker
    line that delivery already had is delivery's business, not this merge's). `diff --check`
    exits 2 for whitespace errors too, so the message is what counts (git-diff(1), --check)."""
    added = _marker_lines(repo, ours, m) & _marker_lines(repo, theirs, m)
    if not added:
        return []
    found = tuple(sorted(added))
    return [
        Problem(
            "conflict-markers",
            f"back-merge {short(m)} commits conflict markers",
            found,
            "remove them in a follow-up PR into the mainline",
        )
    ]


def _marker_lines(repo: Repo, base: Sha, m: Sha) -> set[str]:
    args = ("-c", "core.quotePath=false", "diff", "--check", "--no-ext-diff", base, m)
    r = repo.git(*args, check=False)
    if r.returncode not in (0, 2):
        raise GitError(("git", *args), r.returncode, r.stdout, r.stderr)
    return {ln.removesuffix(MARKER) for ln in r.lines if ln.endswith(MARKER)}


def _empty(repo: Repo, m: Sha, ours: Sha, theirs: Sha) -> Problem | None:
    """`-s ours`: M's tree is master's although delivery brought commits. Not a problem
    when git's own merge would bring nothing either (every fix already on master, e.g. picked)."""
    tree_m, tree_ours = repo.out("rev-parse", f"{m}^{{tree}}", f"{ours}^{{tree}}").split()
    if tree_m != tree_ours or repo.count(f"{ours}..{theirs}") == 0:
        return None
    auto = repo.merge_tree(ours, theirs)
    if auto.clean and auto.tree == tree_ours:
        return None
    return Problem(
        "empty-backmerge",
        f"back-merge {short(m)} changes nothing although it merges delivery commits "
        "(made with `-s ours`?)",
        (m,),
    )


def _fixes(
    repo: Repo, m: Sha, ours: Sha, tip: Sha, main: Sha, name: str, base: str
) -> tuple[list[Problem], list[Accepted]]:
    """Every delivery fix the back-merge brings (the non-merge commits of `tip ^ours`) must be
    in the mainline: its change present in M's tree or in the mainline's tree after it, or
    linked to a mainline commit (patch-equivalent, `-x`, Prodfix-Supersedes). A fix whose
    change is no longer in delivery's own tree either (reverted or replaced on delivery) is
    not expected. Each step runs only for the fixes the previous ones could not place."""
    info = _commits(repo, ours, tip)
    tip = _delivery_side(repo, tip, ours, info)
    info.landed_by.update(landings(info.records, tip))
    patches = presence.patches(repo, ours, tip)
    if patches and not repo.is_ancestor(tip, m):
        # Commits delivery gained after the PR's head are the next back-merge's business.
        merged = set(repo.rev_list(m, f"^{ours}"))
        patches = [(s, p) for s, p in patches if s in merged]
    absent = presence.absent_from(repo, m, patches)
    if absent and main != m:
        absent = presence.absent_from(repo, main, absent)
    if absent:
        gone = {s for s, _ in presence.absent_from(repo, tip, absent)}
        absent = [(s, p) for s, p in absent if s not in gone]
    if not absent:
        return [], []
    accepted = _linked(repo, ours, tip, main, [s for s, _ in absent], info, name)
    lost: list[Problem] = []
    for sha, patch in absent:
        if sha in accepted:
            continue
        paths = presence.missing_paths(repo, m, sha, patch)
        subject, landing = info.subject(sha), info.landing_text(sha)
        lost.append(
            Problem(
                "lost-fix",
                f'delivery fix {short(sha)} "{subject}"{landing} is not on {name} after '
                f"back-merge {short(m)}: its change to {', '.join(paths)} is missing",
                (sha, *paths),
                f"bring it back in a PR into {name} (`git switch -c restore-{short(sha)} "
                f"{base}` then `git cherry-pick -x {sha}`); if {name} replaces it on "
                f"purpose, say so with a `{SUPERSEDES}: {sha}` trailer in that PR's commit "
                "(docs/backmerge.md)",
            )
        )
    return lost, list(accepted.values())


def _delivery_side(repo: Repo, tip: Sha, ours: Sha, info: _Info) -> Sha:
    """Delivery's tip when `tip` is the PR's head. A back-merge with conflicts is resolved on
    a branch made from the mainline: its head is a merge whose first parent is a mainline
    commit (on the mainline's first-parent chain) and whose second parent is delivery's tip.
    The fixes must be judged against delivery's tree, not the resolution's."""
    c = info.records.get(tip)
    parents = c.parents if c else ()
    if len(parents) != 2 or parents[0] in info.records or parents[1] not in info.records:
        return tip
    chain = repo.git("rev-list", "--first-parent", "--parents", ours, f"^{parents[0]}").lines
    below = chain[-1].split()[1:2] if chain else [ours]
    return parents[1] if below == [parents[0]] else tip


@dataclass(frozen=True)
class _Info:
    """Parents, subjects and bodies of the commits of `tip ^ours` (one `git log`)."""

    records: dict[Sha, Commit]
    bodies: dict[str, str]
    landed_by: dict[Sha, Sha] = field(default_factory=dict)  # commit → delivery's landing

    def subject(self, sha: Sha) -> str:
        c = self.records.get(sha)
        return c.subject if c else ""

    def landing_text(self, sha: Sha) -> str:
        """The merge that brought a fix names its PR or branch; say it when it is not the fix."""
        by = self.landed_by.get(sha)
        if not by or by == sha:
            return ""
        return f' (landed by {short(by)} "{self.subject(by)}")'


def _commits(repo: Repo, ours: Sha, tip: Sha) -> _Info:
    records: dict[Sha, Commit] = {}
    bodies: dict[str, str] = {}
    for sha, ps, subject, body in repo.log_records("%H%x1f%P%x1f%s%x1f%B", tip, f"^{ours}"):
        records[Sha(sha)] = Commit(Sha(sha), tuple(Sha(p) for p in ps.split()), 0, subject)
        bodies[sha] = body
    return _Info(records, bodies)


def _linked(
    repo: Repo,
    ours: Sha,
    tip: Sha,
    main: Sha,
    fixes: list[Sha],
    info: _Info,
    name: str,
) -> dict[Sha, Accepted]:
    """The fixes a mainline commit accounts for, whatever its content says today."""
    out: dict[Sha, Accepted] = {}
    wanted = set(fixes)

    def accept(fix: Sha, how: str, by: Sha | None, text: str) -> None:
        if fix in wanted and fix not in out:
            subject = info.subject(fix)
            out[fix] = Accepted(fix, how, by, f'delivery fix {short(fix)} "{subject}" {text}')

    # Mainline commits that name a fix: a later rewrite (Prodfix-Supersedes) or a `-x` copy.
    fmt = f"%H%x1f%s%x1f%(trailers:key={SUPERSEDES},valueonly)%x1f%B"
    for sha, subject, values, body in repo.log_records(fmt, *GREP, main, f"^{tip}"):
        by = f'{short(sha)} "{subject}"'
        for fix in Names(superseded(values)).resolve(wanted):
            accept(Sha(fix), "superseded", Sha(sha), f"is superseded by {by} on {name}")
        for fix in Names(picked_from(body)).resolve(wanted):
            accept(Sha(fix), "cherry-picked", Sha(sha), f"was cherry-picked to {name} as {by}")
    # A fix that is itself a `-x` copy of a mainline commit.
    for fix in wanted - out.keys():
        for origin in picked_from(info.bodies.get(fix, "")):
            source = repo.resolve(origin)
            if source and repo.is_ancestor(source, main):
                accept(fix, "cherry-picked", source, f"is a cherry-pick of {short(source)}")
                break
    # Patch-equivalent copies on the mainline before the merge (git-rev-list(1), --cherry-pick).
    rest = wanted - out.keys()
    if rest:
        unmatched = set(
            repo.rev_list("--cherry-pick", "--right-only", "--no-merges", f"{ours}...{tip}")
        )
        for fix in sorted(rest - unmatched):
            accept(fix, "patch-equivalent", None, f"has a patch-equivalent copy on {name}")
    return out
