"""The GitOps repository of a service: where it is, its config, what its target branch pins."""

from __future__ import annotations

import hashlib
import re

from prodfix.adapters.git import Repo, run
from prodfix.adapters.store import ensure_private_dir, home
from prodfix.config import Config
from prodfix.errors import Exit, ProdfixError
from prodfix.workflow.context import Ctx

_URL = re.compile(r"^(https?|ssh|git|file)://|^[\w.-]+@[\w.-]+:")


def locate(service: Ctx) -> Repo:
    """`[deploy] repo` as a path (relative to the service repository) or a URL, cloned into
    prodfix's cache and fetched there (the user's own checkout is never touched)."""
    spec = str(service.cfg["deploy.repo"])
    if _URL.match(spec):
        cache = ensure_private_dir(home() / "cache") / hashlib.sha1(spec.encode()).hexdigest()[:16]
        if not (cache / ".git").exists():
            r = run(cache.parent, "clone", "--quiet", spec, str(cache), check=False)
            if r.returncode != 0:
                raise ProdfixError(
                    f"cannot clone the deploy repository {spec}: {r.stderr.strip()}",
                    hint="check [deploy] repo and your access to it",
                    code=Exit.SERVICE,
                )
        return Repo(cache)
    path = (service.repo.path / spec).resolve()
    if not (path / ".git").exists() and not path.joinpath("HEAD").exists():
        raise ProdfixError(
            f"the deploy repository {path} is not a git clone",
            hint="set [deploy] repo to a clone's path or its URL",
        )
    return Repo(path)


def deploy_ctx(service: Ctx) -> Ctx:
    from prodfix.commands.common import load_config

    repo = locate(service)
    return Ctx(
        repo=repo,
        cfg=load_config(repo),
        store=service.store,
        fix=service.fix,
        dry_run=service.dry_run,
    )


def image_name(image: str) -> str:
    return image.rstrip("/").rsplit("/", 1)[-1]


def deploy_branch(image: str, tag: str, wave: int | None) -> str:
    base = f"deploy/{image_name(image)}/{tag.replace(':', '-')}"
    return f"{base}/wave-{wave}" if wave else base


def read_tree_files(repo: Repo, rev: str, folder: str) -> dict[str, bytes]:
    """Every *.yaml/*.yml under `folder` at `rev`, read with one ls-tree and one cat-file."""
    names = [
        n
        for n in repo.git("ls-tree", "-r", "-z", "--name-only", rev, "--", folder).records
        if n.endswith((".yaml", ".yml"))
    ]
    if not names:
        return {}
    import subprocess

    from prodfix.adapters.git import clean_env

    spec = "".join(f"{rev}:{n}\n" for n in names).encode()
    p = subprocess.run(
        ("git", "cat-file", "--batch"),
        cwd=repo.path,
        input=spec,
        capture_output=True,
        env=clean_env(),
        check=True,
    )
    out, files, pos = p.stdout, {}, 0
    for n in names:
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        files[n] = out[header_end + 1 : header_end + 1 + size]
        pos = header_end + 1 + size + 1
    return files


def service_cfg_dcs(cfg: Config, only: list[str] | None = None) -> list[str]:
    dcs = list(cfg["deploy.dcs"])
    if only:
        unknown = [d for d in only if d not in dcs]
        if unknown:
            raise ProdfixError(f"unknown DC(s): {', '.join(unknown)}", hint=f"[deploy] dcs = {dcs}")
        return [d for d in dcs if d in only]
    return dcs
