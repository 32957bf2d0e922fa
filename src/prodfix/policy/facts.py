"""The git reads behind the policy gate: a few set-shaped queries per branch, never a loop of
processes per commit or per merge (such a loop costs seconds on a big history).
"""

from __future__ import annotations

from prodfix import config
from prodfix.adapters.git import Repo
from prodfix.config import Config, tomlcache
from prodfix.errors import ProdfixError
from prodfix.policy.graph import Commit, index, landings, sync_covered
from prodfix.policy.links import Names, picked_from
from prodfix.types import BranchName, Sha

TYPE_CHECKING = False  # no typing at run time: `check` loads this module (prodfix/tuples.py)
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import NamedTuple
else:
    from prodfix.tuples import NamedTuple

SYNC_TRAILER = "Prodfix-Sync"
_LOG_FMT = f"%H%x1f%P%x1f%ct%x1f%s%x1f%(trailers:key={SYNC_TRAILER},valueonly)"


class Branches(NamedTuple):
    """Where the mainline and the delivery branches are read from, with their tips."""

    mainline: BranchName
    mainline_ref: str  # full ref name: refs/remotes/origin/master or refs/heads/master
    deliveries: Mapping[BranchName, str]  # short name → full ref name, sorted by name
    tips: Mapping[str, Sha]  # full ref name → commit
    remote: str | None  # the remote whose tracking branches are used; None: local branches
    current: BranchName | None = None  # the checked-out branch; None: detached HEAD


def fetch_refspecs(cfg: Config) -> list[str]:
    """Refspecs that update exactly the branches `check` reads (it fetches them first unless
    --no-fetch: docs/commands.md)."""
    remote, main, glob = cfg.remote, cfg.mainline, cfg.delivery
    # A refspec pattern takes one `*` and nothing else of glob syntax.
    pattern = glob if glob.count("*") == 1 and not set(glob) & set("?[") else "*"
    return [
        f"+refs/heads/{main}:refs/remotes/{remote}/{main}",
        f"+refs/heads/{pattern}:refs/remotes/{remote}/{pattern}",
    ]


def read_branches(repo: Repo, cfg: Config, *, fetch: bool) -> tuple[Branches, list[str]]:
    """Fetch (unless told not to) and read the mainline and delivery tips; notes for stderr."""
    remote, main = str(cfg.remote), BranchName(cfg.mainline)
    notes: list[str] = []
    # `git remote` only when its answer matters: one process less per --no-fetch check.
    has_remote = remote in repo.remotes() if fetch else None
    if has_remote:
        try:
            repo.fetch(remote, *fetch_refspecs(cfg))
        except ProdfixError as exc:
            # git fetch(1) names a refspec's missing source this way; the other branches
            # are fetched by a pattern, which matching nothing is no error.
            if f"couldn't find remote ref refs/heads/{main}" in exc.message:
                raise cfg.missing_mainline() from None
            raise
    tips, current = _refs(repo, f"refs/remotes/{remote}/", "refs/heads/")
    prefix = f"refs/remotes/{remote}/"
    if f"{prefix}{main}" not in tips:
        if has_remote is None:
            has_remote = remote in repo.remotes()
        if not has_remote:
            notes.append(f"no remote {remote!r}: judging the local branches")
        else:
            notes.append(f"{remote}/{main} not found: judging the local branches")
        prefix = "refs/heads/"
        remote_used: str | None = None
    else:
        remote_used = remote
    if f"{prefix}{main}" not in tips:
        raise ProdfixError(
            f"the mainline branch {main!r} does not exist here",
            hint="fetch it, or set `mainline` in .prodfix.toml",
        )
    deliveries = {
        BranchName(name[len(prefix) :]): name
        for name in sorted(tips)
        if name.startswith(prefix)
        and name[len(prefix) :] != "HEAD"
        and cfg.is_delivery(name[len(prefix) :])
    }
    return Branches(main, f"{prefix}{main}", deliveries, tips, remote_used, current), notes


