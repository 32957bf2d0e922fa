"""`prodfix doctor`: git, remotes, forge credentials, Jenkins and Argo CD, one row per check.

Read-only and quick: services get one try with a short timeout (a diagnosis that retries for
seconds hides the answer), and nothing is cloned, pushed or written. Only a credential's
*source* is ever printed (secrets never appear in any output); remote URLs have their
userinfo replaced, because `https://user:TOKEN@host/...` remotes are common.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from prodfix.adapters import git
from prodfix.adapters.diagnostics import FAILED, OK, WARNING, Check, policy, redact
from prodfix.adapters.git import Repo
from prodfix.adapters.remote_url import is_url
from prodfix.app import App
from prodfix.config import Config
from prodfix.errors import Exit, ProdfixError
from prodfix.output import Reporter

if TYPE_CHECKING:
    from prodfix.adapters.build.jenkins_client import JenkinsClient


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
        # `git merge-tree --stdin` (git-merge-tree(1); in git since 2.39) batches the
        # back-merge prediction.
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
    remote = str(cfg.remote)
    # As configured (not after url.<base>.insteadOf rewriting): what the user wrote.
    url = (
        repo.git("config", "--get", f"remote.{remote}.url", ok_codes=(0, 1)).stdout.strip() or None
    )
    if url is None:
        yield Check(
            where,
            "remote",
            FAILED,
            f"no remote {remote!r}",
            f"add it: git remote add {remote} URL (or set `remote` in .prodfix.toml)",
        )
        return
    r = repo.git("ls-remote", "--exit-code", remote, "HEAD", check=False)
    if r.returncode not in (0, 2):  # 2: reachable, but no HEAD (a bare repo without one)
        lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
        fatal = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
        why = (fatal or lines or [f"exit {r.returncode}"])[0]
        yield Check(
            where,
            "remote",
            FAILED,
            f"{remote} → {redact(url)} cannot be read: {redact(why)}",
            f"check the URL (`git remote get-url {remote}`), the network and your access",
        )
    else:
        yield Check(where, "remote", OK, f"{remote} → {redact(url)} reachable")
    from prodfix.adapters.forges import doctor_checks

    yield from doctor_checks(where, repo, cfg)


def jenkins_checks(where: str, cfg: Config) -> Iterator[Check]:
    from prodfix.adapters.build import jenkins_auth
    from prodfix.adapters.build.jenkins_client import JenkinsClient

    url = cfg.build.url
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
        verify=not cfg.build.insecure_skip_tls_verify,
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
    jobs = {"build.fix-job": cfg.build.fix_job, "build.delivery-job": cfg.build.delivery_job}
    for key, job in jobs.items():
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

    url = str(cfg.deploy.argocd.url)
    try:
        argo = ArgoCd.from_env(
            url, policy=policy(), verify=not cfg.deploy.argocd.insecure_skip_tls_verify
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
        first = cfg.deploy.waves[0][0]
        app = cfg.deploy.argocd.app_of(first)
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
    if cfg.build.type == "jenkins":
        yield from jenkins_checks(where, cfg)
    if cfg.deploy.repo:
        yield from deploy_repo_checks(repo, str(cfg.deploy.repo))
    if cfg.deploy.argocd.url:
        yield from argocd_checks(where, cfg)


def deploy_repo_checks(service: Repo, spec: str) -> Iterator[Check]:
    from prodfix.config import load_for_repo

    if is_url(spec):
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
        cfg = load_for_repo(repo)
    except ProdfixError as exc:
        yield Check(path.name, "config", FAILED, exc.message, exc.hint)
        return
    yield from repo_checks(path.name, repo, cfg)


def all_checks(cwd: Path) -> Iterator[Check]:
    from prodfix.config import load_for_repo

    yield from git_checks()
    try:
        repo = Repo.discover(cwd)
        cfg = load_for_repo(repo)
    except ProdfixError as exc:
        yield Check(cwd.name, "repository", FAILED, exc.message, exc.hint)
        return
    yield Check(repo.path.name, "repository", OK, f"{repo.path} ({cfg.kind})")
    yield from service_checks(repo, cfg)


def show(checks: list[Check], out: Reporter) -> None:
    rows = [[c.where, c.what, c.result, c.detail] for c in checks]
    out.table("", ["repository", "check", "result", "detail"], rows)
    for c in checks:
        if c.result != OK and c.hint:
            out.say(f"next ({c.what}): {c.hint}")


def run(app: App) -> int:
    checks = list(all_checks(app.cwd))
    show(checks, app.out)
    failed = sum(c.result == FAILED for c in checks)
    warned = sum(c.result == WARNING for c in checks)
    app.out.say(f"{len(checks)} checks: {failed} failed, {warned} warning(s)")
    return Exit.FAILED if failed else Exit.OK
