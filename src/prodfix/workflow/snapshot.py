"""One read of a repository, shared by every fix in it: the remote's branches and prodfix's
records (one fetch), every ref (one for-each-ref), the shared fix and test records (one
`cat-file --batch`, cached), which fix branches this clone started (one `git config`), and
the open pull requests (the forge's list).

Everything later decided about a fix is read from here, so twenty fixes in a repository cost
the same few git processes as one."""

from __future__ import annotations

from dataclasses import dataclass, field

from prodfix.adapters import records
from prodfix.adapters.forge import PullRequest
from prodfix.errors import ConfigError, ProdfixError
from prodfix.types import BranchName, Sha
from prodfix.workflow.context import Ctx
from prodfix.workflow.fixrecords import SYNCS, FixRecord, TestRecord, read_fixes, read_tests

DELIVERY_KEY = "prodfix-delivery"  # git config branch.<fix branch>.prodfix-delivery


@dataclass
class RepoSnapshot:
    ctx: Ctx
    refs: dict[str, Sha] = field(default_factory=dict)
    fixes: dict[str, FixRecord] = field(default_factory=dict)
    syncs: dict[str, FixRecord] = field(default_factory=dict)  # kind "sync"
    tests: dict[str, TestRecord] = field(default_factory=dict)
    started_here: dict[str, str] = field(default_factory=dict)  # fix branch → its delivery
    open_prs: list[PullRequest] = field(default_factory=list)
    current_branch: BranchName | None = None
    error: str | None = None  # the repository could not be read (exit 4 / failed steps)

    @property
    def remote(self) -> str:
        return self.ctx.remote

    def remote_tip(self, branch: str) -> Sha | None:
        return self.refs.get(f"refs/remotes/{self.remote}/{branch}")

    def local_tip(self, branch: str) -> Sha | None:
        return self.refs.get(f"refs/heads/{branch}")

    @property
    def mainline_tip(self) -> Sha | None:
        return self.remote_tip(self.ctx.cfg.mainline)

    def remote_branches(self) -> dict[str, Sha]:
        prefix = f"refs/remotes/{self.remote}/"
        return {
            r[len(prefix) :]: sha
            for r, sha in self.refs.items()
            if r.startswith(prefix) and not r.endswith("/HEAD")
        }

    def deliveries(self) -> dict[str, Sha]:
        return {b: s for b, s in self.remote_branches().items() if self.ctx.cfg.is_delivery(b)}


def read(ctx: Ctx, *, fetch: bool = True) -> RepoSnapshot:
    """Read everything about the repository once. A failure to read is kept on the snapshot
    (every fix of the repository then shows it), not raised: other repositories go on. A
    configuration that does not fit the remote is raised: no retry will help."""
    snap = RepoSnapshot(ctx)
    try:
        _read(snap, fetch=fetch)
    except ConfigError:
        raise  # the configuration is wrong everywhere: exit 2, not a failed repository
    except ProdfixError as exc:
        snap.error = exc.message
    return snap


def _read(snap: RepoSnapshot, *, fetch: bool) -> None:
    ctx = snap.ctx
    repo, remote = ctx.repo, ctx.remote
    if not repo.path.is_dir():
        raise ProdfixError(f"{repo.path} is gone")
    # The embedded forge's read is the fetch and the for-each-ref: one of each per repository.
    primed = ctx.forge.prime() if fetch else None
    if primed is not None:
        snap.refs = dict(primed)
    else:
        if fetch:
            records.fetch(repo, remote)
        snap.refs = repo.refs(
            "refs/heads/", f"refs/remotes/{remote}/", f"{records.mirror(remote)}/", records.LOCAL
        )
    if not snap.mainline_tip:
        raise ctx.cfg.missing_mainline()
    snap.fixes = read_fixes(repo, remote, snap.refs)
    snap.syncs = read_fixes(repo, remote, snap.refs, SYNCS)
    snap.tests = read_tests(repo, remote, snap.refs)
    snap.current_branch = repo.current_branch()
    # Which delivery branch this clone's own fix branches were started from: asked only when a
    # local fix branch is not already known from the remote (records, branches).
    cfg = ctx.cfg
    unknown = [
        r.removeprefix("refs/heads/")
        for r in snap.refs
        if r.startswith("refs/heads/")
        and cfg.fix_name(r.removeprefix("refs/heads/")) is not None
        and cfg.fix_name(r.removeprefix("refs/heads/")) not in snap.fixes
        and not snap.remote_tip(r.removeprefix("refs/heads/"))
    ]
    if unknown:
        config = repo.git(
            "config", "--get-regexp", rf"^branch\..*\.{DELIVERY_KEY}$", ok_codes=(0, 1)
        ).lines
        for line in config:
            key, _, value = line.partition(" ")
            snap.started_here[key[len("branch.") : -len(DELIVERY_KEY) - 1]] = value
    # Without credentials a hosted forge cannot be asked (and is not): fixes are then found
    # from the remote's branches and records alone.
    snap.open_prs = ctx.forge.list_prs(state="open") if ctx.forge.has_credentials() else []
