"""Build a GitHubForge from the repository's remote URL and `.prodfix.toml` [forge]."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit

from prodfix.adapters.credentials import Missing, discover_token, missing_token
from prodfix.adapters.forge.github.forge import GitHubForge
from prodfix.adapters.git import Repo
from prodfix.adapters.remote_url import RemoteRepo, graphql_url_for, parse_remote_url
from prodfix.config import Config
from prodfix.errors import ProdfixError


def github_remote(repo: Repo, cfg: Config) -> RemoteRepo:
    url = repo.remote_url(str(cfg.remote))
    if url is None:
        raise ProdfixError(f"no remote {cfg.remote!r}", hint="add the GitHub remote first")
    try:
        remote = parse_remote_url(url)
    except ProdfixError:
        # A path or file:// remote (a mirror, a test) is fine when the config names the
        # GitHub repository and API explicitly.
        if not (cfg.forge.repo and cfg.forge.api_url):
            raise
        api = str(cfg.forge.api_url).rstrip("/")
        parts = urlsplit(api)
        remote = RemoteRepo(
            parts.hostname or "",
            "",
            "",
            f"{parts.scheme}://{parts.netloc}",
            api,
            graphql_url_for(api),
        )
    if cfg.forge.repo:
        owner, _, name = str(cfg.forge.repo).partition("/")
        remote = replace(remote, owner=owner, name=name)
    if cfg.forge.api_url:
        api = str(cfg.forge.api_url).rstrip("/")
        remote = replace(remote, api_url=api, graphql_url=graphql_url_for(api))
    return remote


def make_github_forge(repo: Repo, cfg: Config) -> GitHubForge:
    remote = github_remote(repo, cfg)
    return GitHubForge(
        remote, discover_token(remote.host), verify=not cfg.forge.insecure_skip_tls_verify
    )


def has_token(repo: Repo, cfg: Config) -> bool:
    return discover_token(github_remote(repo, cfg).host) is not None


def why_no_token(repo: Repo, cfg: Config) -> Missing:
    """What was read for the remote's host and which variable to set (after has_token)."""
    return missing_token(github_remote(repo, cfg).host)
