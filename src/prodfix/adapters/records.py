"""Facts prodfix keeps in the remote itself, so every clone on every machine reads the same.

Layout on the remote (beside the embedded forge's `refs/prodfix/pulls/`):

    refs/prodfix/fixes/<name>    which fixes exist: name, delivery branch, base, who started
                                 it, the head last proposed, when it finished
    refs/prodfix/tests/<sha>     the test result of a commit, and who ran the tests
    refs/prodfix/builds/<n>      builds of the embedded build runner (`build.type = "command"`):
                                 the number is taken by a must-not-exist push, so two clones
                                 never build under one number
    refs/prodfix/images/<tag>    the delivery commit an image tag was built from (a plain
                                 pointer): what "deployed" is decided by

A record is a chain of commits, each with one blob `record.json`; an update is a new commit
whose parent is the one read, pushed with a lease on it (compare-and-swap), so concurrent
writers never lose each other's changes. Reading is one fetch (done with the branches) and one
`cat-file --batch`; a commit never changes, so its JSON is cached by SHA. Objects are made
with plumbing only: HEAD, the index and the work tree are never touched.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from prodfix.adapters.git import Repo
from prodfix.adapters.shacache import shared
from prodfix.errors import Exit, ProdfixError, ServiceError
from prodfix.types import Sha

NS = "refs/prodfix"
LOCAL = f"{NS}/local"  # this clone's records not shared yet (e.g. test results)
FORMAT = 1
MAX_RETRIES = 20


def mirror(remote: str) -> str:
    """Where a clone keeps its copy of the remote's records (beside refs/remotes/<remote>)."""
    return f"{NS}/remotes/{remote}"


def fetch_refspecs(remote: str) -> tuple[str, str]:
    """Branches and every prodfix record in one fetch."""
    return (f"+refs/heads/*:refs/remotes/{remote}/*", f"+{NS}/*:{mirror(remote)}/*")


def fetch(repo: Repo, remote: str, *, again: bool = True) -> bool:
    """Fetch branches and records; False when it did not. `again=False` is for the first try
    of a write that leases every ref it changes: this command's last fetch of `remote` is
    reused when there was one (the lease catches what others pushed since, and the write
    tries again on a fresh fetch), sparing a round trip between a look and the write it
    decides."""
    if not again and remote in repo.fetched:
        return False
    repo.fetch(remote, *fetch_refspecs(remote))
    repo.fetched.add(remote)
    return True


def component(text: str) -> str:
    """A record name as one ref component: everything but [A-Za-z0-9_-] percent-encoded, so
    image tags with dots or colons and fix names with slashes are all valid and distinct."""
    return quote(text, safe="").replace(".", "%2E").replace("~", "%7E")


def uncomponent(text: str) -> str:
    return unquote(text)


def ref(kind: str, name: str) -> str:
    """The remote ref of a record: `refs/prodfix/<kind>/<encoded name>`."""
    return f"{NS}/{kind}/{component(name)}"


@dataclass(frozen=True)
class Record:
    kind: str  # fixes | tests | builds
    name: str
    sha: Sha  # the record's commit (what an update leases against)
    doc: Mapping[str, Any]


def names(refs: Mapping[str, str], remote: str, kind: str) -> dict[str, Sha]:
    """name → ref value of every record of `kind` in a for-each-ref result of the mirror."""
    prefix = f"{mirror(remote)}/{kind}/"
    return {
        uncomponent(r[len(prefix) :]): Sha(sha) for r, sha in refs.items() if r.startswith(prefix)
    }


def read(repo: Repo, remote: str, kind: str, refs: Mapping[str, str]) -> dict[str, Record]:
    """Every record of `kind` (from refs the caller read after a fetch), in one batch."""
    found = names(refs, remote, kind)
    docs = read_docs(repo, list(found.values()))
    return {
        name: Record(kind, name, sha, doc)
        for (name, sha), doc in zip(found.items(), docs, strict=True)
        if doc is not None
    }


