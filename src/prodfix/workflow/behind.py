"""How far each delivery branch is behind the mainline, and when it was last synced: the nudge
"sync as often as possible" needs (`status`, `audit`, the team service's dashboard).

Per delivery branch, from the remote-tracking branches as they are (the caller fetched):
`behind_commits` — commits of the mainline the branch lacks (`rev-list --count D..M`);
`behind_days` — whole days since the oldest of the mainline's first-parent commits it lacks
landed there (how long the mainline has had work the branch lacks; 0 when it lacks nothing);
`last_sync` — when the newest marked sync merge (`Prodfix-Sync:` trailer) in its history was
committed, or null when it was never synced that way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from prodfix.adapters.git import Repo
from prodfix.adapters.shacache import ShaCache
from prodfix.config import Config
from prodfix.policy.facts import SYNC_TRAILER
from prodfix.types import Sha

DAY = 86_400
# Marked merges read per branch before giving up on finding one whose trailer git parses
# (a message that merely mentions the trailer in its body is skipped).
_CANDIDATES = 20


@dataclass(frozen=True)
class Behind:
    branch: str
    behind_commits: int
    behind_days: int
    last_sync: str | None  # ISO 8601 (UTC)
    path: str = ""  # the repository

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "branch": self.branch,
            "behind_commits": self.behind_commits,
            "behind_days": self.behind_days,
            "last_sync": self.last_sync,
        }

    def describe(self, mainline: str) -> str:
        """One short line for people (it fits 80 columns with a usual branch name)."""
        synced = f"last synced {self.last_sync[:10]}" if self.last_sync else "never synced"
        if not self.behind_commits:
            return f"{self.branch}: has every commit of {mainline}; {synced}"
        n, d = self.behind_commits, self.behind_days
        return (
            f"{self.branch}: {n} commit{'s' if n != 1 else ''} behind {mainline}, oldest "
            f"{d} day{'s' if d != 1 else ''} ago; {synced}"
        )


def measure(
    repo: Repo, *, branch: str, delivery: str, mainline: str, now: float, path: str = ""
) -> Behind:
    """`delivery` and `mainline` are full SHAs (the tips of the remote-tracking branches).

    What a pair of commits gives never changes, so it is cached by the pair: a `status` after
    another one spawns no git process here until a tip moves."""
    cache = ShaCache(repo.path, "behind")
    key = f"{delivery}..{mainline}"
    known = cache.get(key)
    if isinstance(known, list) and len(known) == 2:
        count, oldest = int(known[0]), known[1]
    else:
        # One walk of D..M gives both: the count, and M's first-parent chain inside it.
        rows = repo.git("log", "--format=%H %ct %P", mainline, f"^{delivery}").lines
        commits = {r[0]: (int(r[1]), r[2:3]) for r in (ln.split() for ln in rows)}
        count, oldest, cur = len(commits), None, mainline
        while cur in commits:
            when, first = commits[cur]
            oldest, cur = when if oldest is None else min(oldest, when), (first[0] if first else "")
        cache.put(key, [count, oldest])
        cache.save()
    days = max(0, int((now - oldest) // DAY)) if count and oldest is not None else 0
    return Behind(branch, count, days, last_sync(repo, delivery), path)


def last_sync(repo: Repo, tip: str) -> str | None:
    """The committer date of the newest marked sync merge reachable from the commit `tip`.

    Without a sync the walk reads the whole history (≈0.1 s for 6 k commits): the answer
    for a commit never changes, so it is cached by SHA and paid once per delivery tip."""
    cache = ShaCache(repo.path, "last-sync")
    known = cache.get(tip)
    if isinstance(known, str):
        return known or None
    found = ""
    fmt = f"%ct%x1f%(trailers:key={SYNC_TRAILER},valueonly)"
    for rec in repo.log_records(
        fmt, "--merges", "-E", f"--grep=^{SYNC_TRAILER}:", f"-n{_CANDIDATES}", tip
    ):
        if len(rec) > 1 and rec[1].strip():
            found = datetime.fromtimestamp(int(rec[0]), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            break
    cache.put(tip, found)
    cache.save()
    return found or None


def deliveries(
    repo: Repo, cfg: Config, *, now: float, refs: Mapping[str, Sha] | None = None
) -> list[Behind]:
    """Every delivery branch of the remote (remote-tracking branches), by name; none when the
    mainline is not there (no remote, or not fetched). `refs`: the refs a caller read already
    (else one for-each-ref)."""
    prefix = f"refs/remotes/{cfg.remote}/"
    refs = refs if refs is not None else repo.refs(prefix)
    mainline = f"{prefix}{cfg.mainline}"
    if mainline not in refs:
        return []
    names = sorted(
        r[len(prefix) :]
        for r in refs
        if r.startswith(prefix) and not r.endswith("/HEAD") and cfg.is_delivery(r[len(prefix) :])
    )
    return [
        measure(
            repo,
            branch=name,
            delivery=refs[f"{prefix}{name}"],
            mainline=refs[mainline],
            now=now,
            path=str(repo.path),
        )
        for name in names
    ]
