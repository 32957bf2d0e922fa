"""`prodfix doctor`: git, remotes, forge credentials, Jenkins and Argo CD, one row per check.

Read-only and quick: services get one try with a short timeout (a diagnosis that retries for
seconds hides the answer), and nothing is cloned, pushed or written. Only a credential's
*source* is ever printed (CLI.md: secrets never appear in any output); remote URLs have their
userinfo replaced, because `https://user:TOKEN@host/...` remotes are common.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prodfix import output
from prodfix.adapters import git
from prodfix.adapters.git import Repo
from prodfix.adapters.http import RetryPolicy
from prodfix.cli import App
from prodfix.config import Config
from prodfix.errors import Exit, ProdfixError

if TYPE_CHECKING:
    from prodfix.adapters.build.jenkins_client import JenkinsClient
    from prodfix.adapters.forge.github import GitHubForge

OK, WARNING, FAILED = "ok", "warning", "FAILED"
TIMEOUT = 10.0  # seconds per request: long enough for a slow VPN, short enough to diagnose
_URL = re.compile(r"^(https?|ssh|git|file)://|^[\w.-]+@[\w.-]+:")


def policy() -> RetryPolicy:
    return RetryPolicy(attempts=1, timeout=TIMEOUT)


@dataclass(frozen=True)
class Check:
    where: str  # the repository's directory name, or "" for checks of the machine
    what: str  # "git", "remote", "forge", "GitHub token", "Jenkins", "Argo CD", ...
    result: str  # OK | WARNING | FAILED
    detail: str
    hint: str = ""


def redact(url: str) -> str:
    """The URL without a password or token in its userinfo (`https://x:SECRET@host/...`)."""
    return re.sub(r"(?<=//)[^@/]*@", "***@", url)


def git_checks() -> Iterator[Check]:
    try:
        have = git.version()
    except ProdfixError as exc:
        yield Check("", "git", FAILED, exc.message, exc.hint)
        return
    shown = f"git {have[0]}.{have[1]}"
    need = f"{git.MIN_GIT[0]}.{git.MIN_GIT[1]}"
    if have < git.MIN_GIT:
        yield Check(
            "",
            "git",
            FAILED,
            f"{shown}: prodfix needs {need} (merge-tree --write-tree)",
            "upgrade git (your package manager, or https://git-scm.com/downloads)",
        )
    elif have < (2, 39):
        # NOTES/git.md §3: `merge-tree --stdin` (2.39) batches the back-merge prediction.
        yield Check(
            "",
            "git",
            WARNING,
            f"{shown}: no merge-tree --stdin (2.39); back-merge prediction runs one git per merge",
            "upgrade git to 2.39 or newer",
        )
    else:
        yield Check("", "git", OK, f"{shown} (merge-tree --write-tree and --stdin available)")


def repo_checks(where: str, repo: Repo, cfg: Config) -> Iterator[Check]:
    """The remote, the forge, and for GitHub the token and the repository's merge settings."""
    remote = str(cfg["remote"])
    url = repo.remote_url(remote)
    if url is None:
        yield Check(
            where,
            "remote",
            FAILED,
            f"no remote {remote!r}",
            f"add it: git remote add {remote} URL (or set `remote` in .prodfix.toml)",
        )
        return
    yield Check(where, "remote", OK, f"{remote} → {redact(url)}")
    if cfg["forge.type"] != "github":
        yield Check(where, "forge", OK, f"embedded (pull requests kept as refs in {remote})")
        return
    yield from github_checks(where, repo, cfg)