def read_docs(repo: Repo, shas: list[Sha]) -> list[dict[str, Any] | None]:
    """`record.json` of each commit (None for one that is not a record)."""
    cache = shared(repo.path, "records")
    missing = sorted({s for s in shas if cache.get(s) is None})
    if missing:
        blobs = repo.read_blobs([f"{s}:record.json" for s in missing])
        for sha, blob in zip(missing, blobs, strict=True):
            cache.put(sha, blob.decode("utf-8", "surrogateescape") if blob is not None else "")
        cache.save()
    out: list[dict[str, Any] | None] = []
    for sha in shas:
        text = str(cache.get(sha) or "")
        try:
            doc = json.loads(text) if text else None
        except ValueError:
            doc = None
        out.append(doc if isinstance(doc, dict) and doc.get("version") == FORMAT else None)
    return out


def identity(repo: Repo) -> tuple[str, str]:
    """(name, email) of the person running prodfix, from git; records say who did what."""
    from prodfix.adapters import identity

    return identity.of(repo, "prodfix records who started, tested and built a fix")


def who(repo: Repo) -> str:
    name, email = identity(repo)
    return f"{name} <{email}>"


def write(repo: Repo, doc: Mapping[str, Any], parent: Sha | None, message: str) -> Sha:
    """One record commit (tree: record.json), chained to the previous one; no ref moves."""
    text = json.dumps({"version": FORMAT, **doc}, indent=2, sort_keys=True, ensure_ascii=False)
    blob = repo.git("hash-object", "-w", "--stdin", input=text + "\n").stdout.strip()
    tree = repo.git("mktree", input=f"100644 blob {blob}\trecord.json\n").stdout.strip()
    args = ["commit-tree", tree, *(["-p", parent] if parent else [])]
    name, email = identity(repo)
    env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email}
    env |= {"GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
    return Sha(repo.git(*args, input=message + "\n", env=env).stdout.strip())


@dataclass(frozen=True)
class PushOutcome:
    ok: bool
    rejected: Mapping[str, str]  # ref → git's reason (a lost race)


def push(repo: Repo, remote: str, updates: Mapping[str, tuple[str, str | None]]) -> PushOutcome:
    """Push ref → (new value, expected old value or None = must not exist), all or nothing.

    `--atomic`: a record update that goes with a branch (a fix's branch and its record) is
    applied whole or not at all. A lost race comes back as `ok=False`; a refusal (a hook,
    permissions, the network) raises exit 4. A new value "" deletes the ref.
    """
    args = ["push", "--atomic", "--porcelain", "--quiet"]
    for name, (_, old) in updates.items():
        args.append(f"--force-with-lease={name}:{old or ''}")
    args += [remote, *(f"{new}:{name}" for name, (new, _) in updates.items())]
    r = repo.git(*args, check=False)
    if r.returncode == 0:
        _mirror_locally(repo, remote, updates)
        return PushOutcome(ok=True, rejected={})
    rejected: dict[str, str] = {}
    for line in r.lines:
        flag, _, rest = line.partition("\t")
        if flag == "!":
            spec, _, reason = rest.partition("\t")
            if "atomic push failed" not in reason:  # keep the refs that failed themselves
                rejected[spec.partition(":")[2]] = reason
    refused = {name: why for name, why in rejected.items() if not is_race(why)}
    if refused or not rejected:
        why = "; ".join(f"{name} {reason}" for name, reason in refused.items())
        raise ProdfixError(
            f"{remote} refused the push: "
            f"{why or (r.stderr.strip().splitlines() or ['no output'])[-1]}",
            hint="check the network, your push rights and branch protection; then retry",
            code=Exit.SERVICE,
        )
    return PushOutcome(ok=False, rejected=rejected)


def _mirror_locally(repo: Repo, remote: str, updates: Mapping[str, tuple[str, str | None]]) -> None:
    """What we pushed is what the remote has: update our copies without another fetch."""
    lines = []
    for name, (new, _) in updates.items():
        if name.startswith(f"{NS}/") and not name.startswith(f"{NS}/remotes/"):
            local = f"{mirror(remote)}/{name[len(NS) + 1 :]}"
        elif name.startswith("refs/heads/"):
            local = f"refs/remotes/{remote}/{name[len('refs/heads/') :]}"
        else:
            continue
        lines.append(f"update {local} {new}" if new else f"delete {local}")
    if lines:
        repo.git("update-ref", "--stdin", input="\n".join(lines) + "\n")


def is_race(reason: str) -> bool:
    """A lease that failed because another writer got there first: seen by the client
    ("stale info") or, when both passed that check, by the server's ref transaction."""
    races = ("stale info", "fetch first", "non-fast-forward", "lock", "failed to update")
    return any(word in reason for word in (*races, "atomic transaction failed"))


def current(repo: Repo, remote: str, kind: str, name: str, *, again: bool = True) -> Record | None:
    """One record as the remote has it now (one fetch of that ref). `again=False` (a write's
    first try, whose push leases the record on what this read) takes it from this command's
    fetch of every record when there was one (see `fetch`)."""
    remote_ref = ref(kind, name)
    local = f"{mirror(remote)}/{kind}/{component(name)}"
    if again or remote not in repo.fetched:
        r = repo.git("fetch", "--quiet", "--no-tags", remote, f"+{remote_ref}:{local}", check=False)
        if r.returncode != 0:
            if "couldn't find remote ref" in r.stderr:
                repo.git("update-ref", "-d", local, check=False)
                return None
            raise ServiceError(f"cannot read {remote_ref} from {remote}: {r.stderr.strip()}")
    sha = repo.resolve(local)
    if sha is None:
        return None
    doc = read_docs(repo, [sha])[0]
    return Record(kind, name, sha, doc) if doc is not None else None


class OthersMoved(ProdfixError):
    """An update's push lost the race on one of the refs pushed with the record (`also`):
    someone else wrote it meanwhile. `rejected`: ref → git's reason."""

    def __init__(self, remote: str, rejected: Mapping[str, str]) -> None:
        super().__init__(
            f"{remote} moved while prodfix was pushing: "
            + ", ".join(f"{r} ({why})" for r, why in rejected.items()),
            hint="someone else pushed at the same time; run the command again",
            code=Exit.SERVICE,
        )
        self.rejected = dict(rejected)


def update(
    repo: Repo,
    remote: str,
    kind: str,
    name: str,
    change: Callable[[Mapping[str, Any] | None], Mapping[str, Any] | None],
    message: str,
    *,
    also: Mapping[str, tuple[str, str | None]] | None = None,
) -> Record | None:
    """Compare-and-swap: read the record, apply `change` (None = leave it), push with a lease
    on what was read; on a lost race read again and re-apply. `also` are further ref updates
    pushed atomically with it (their leases are the caller's)."""
    target = ref(kind, name)
    for attempt in range(MAX_RETRIES):
        now = current(repo, remote, kind, name, again=attempt > 0)
        doc = change(now.doc if now else None)
        updates = dict(also or {})
        new: Sha | None = None
        if doc is not None and (now is None or not _same(doc, now.doc)):
            new = write(repo, doc, now.sha if now else None, message)
            updates[target] = (new, now.sha if now else None)
        if not updates:
            return now
        outcome = push(repo, remote, updates)
        if outcome.ok:
            return Record(kind, name, new, doc) if new is not None and doc is not None else now
        others = {r: why for r, why in outcome.rejected.items() if r != target}
        if others:
            raise OthersMoved(remote, others)
    raise ServiceError(f"{ref(kind, name)} kept changing while prodfix was updating it")


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    strip = {"version"}
    return {k: v for k, v in a.items() if k not in strip} == {
        k: v for k, v in b.items() if k not in strip
    }
