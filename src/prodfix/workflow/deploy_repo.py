"""The GitOps repository of a service: where it is, its config, and a scratch tree of its DC
folders at any revision — planned and committed without a checkout or a worktree, so the
user's own clone (HEAD, index, work tree) is never touched."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prodfix.adapters.git import Repo, run
from prodfix.adapters.gitconfig import lookup
from prodfix.adapters.locks import fetch_lock
from prodfix.adapters.paths import ensure_private_dir, home
from prodfix.adapters.remote_url import is_url
from prodfix.config import Config
from prodfix.errors import Exit, ProdfixError
from prodfix.workflow.context import Ctx

if TYPE_CHECKING:
    from prodfix.adapters.gitops.plan import DeployPlan


def cache_dir(spec: str) -> Path:
    return home() / "cache" / "deploy" / hashlib.sha256(spec.encode()).hexdigest()[:16]


def _bare(path: Path) -> bool:
    """Whether `path` is a bare repository: its `core.bare`, read from its config file when
    that says it plainly, else asked of git (an include, or no such setting)."""
    if (path / "HEAD").is_file() and (path / "objects").is_dir():
        known, value = lookup(str(path), "core", None, "bare")
        said = (True if value is None else _BOOLS.get(value.lower())) if known else None
        if said is not None:
            return said
    r = run(path.parent, "--git-dir", str(path), "rev-parse", "--is-bare-repository", check=False)
    return r.returncode == 0 and r.stdout.strip() == "true"


# git-config(1), "Values": a boolean; a key alone (value None above) is true
_BOOLS = {"true": True, "yes": True, "on": True, "1": True, "": False}
_BOOLS |= {"false": False, "no": False, "off": False, "0": False}


def locate(service: Ctx) -> Repo:
    """`[deploy] repo` as a path (relative to the service repository) or a URL, cloned once
    into prodfix's cache (callers fetch it; the user's own checkouts are never touched). A
    bare repository's path is a remote like a URL: it has no work tree to plan in."""
    spec = str(service.cfg.deploy.repo)
    path = None if is_url(spec) else (service.repo.path / spec).resolve()
    if path is not None and not (path / ".git").exists() and path.is_dir() and _bare(path):
        spec, path = str(path), None
    if path is None:
        cache = cache_dir(spec)
        # Under the fetch lock: status observes fixes in threads, and two of them may clone
        # (or fetch into) the same cache at once.
        with fetch_lock(cache):
            if not (cache / ".git").exists():
                _clone(spec, cache)
        return Repo(cache)
    if not (path / ".git").exists():
        raise ProdfixError(
            f"the deploy repository {path} is neither a git clone nor a bare repository",
            hint="set [deploy] repo to the path of a clone or of a bare repository, or a URL",
        )
    return Repo(path)


def _clone(spec: str, cache: Path) -> None:
    """Clone beside the cache and rename it into place: a clone cut short (a timeout, a kill)
    leaves no half-made repository that would later pass for the cache."""
    ensure_private_dir(cache.parent)
    tmp = cache.with_name(cache.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    r = run(cache.parent, "clone", "--quiet", "--no-checkout", spec, str(tmp), check=False)
    if r.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ProdfixError(
            f"cannot clone the deploy repository {spec}: {r.stderr.strip()}",
            hint="check [deploy] repo and your access to it; this is safe to retry",
            code=Exit.SERVICE,
        )
    tmp.rename(cache)


def deploy_ctx(service: Ctx) -> Ctx:
    """The deploy repository as a context of its own: its remote, its forge (its config).

    Located and its config read once per look of the service repository (a look starts by
    clearing `Repo.related`): the ops of one round share its clone, so a write's first try
    reuses the round's fetch (`records.fetch(again=False)`) instead of fetching again."""
    from prodfix.config import load_for_repo

    spec = str(service.cfg.deploy.repo)
    known = service.repo.related.get(spec)
    if known is None:
        repo = locate(service)
        known = service.repo.related[spec] = (repo, load_for_repo(repo))
    repo, cfg = known
    return service.for_repo(repo, cfg)


def image_name(image: str) -> str:
    return image.rstrip("/").rsplit("/", 1)[-1]


def deploy_branch(image: str, tag: str, wave: int | None) -> str:
    """`deploy/<image-name>/<tag>`; with waves `…/<tag>-wave-N` (a `/wave-N` suffix would make
    the plain branch a directory of refs, and git cannot hold both)."""
    base = f"deploy/{image_name(image)}/{tag.replace(':', '-')}"
    return f"{base}-wave-{wave}" if wave else base


def service_cfg_dcs(cfg: Config, only: list[str] | None = None) -> list[str]:
    dcs = list(cfg.deploy.dcs)
    if only:
        unknown = [d for d in only if d not in dcs]
        if unknown:
            raise ProdfixError(f"unknown DC(s): {', '.join(unknown)}", hint=f"[deploy] dcs = {dcs}")
        return [d for d in dcs if d in only]
    return dcs


def target_tip(dctx: Ctx, target: str) -> str:
    tip = dctx.repo.resolve(f"refs/remotes/{dctx.remote}/{target}")
    if tip is None:
        raise ProdfixError(
            f"the deploy repository {dctx.repo.path} has no {dctx.remote}/{target}",
            hint="check [deploy] target (the branch Argo CD deploys)",
        )
    return tip


@dataclass(frozen=True)
class Scratch:
    """The DC folders of `rev` written to `root`, with a private index holding all of `rev`."""

    git_dir: Path
    root: Path
    index: Path
    rev: str

    def git(self, *args: str, input: str | None = None) -> str:
        # Run in the scratch root with the repository's git dir: paths are relative to root,
        # and GIT_INDEX_FILE keeps the user's index out of it.
        return run(
            self.root,
            "--git-dir",
            str(self.git_dir),
            "--work-tree",
            str(self.root),
            *args,
            input=input,
            env={"GIT_INDEX_FILE": str(self.index)},
        ).stdout

    def plan(
        self, *, path_template: str, dcs: list[str], image: str, tag: str, allow_missing: bool
    ) -> DeployPlan:
        from prodfix.adapters.gitops.plan import plan_deploy

        return plan_deploy(
            self.root,
            path_template=path_template,
            dcs=dcs,
            image=image,
            tag=tag,
            allow_missing=allow_missing,
        )

    def commit(self, plan: DeployPlan, message: str) -> str:
        """Write the plan's files, then one commit on `rev` with them (no ref is moved)."""
        plan.apply(self.root)
        self.git("update-index", "--", *(c.file for c in plan.changes))
        tree = self.git("write-tree").strip()
        return self.git("commit-tree", tree, "-p", self.rev, "-F", "-", input=message).strip()


@contextmanager
def scratch(repo: Repo, rev: str, folders: list[str]) -> Iterator[Scratch]:
    with tempfile.TemporaryDirectory(prefix="prodfix-deploy-") as tmp:
        root = Path(tmp) / "tree"
        root.mkdir()
        s = Scratch(repo.git_dir(), root, Path(tmp) / "index", rev)
        s.git("read-tree", rev)
        files = [f for f in s.git("ls-files", "-z", "--", *folders).split("\0") if f]
        if files:
            # checkout-index, not `checkout REV -- paths`: it runs no hooks and moves nothing.
            s.git("checkout-index", "-f", "-z", "--stdin", input="\0".join(files) + "\0")
        yield s


def folders(path_template: str, dcs: list[str]) -> list[str]:
    return [path_template.format(dc=dc) for dc in dcs]