def github_checks(where: str, repo: Repo, cfg: Config) -> Iterator[Check]:
    from prodfix.adapters.credentials import discover_token, doctor_report, token_variables
    from prodfix.adapters.forge.github import GitHubForge
    from prodfix.adapters.forge.github_config import github_remote

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
        verify=not cfg["forge.insecure-skip-tls-verify"],
    )
    try:
        report = doctor_report(forge)
        if report.source is None:
            names = " or ".join(token_variables(remote.host))
            yield Check(
                where,
                "GitHub token",
                WARNING,
                f"none found for {remote.host}; "
                "propose will push and print the compare URL instead of opening the PR",
                f"set {names}, or run `gh auth login --hostname {remote.host}`",
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
        # WORKFLOW.md rule 3: back-merges must be merge commits, never squash or rebase.
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


def jenkins_checks(where: str, cfg: Config) -> Iterator[Check]:
    from prodfix.adapters.build import jenkins_auth
    from prodfix.adapters.build.jenkins_client import JenkinsClient

    url = cfg["build.url"]
    if not url:
        yield Check(
            where,
            "Jenkins",
            FAILED,
            "build.type = jenkins but build.url is not set",
            "set url in the [build] table of .prodfix.toml",
        )
        return
    try:
        creds = jenkins_auth.find(str(url))
    except ProdfixError as exc:
        yield Check(where, "Jenkins credentials", FAILED, exc.message, exc.hint)
        return
    source = creds.source if creds else "none (anonymous)"
    yield Check(
        where,
        "Jenkins credentials",
        OK if creds else WARNING,
        f"from {source}",
        "" if creds else "set JENKINS_USER and JENKINS_API_TOKEN, or add a netrc entry",
    )
    client = JenkinsClient(
        str(url),
        credentials=creds,
        policy=policy(),
        verify=not cfg["build.insecure-skip-tls-verify"],
    )
    try:
        yield from _jenkins_probe(where, client, str(url), source, cfg)
    finally:
        client.close()


def _jenkins_probe(
    where: str, client: JenkinsClient, url: str, source: str, cfg: Config
) -> Iterator[Check]:
    from prodfix.adapters.http import LoginPage

    try:
        # `me/api/json` names the user Jenkins sees; 401/403 mean the credential is refused.
        resp = client.http.request("GET", "me/api/json", expect=(401, 403, 404))
        me = client.http.json(resp) if resp.status_code == 200 else None
    except LoginPage as exc:  # reachable, but something other than Jenkins' API answers
        yield Check(where, "Jenkins", FAILED, exc.message, exc.hint)
        return
    except ProdfixError as exc:
        yield Check(
            where,
            "Jenkins",
            FAILED,
            f"{redact(url)} is unreachable: {exc.message}",
            "check build.url, the network or VPN, then run `prodfix doctor` again",
        )
        return
    if resp.status_code in (401, 403):
        yield Check(
            where,
            "Jenkins",
            FAILED,
            f"{redact(url)} refused the credentials from {source} (HTTP {resp.status_code})",
            "create a new API token in Jenkins (user → Security) and set it where "
            f"{source} is read from",
        )
        return
    who = me.get("id") if isinstance(me, dict) else None
    yield Check(
        where,
        "Jenkins",
        OK,
        f"{redact(url)} reachable" + (f"; authenticates as {who}" if who else ""),
    )
    for key in ("build.fix-job", "build.delivery-job"):
        job = cfg[key]
        if not job:
            continue
        try:
            client.json(client.job_path(str(job)))
        except ProdfixError as exc:
            yield Check(
                where,
                f"Jenkins {key.removeprefix('build.')}",
                FAILED,
                exc.message,
                exc.hint or f"check {key} in .prodfix.toml",
            )
            continue
        yield Check(where, f"Jenkins {key.removeprefix('build.')}", OK, f"{job} readable")


def argocd_checks(where: str, cfg: Config) -> Iterator[Check]:
    from prodfix.adapters.argocd import TOKEN_ENV, ArgoCd

    url = str(cfg["deploy.argocd.url"])
    try:
        argo = ArgoCd.from_env(
            url, policy=policy(), verify=not cfg["deploy.argocd.insecure-skip-tls-verify"]
        )
    except ProdfixError as exc:
        yield Check(where, "Argo CD token", FAILED, exc.message, exc.hint)
        return
    yield Check(where, "Argo CD token", OK, f"from environment variable {TOKEN_ENV}")
    try:
        resp = argo.http.request("GET", "/api/version", expect=(401, 403))
        if resp.status_code in (401, 403):
            yield Check(
                where,
                "Argo CD",
                FAILED,
                f"{redact(url)} rejected the token in {TOKEN_ENV} (HTTP {resp.status_code})",
                f"generate a new one (`argocd account generate-token`), export {TOKEN_ENV}",
            )
            return
        about = argo.http.json(resp)
        version = about.get("Version", "?") if isinstance(about, dict) else "?"
        yield Check(where, "Argo CD", OK, f"{redact(url)} reachable, version {version}")
        first = cfg.waves[0][0]
        app = str(cfg["deploy.argocd.app"]).format(dc=first)
        status = argo.get(app)
        yield Check(
            where,
            "Argo CD app",
            OK,
            f"{app} readable ({status.sync_status}, {status.health_status})",
        )
    except ProdfixError as exc:
        yield Check(where, "Argo CD", FAILED, exc.message, exc.hint)
    finally:
        argo.close()


def service_checks(repo: Repo, cfg: Config) -> Iterator[Check]:
    where = repo.path.name
    yield from repo_checks(where, repo, cfg)
    if cfg["build.type"] == "jenkins":
        yield from jenkins_checks(where, cfg)
    if cfg["deploy.repo"]:
        yield from deploy_repo_checks(repo, str(cfg["deploy.repo"]))
    if cfg["deploy.argocd.url"]:
        yield from argocd_checks(where, cfg)


def deploy_repo_checks(service: Repo, spec: str) -> Iterator[Check]:
    from prodfix.commands.common import load_config

    if _URL.match(spec):
        # Not cloned here (doctor changes nothing): ask the remote for its HEAD instead. Like
        # every git call, it cannot prompt and gives up after PRODFIX_GIT_TIMEOUT.
        try:
            r = git.run(service.path, "ls-remote", "--exit-code", spec, "HEAD", check=False)
        except ProdfixError as exc:
            yield Check("deploy repo", "remote", FAILED, exc.message, exc.hint)
            return
        ok = r.returncode == 0
        yield Check(
            "deploy repo",
            "remote",
            OK if ok else FAILED,
            f"{redact(spec)} {'reachable' if ok else 'not reachable'}",
            "" if ok else "check [deploy] repo and your git access to it",
        )
        return
    path = (service.path / spec).resolve()
    if not (path / ".git").exists():
        yield Check(
            "deploy repo",
            "repository",
            FAILED,
            f"{path} is not a git clone",
            "set [deploy] repo to a clone's path or its URL",
        )
        return
    repo = Repo(path)
    try:
        cfg = load_config(repo)
    except ProdfixError as exc:
        yield Check(path.name, "config", FAILED, exc.message, exc.hint)
        return
    yield from repo_checks(path.name, repo, cfg)


def all_checks(cwd: Path) -> Iterator[Check]:
    from prodfix.commands.common import load_config

    yield from git_checks()
    try:
        repo = Repo.discover(cwd)
        cfg = load_config(repo)
    except ProdfixError as exc:
        yield Check(cwd.name, "repository", FAILED, exc.message, exc.hint)
        return
    yield Check(repo.path.name, "repository", OK, f"{repo.path} ({cfg.kind})")
    yield from service_checks(repo, cfg)


def show(checks: list[Check], say: Callable[[str], None] = output.say) -> None:
    rows = [[c.where, c.what, c.result, c.detail] for c in checks]
    output.table("", ["repository", "check", "result", "detail"], rows)
    for c in checks:
        if c.result != OK and c.hint:
            say(f"next ({c.what}): {c.hint}")


def run(app: App) -> int:
    checks = list(all_checks(app.cwd))
    show(checks)
    failed = sum(c.result == FAILED for c in checks)
    warned = sum(c.result == WARNING for c in checks)
    output.say(f"{len(checks)} checks: {failed} failed, {warned} warning(s)")
    return Exit.FAILED if failed else Exit.OK
