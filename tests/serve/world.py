"""A served GitHub repository for tests: a real bare repository (what git fetches and pushes),
the fake GitHub serving its PRs, check runs and App authentication, and the service built on
them — the real queue, handlers and clients, with jobs run by `drain`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from starlette.testclient import TestClient

from prodfix.adapters.forge.github.app import GitHubAppClient
from prodfix.adapters.http import RetryPolicy
from prodfix.serve import queue
from prodfix.serve.app import create_app
from prodfix.serve.db import Database
from prodfix.serve.service import Service
from prodfix.serve.settings import GitHubApp, RepoSpec, Settings
from prodfix.serve.worker import Workers
from tests.fakes.github import FakeGitHub, FakePr, FakeRepo
from tests.fakes.github_app import AppState, enable_app
from tests.gitfix import Sandbox
from tests.repos import service_repo
from tests.serve.helpers import SECRET, app_keys, signed
from tests.test_github_cli import GitBranches

APP_ID = 4242
INSTALLATION = 7


def no_sleep(_: float) -> None:
    return None


@dataclass
class GhWorld:
    sb: Sandbox
    work: Path
    github: FakeGitHub
    repo: FakeRepo
    app: AppState
    svc: Service
    client: TestClient

    def post(self, event: str, doc: dict[str, object], delivery: str | None = None) -> int:
        body, headers = signed(event, doc, delivery=delivery)
        return self.client.post("/webhook", content=body, headers=headers).status_code

    def drain(self, *, later: float = 0.0, limit: int = 50) -> list[str]:
        """Run every job that is ready (`later` seconds from now), one at a time."""
        workers = Workers(self.svc, count=0, lease=30)
        states = []
        for _ in range(limit):
            job = queue.claim(self.svc.db, "test-worker", lease=30, now=time.time() + later)
            if job is None:
                break
            states.append(workers.run_one(job, "test-worker"))
        return states

    def add_pr(self, number: int, head: str, base: str, **kw: object) -> FakePr:
        sha = self.repo.branches[head]
        pr = FakePr(number, f"PR {head}", "", head, base, sha, "alice", **kw)  # type: ignore[arg-type]
        self.repo.prs[number] = pr
        return pr

    def runs(self) -> list[dict[str, object]]:
        return sorted(self.app.runs.values(), key=lambda r: int(r["id"]))  # type: ignore[arg-type]


def gh_world(tmp_path: Path, github: FakeGitHub, *, auto_merge: bool = False) -> GhWorld:
    sb = Sandbox(tmp_path / "sb")
    work = service_repo(sb)
    sb.commit(
        work,
        "prodfix config",
        {".prodfix.toml": 'kind = "python"\ndelivery = "delivery*"\n[forge]\ntype = "github"\n'},
    )
    sb.push(work, "master")
    keys = app_keys()
    state = AppState(APP_ID, keys.public_pem, {("team", "app"): INSTALLATION})
    enable_app(github, state)
    repo = github.add_repo("team", "app", {})
    repo.branches = GitBranches(sb)
    key = tmp_path / "app.pem"
    key.write_text(keys.private_pem)
    key.chmod(0o600)
    settings = Settings(
        github=GitHubApp(APP_ID, key, "PRODFIX_WEBHOOK_SECRET", github.api_url),
        auto_merge_backmerge=auto_merge,
        repos=(RepoSpec(str(sb.origin), github_repo="team/app"),),
    )
    db = Database(f"sqlite:///{tmp_path / 'serve.sqlite3'}")
    db.migrate()
    client = GitHubAppClient(
        github.api_url, APP_ID, keys.private_pem, policy=RetryPolicy(sleep=no_sleep, backoff=0)
    )
    svc = Service.build(settings, db, client)
    svc.http_policy = RetryPolicy(sleep=no_sleep, backoff=0)
    test_client = TestClient(create_app(settings, db, service=svc, secret=SECRET))
    return GhWorld(sb, work, github, repo, state, svc, test_client)
