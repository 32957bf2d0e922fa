"""`prodfix doctor` rows for GitHub: the repository, the token (its source, never itself),
its scopes, and whether the repository allows the merge commits back-merges need."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prodfix.adapters.diagnostics import FAILED, OK, WARNING, Check, policy
from prodfix.errors import ProdfixError

if TYPE_CHECKING:
    from prodfix.adapters.forge.github.forge import GitHubForge
    from prodfix.adapters.git import Repo
    from prodfix.config import Config


def doctor_checks(where: str, repo: Repo, cfg: Config) -> Iterator[Check]:
    from prodfix.adapters.credentials import discover_token, doctor_report, missing_token
    from prodfix.adapters.forge.github.config import github_remote
    from prodfix.adapters.forge.github.forge import GitHubForge

    try:
        remote = github_remote(repo, cfg)
    except ProdfixError as exc:
        yield Check(where, "forge", FAILED, f"github: {exc.message}", exc.hint)
        return
    yield Check(
        where, "forge", OK, f"github {remote.full_name} on {remote.host} (API {remote.api_url})"
    )
    # As make_github_forge builds it, with the doctor's single-try policy.
    forge = GitHubForge(
        remote,
        discover_token(remote.host),
        policy=policy(),
        verify=not cfg.forge.insecure_skip_tls_verify,
    )
    try:
        report = doctor_report(forge)
        if report.source is None:
            missing = missing_token(remote.host)
            yield Check(
                where,
                "GitHub token",
                WARNING,
                f"none found for {remote.host}; "
                "propose will push and print the compare URL instead of opening the PR; "
                f"read {missing.searched}" + (f"; {missing.ignored}" if missing.ignored else ""),
                missing.hint,
            )
            return
        if not report.authenticated:
            yield Check(
                where,
                "GitHub token",
                FAILED,
                f"the token from {report.source} does not authenticate: {report.problem}",
                f"replace the token in {report.source} (or unset it and run "
                f"`gh auth login`); if GitHub was unreachable, check forge.api-url "
                "and the network",
            )
            return
        scopes = "" if report.scopes is None else f"; scopes: {', '.join(report.scopes) or '-'}"
        yield Check(
            where,
            "GitHub token",
            OK,
            f"from {report.source}; authenticates as {report.login}{scopes}",
        )
        if report.scopes is not None and not {"repo", "public_repo"} & set(report.scopes):
            yield Check(
                where,
                "GitHub scopes",
                WARNING,
                "the token has no repo scope: opening and merging pull requests will be refused",
                "create a token with the repo scope (or a fine-grained one with "
                "Pull requests: read and write)",
            )
        yield from _merge_commits(where, forge)
    finally:
        forge.shutdown()


def _merge_commits(where: str, forge: GitHubForge) -> Iterator[Check]:
    try:
        allowed = forge.repo_allows_merge_commits()
    except ProdfixError as exc:
        yield Check(where, "GitHub repository", FAILED, exc.message, exc.hint)
        return
    if allowed is False:
        # Rule 3: back-merges must be merge commits, never squash or rebase (docs/backmerge.md).
        yield Check(
            where,
            "GitHub repository",
            WARNING,
            "merge commits are disabled: back-merge PRs cannot be merged",
            "enable “Allow merge commits” in the repository settings (General → Pull Requests)",
        )
    else:
        yield Check(
            where,
            "GitHub repository",
            OK,
            f"{forge.remote.full_name} readable" + ("; merge commits allowed" if allowed else ""),
        )