def _refs(repo: Repo, *patterns: str) -> tuple[dict[str, Sha], BranchName | None]:
    """Tips of the refs matching the patterns and the checked-out branch, in one process
    (`%(HEAD)` marks the branch HEAD points to: git-for-each-ref(1))."""
    out = repo.git("for-each-ref", "--format=%(HEAD)%(refname)%00%(objectname)", *patterns)
    tips: dict[str, Sha] = {}
    current: BranchName | None = None
    for line in out.stdout.splitlines():
        name, _, sha = line[1:].partition("\0")
        tips[name] = Sha(sha)
        if line[0] == "*" and name.startswith("refs/heads/"):
            current = BranchName(name.removeprefix("refs/heads/"))
    return tips, current


def short_name(ref: str, remote: str) -> BranchName:
    for prefix in ("refs/heads/", f"refs/remotes/{remote}/", f"{remote}/"):
        if ref.startswith(prefix):
            return BranchName(ref[len(prefix) :])
    return BranchName(ref)


def resolve(repo: Repo, br: Branches, rev: str, remote: str) -> Sha | None:
    """A commit the user named; a mainline/delivery name falls back to the branch judged."""
    sha = repo.resolve(rev)
    if sha is None:
        name = short_name(rev, remote)
        ref = br.mainline_ref if name == br.mainline else br.deliveries.get(name)
        sha = br.tips.get(ref) if ref else None
    return sha


def recorded_delivery(repo: Repo, branch: str) -> BranchName | None:
    """The delivery branch `start` wrote into the branch's git config, if any."""
    r = repo.git("config", "--get", f"branch.{branch}.prodfix-delivery", check=False)
    return BranchName(r.stdout.strip()) if r.returncode == 0 and r.stdout.strip() else None


def merge_bases(
    repo: Repo, sha: Sha, tips: Mapping[BranchName, Sha]
) -> dict[BranchName, tuple[Sha, int] | None]:
    """Per delivery: the merge-base with sha and its committer date (one process per branch;
    the number of delivery branches is small, unlike commits)."""
    bases = {name: repo.merge_base(sha, tip) for name, tip in tips.items()}
    found = sorted({b for b in bases.values() if b})
    dates = (
        {Sha(r[0]): int(r[1]) for r in repo.log_records("%H%x1f%ct", "--no-walk", *found)}
        if found
        else {}
    )
    return {name: (b, dates[b]) if b else None for name, b in bases.items()}


def commits_of(repo: Repo, *revs: str) -> list[Commit]:
    """`git log` of a range as records, newest first (one process)."""
    return [
        Commit(Sha(r[0]), tuple(Sha(p) for p in r[1].split()), int(r[2]), r[3], bool(r[4]))
        for r in repo.log_records(_LOG_FMT, *revs)
    ]


class Carried(NamedTuple):
    """What a branch carries beyond its delivery branch."""

    on_master: list[Commit]  # commits that are on master (newest first)
    own: list[Sha]  # its own non-merge commits, oldest first: what a rebuilt branch keeps
    tip_sync: bool = False  # its tip is a marked sync merge
    synced: bool = False  # marked sync merges on it brought every one of `on_master`


def master_not_on_delivery(repo: Repo, ref: Sha, delivery: Sha, mainline: Sha) -> Carried:
    """`REF ^D` minus `REF ^D ^M` — REF's commits that are on master (exact at PR time, since
    `^D` excludes delivery's own unmerged work)."""
    own = set(repo.rev_list(ref, f"^{delivery}", f"^{mainline}"))
    records = index(commits_of(repo, ref, f"^{delivery}"))
    on_master = [c for c in records.values() if c.sha not in own]
    keep = [c.sha for c in reversed(records.values()) if c.sha in own and len(c.parents) < 2]
    tip = records.get(ref)
    covered = sync_covered(records, records) if on_master else set()
    synced = bool(on_master) and all(c.sha in covered for c in on_master)
    return Carried(on_master, keep, tip_sync=bool(tip and tip.sync), synced=synced)


def mainline_allow_list(repo: Repo, mainline_ref: str) -> list[str]:
    """`[check] allow-merges` of the mainline's .prodfix.toml: the team records accepted
    merges there, and a fix branch's checkout carries its delivery branch's older copy."""
    r = repo.git("show", f"{mainline_ref}:{config.FILENAME}", check=False)
    if r.returncode != 0:
        return []
    source = f"{mainline_ref}:{config.FILENAME}"
    values = config.parse(r.stdout, source, cache=tomlcache.cache_file(repo.root))
    return [str(s) for s in values["check.allow-merges"]]


