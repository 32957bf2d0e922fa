"""Build a GitHubForge from the repository's remote URL and `.prodfix.toml` [forge]."""

from __future__ import annotations

from dataclasses import replace

from prodfix.adapters.credentials import discover_token
from prodfix.adapters.forge.github import GitHubForge
from prodfix.adapters.git import Repo
from prodfix.adapters.remote_url import RemoteRepo, graphql_url_for, parse_remote_url
from prodfix.config import Config
from prodfix.errors import ProdfixError


def github_remote(repo: Repo, cfg: Config) -> RemoteRepo:
    url = repo.remote_url(str(cfg["remote"]))
    if url is None:
        raise ProdfixError(f"no remote {cfg['remote']!r}", hint="add the GitHub remote first")
    remote = parse_remote_url(url)
    if cfg["forge.repo"]:
        owner, _, name = str(cfg["forge.repo"]).partition("/")
        remote = replace(remote, owner=owner, name=name)
    if cfg["forge.api-url"]:
        api = str(cfg["forge.api-url"]).rstrip("/")
        remote = replace(remote, api_url=api, graphql_url=graphql_url_for(api))
    return remote


def make_github_forge(repo: Repo, cfg: Config) -> GitHubForge:
    remote = github_remote(repo, cfg)
    return GitHubForge(
        remote, discover_token(remote.host), verify=not cfg["forge.insecure-skip-tls-verify"]
    )


def has_token(repo: Repo, cfg: Config) -> bool:
    return discover_token(github_remote(repo, cfg).host) is not None