def _last_first_parent(lines: Sequence[str], fallback: Sha) -> Sha | None:
    """From `rev-list --first-parent --parents A ^B`: the first A-chain commit reachable from B."""
    if not lines:
        return fallback
    fields = lines[-1].split()
    return Sha(fields[1]) if len(fields) > 1 else None


class Leak(NamedTuple):
    """One first-parent commit of a delivery branch that brought mainline commits."""

    merge: Commit
    brought: tuple[Sha, ...]  # the mainline commits, newest first
    syncs: tuple[Sha, ...] = ()  # marked sync merges among what it brought (not itself)
    beyond: tuple[Sha, ...] = ()  # brought mainline commits that none of those syncs brought


class Leaks(NamedTuple):
    """Mainline commits inside one delivery branch, grouped by the first-parent merge of the
    delivery that brought them (mainline = commits on master's first-parent chain)."""

    cut: Sha | None
    merges: tuple[Leak, ...]
    mainline_ahead: tuple[Sha, ...]  # `rev-list --first-parent M ^D`, newest first


class Divergence(NamedTuple):
    """What `M...D` says, from one `git log` of both sides: M's first-parent commits that D
    lacks, the newest M-chain commit D has, and D's own commits."""

    ahead: tuple[Sha, ...]  # `rev-list --first-parent M ^D`, newest first
    x: Sha | None  # the first-parent of the oldest of `ahead` (M if D has M); None: unrelated
    delivery_only: dict[Sha, Commit]  # `D ^M`


def divergence(repo: Repo, delivery: Sha, mainline: Sha) -> Divergence:
    """One walk instead of two (`rev-list --first-parent M ^D` and `log D ^M`): M's side is
    read in full and its first-parent chain followed here (%m: git-log(1), PRETTY FORMATS)."""
    left: dict[str, list[str]] = {}
    right: dict[Sha, Commit] = {}
    for r in repo.log_records(f"%m{_LOG_FMT}", f"{mainline}...{delivery}"):
        sha, parents = r[0][1:], r[1].split()
        if r[0][:1] == "<":
            left[sha] = parents
        else:
            right[Sha(sha)] = Commit(
                Sha(sha), tuple(Sha(p) for p in parents), int(r[2]), r[3], bool(r[4])
            )
    ahead: list[Sha] = []
    cur: str | None = mainline
    while cur is not None and cur in left:
        ahead.append(Sha(cur))
        cur = left[cur][0] if left[cur] else None
    return Divergence(tuple(ahead), Sha(cur) if cur else None, right)


def mainline_leaks(
    repo: Repo, delivery: Sha, mainline: Sha, div: Divergence | None = None
) -> Leaks:
    # Fast path, two walks bounded by the divergence, not by history. X = newest mainline
    # (first-parent of M) commit reachable from D. Without a leak X is the cut itself, so it is
    # on D's first-parent chain: the newest D first-parent commit reachable from X is X.
    div = div or divergence(repo, delivery, mainline)
    ahead, x = div.ahead, div.x
    if x is None:  # unrelated histories: nothing of master inside D
        return Leaks(None, (), ahead)
    d_lines = repo.git("rev-list", "--first-parent", "--parents", delivery, f"^{x}").lines
    y = _last_first_parent(d_lines, delivery)
    if y == x or y is None:
        return Leaks(x, (), ahead)
    # Slow path (a leak or a marked sync exists): CUT = newest commit on both first-parent
    # chains.
    cut, below_x = _cut(repo, x, y)
    mainline_set = set(ahead) | set(below_x)
    records = index(commits_of(repo, delivery, f"^{cut}") if cut else commits_of(repo, delivery))
    members: dict[Sha, list[Sha]] = {}
    for sha, fp in landings(records, delivery).items():
        if sha != fp:
            members.setdefault(fp, []).append(sha)
    rank = {s: i for i, s in enumerate(records)}  # git's newest-first order
    merges: list[Leak] = []
    for fp in sorted(members, key=rank.__getitem__):
        brought = sorted((s for s in members[fp] if s in mainline_set), key=rank.__getitem__)
        if not brought:
            continue
        syncs = sorted(
            (s for s in members[fp] if records[s].sync and len(records[s].parents) > 1),
            key=rank.__getitem__,
        )
        covered = sync_covered(records, members[fp]) if syncs else set()
        beyond = tuple(s for s in brought if s not in covered)
        merges.append(Leak(records[fp], tuple(brought), tuple(syncs), beyond))
    return Leaks(cut, tuple(merges), ahead)


def _cut(repo: Repo, x: Sha, y: Sha, *, rounds: int = 64) -> tuple[Sha | None, list[Sha]]:
    """CUT and M's first-parent commits from X down to it (exclusive).

    Invariant: CUT is at or below X on M's chain and at or below Y on D's chain. Each round
    asks for the newest M-chain commit reachable from Y (Z), then the newest D-chain commit
    reachable from Z; a commit found on both chains is CUT. Every walk covers only the gap
    between two syncs/back-merges, so reading both chains down to the root (≈300 ms each on
    80 k commits, bench/README.md) is the fallback, not the rule.
    """
    segment: list[Sha] = []
    for _ in range(rounds):
        m_lines = repo.git("rev-list", "--first-parent", "--parents", x, f"^{y}").lines
        segment += [Sha(ln.split()[0]) for ln in m_lines]
        z = _last_first_parent(m_lines, x)
        if z is None or z == y:
            return z, segment
        d_lines = repo.git("rev-list", "--first-parent", "--parents", y, f"^{z}").lines
        y2 = _last_first_parent(d_lines, y)
        if y2 is None or y2 == z:
            return y2, segment
        x, y = z, y2
    m_chain = repo.rev_list("--first-parent", x)
    on_m = set(m_chain)
    cut = next((s for s in repo.rev_list("--first-parent", y) if s in on_m), None)
    return cut, segment + m_chain[: m_chain.index(cut) if cut else len(m_chain)]


def proposal_leak(repo: Repo, ref: Sha, delivery: Sha, mainline: Sha, leaks: Leaks) -> list[Sha]:
    """Mainline commits that merging ref into the delivery branch would bring: the part of
    `rev-list --first-parent M ^D` that `… ^REF` drops (both are prefixes of M's chain)."""
    rest = repo.count("--first-parent", mainline, f"^{delivery}", f"^{ref}")
    return list(leaks.mainline_ahead[rest:])


class Pending(NamedTuple):
    commit: Commit
    landing: Commit  # delivery's first-parent commit that brought it in


def pending_backmerge(
    repo: Repo, delivery: Sha, mainline: Sha, div: Divergence | None = None
) -> list[Pending]:
    """Delivery commits not on master, neither as themselves, nor as patch-equivalent copies
    (`--cherry-pick`), nor linked by a `-x` line in either direction: a master commit picked
    from it, or it picked from a master commit (a backport), whatever the patches became.
    Layers: ancestry → patch-id → `-x` line, cheapest first."""
    records = (div or divergence(repo, delivery, mainline)).delivery_only
    if not any(len(c.parents) < 2 for c in records.values()):
        return []
    candidates = repo.rev_list(
        "--cherry-pick", "--right-only", "--no-merges", f"{mainline}...{delivery}"
    )
    if not candidates:
        return []
    # One walk over both sides finds the `-x` lines; %m says which side (git-log(1), %m).
    picked_on_master = Names()
    backports: dict[Sha, list[str]] = {}
    for rec in repo.log_records(
        "%m%H%x1f%B", "-F", "--grep=(cherry picked from commit ", f"{mainline}...{delivery}"
    ):
        side, sha, body = rec[0][:1], Sha(rec[0][1:]), rec[1]
        if side == "<":
            for name in picked_from(body):
                picked_on_master.add(name)
        else:
            backports[sha] = picked_from(body)
    landed = landings(records, delivery)
    out: list[Pending] = []
    for sha in candidates:
        if sha in picked_on_master or sha not in records:
            continue
        if any(_on_master(repo, name, mainline) for name in backports.get(sha, ())):
            continue
        out.append(Pending(records[sha], records[landed.get(sha, sha)]))
    return out


def _on_master(repo: Repo, name: str, mainline: Sha) -> bool:
    """Is the commit a `-x` line names on master? (One process per backport: they are few.)"""
    sha = repo.resolve(name)
    return sha is not None and repo.is_ancestor(sha, mainline)
