"""`prodfix serve` as real processes on a real PostgreSQL: two instances share the work of
200 webhooks exactly once (one check run per PR head), across a database restart; a serve
process killed with SIGKILL mid-job leaves a job that another instance finishes, once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.cli import sigint_default
from tests.fakes.github import FakeGitHub, FakePr
from tests.fakes.github_app import AppState, enable_app
from tests.gitfix import Sandbox
from tests.repos import service_repo
from tests.serve.helpers import SECRET, app_keys, pr_event, signed
from tests.serve.pg import PgServer
from tests.test_github_cli import GitBranches

pytestmark = pytest.mark.slow
APP_ID = 99
INST = 5


# One client for every request the test makes: `httpx.get`/`httpx.post` build a client, and
# with it an SSL context loading the CA bundle (tens of ms of CPU), per call — 200 webhooks.
HTTP = httpx.Client()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Instance:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"serve exited {self.proc.returncode}:\n{self.log.read_text()}"
                )
            try:
                if HTTP.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"serve did not come up:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Fleet:
    tmp: Path
    github: FakeGitHub
    app: AppState
    config: Path
    database: str
    repos: list[str]
    instances: list[Instance]

    def start(self, name: str) -> Instance:
        port = free_port()
        log = self.tmp / f"{name}.log"
        env = {
            **os.environ,
            "PRODFIX_HOME": str(self.tmp / f"home-{name}"),
            "PRODFIX_WEBHOOK_SECRET": SECRET.decode(),
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "prodfix", "serve", "--config", str(self.config),
             "--port", str(port), "--database", self.database],
            stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env,
            preexec_fn=sigint_default,  # stopped with SIGINT
        )  # fmt: skip
        inst = Instance(proc, f"http://127.0.0.1:{port}", log)
        self.instances.append(inst)
        inst.wait_ready()
        return inst

    def deliver(self, inst: Instance, event: str, doc: dict[str, object], delivery: str) -> None:
        """As GitHub does: until a 2xx answer (a 503 while the database restarts is retried)."""
        body, headers = signed(event, doc, delivery=delivery)
        for _ in range(200):
            try:
                r = HTTP.post(inst.url + "/webhook", content=body, headers=headers, timeout=10)
                if r.status_code == 202:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"delivery {delivery} never accepted")

    def settled(self, want: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [r for r in self.app.runs.values() if r["status"] == "completed"]
            if len(done) >= want and all(
                r["status"] == "completed" for r in self.app.runs.values()
            ):
                return
            time.sleep(0.2)
        from prodfix.serve.db import Database

        with Database(self.database).tx() as cur:
            jobs = cur.rows(
                "SELECT id, kind, repo, state, attempts, last_error, payload FROM jobs"
                " WHERE state != 'done' OR attempts > 1"
            )
        runs = sorted((r["repo"], r["head_sha"][:7], r["status"]) for r in self.app.runs.values())
        jobs.append(runs)  # type: ignore[arg-type]
        logs = "\n".join(i.log.read_text()[-3000:] for i in self.instances)
        raise AssertionError(f"{len(self.app.runs)} runs, not all completed:\n{jobs}\n{logs}")

    def drained(self, timeout: float = 60.0) -> None:
        """Until no job is queued (a retry waiting out its backoff included) or running: from
        then on nothing can start another check run."""
        from prodfix.serve.db import Database

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with Database(self.database).tx() as cur:
                left = cur.rows(
                    "SELECT id, kind, state FROM jobs WHERE state IN ('queued', 'running')"
                )
            if not left:
                return
            time.sleep(0.1)
        raise AssertionError(f"jobs still queued or running after {timeout}s: {left}")


def fleet(
    tmp: Path,
    github: FakeGitHub,
    database: str,
    *,
    repos: int,
    fixes: int = 1,
    lease: int = 30,
    workers: int = 2,
) -> Fleet:
    keys = app_keys()
    state = AppState(APP_ID, keys.public_pem, {})
    enable_app(github, state)
    key = tmp / "app.pem"
    key.write_text(keys.private_pem)
    key.chmod(0o600)
    entries = []
    names = []
    for i in range(repos):
        sb = Sandbox(tmp / f"sb{i}")
        work = service_repo(sb)
        sb.commit(work, "config", {".prodfix.toml": 'kind = "python"\n[forge]\ntype = "github"\n'})
        sb.push(work, "master")
        for n in range(1, fixes + 1):
            sb.checkout(work, "-B", f"fix/a{n}", "origin/delivery")
            sb.commit(work, f"fix a{n}", {f"a{n}.py": "A = 1\n"})
        sb.push(work, *(f"fix/a{n}" for n in range(1, fixes + 1)))
        name = f"app{i}"
        repo = github.add_repo("team", name, {})
        repo.branches = GitBranches(sb)
        state.installations[("team", name)] = INST
        entries.append(f'[[repos]]\nurl = "{sb.origin}"\ngithub-repo = "team/{name}"\n')
        names.append(name)
    config = tmp / "prodfix-serve.toml"
    config.write_text(
        f"[server]\nworkers = {workers}\npoll-seconds = 3600\nlease-seconds = {lease}\n"
        f'[github]\napp-id = {APP_ID}\nprivate-key-file = "{key}"\napi-url = "{github.api_url}"\n'
        "redeliver-failed = false\n" + "\n".join(entries)
    )
    return Fleet(tmp, github, state, config, database, names, [])


def open_prs(f: Fleet, per_repo: int) -> list[tuple[str, FakePr]]:
    out = []
    for name in f.repos:
        repo = f.github.repos[("team", name)]
        for n in range(1, per_repo + 1):
            head = f"fix/a{n}"
            pr = FakePr(n, f"fix {n}", "", head, "delivery", repo.branches[head], "alice")
            repo.prs[n] = pr
            out.append((name, pr))
    return out


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(tokens={}) as gh:
        yield gh
        assert gh.violations == []


def test_two_instances_process_200_webhooks_exactly_once_across_a_database_restart(
    tmp_path: Path, github: FakeGitHub, pg_server: PgServer
) -> None:
    f = fleet(tmp_path, github, pg_server.new_database(), repos=4, fixes=5)
    prs = open_prs(f, per_repo=5)
    a, b = f.start("a"), f.start("b")
    try:
        deliveries: list[tuple[str, dict[str, object]]] = []
        for i in range(200):
            if i % 10 == 9:
                # Every tenth is a replay of an earlier delivery (GitHub's redelivery: same id).
                guid, doc = deliveries[-5]
            else:
                name, pr = prs[len(deliveries) % len(prs)]
                doc = pr_event("synchronize", repo=f"team/{name}", number=pr.number,
                               head=pr.head, head_sha=pr.head_sha, base=pr.base, inst=INST)  # fmt: skip
                guid = str(uuid.uuid4())
                deliveries.append((guid, doc))
            if i == 100:
                pg_server.restart()
            f.deliver(a if i % 2 else b, "pull_request", doc, guid)
        f.settled(want=len(prs))
        f.drained()  # anything still queued or running would show up as a second run
        runs = list(f.app.runs.values())
        per_head = {(r["repo"], r["head_sha"]) for r in runs}
        assert len(runs) == len(per_head) == len(prs) == f.app.runs_created
        assert {r["conclusion"] for r in runs} == {"success"}
        metrics = [HTTP.get(i.url + "/metrics").text for i in (a, b)]
        received = sum(
            int(line.rsplit(" ", 1)[1])
            for m in metrics
            for line in m.splitlines()
            if line.startswith("prodfix_webhooks_received_total")
        )
        assert received == len(deliveries) == 180  # replays answered 202, processed once
        assert 'prodfix_jobs{state="failed"} 0' in metrics[0]
    finally:
        for inst in f.instances:
            inst.stop()


def test_a_serve_killed_mid_job_is_finished_by_another_without_duplicates(
    tmp_path: Path, github: FakeGitHub, pg_server: PgServer
) -> None:
    f = fleet(tmp_path, github, pg_server.new_database(), repos=1, lease=2)
    ((name, pr),) = open_prs(f, per_repo=1)
    released = github.hold("PATCH", r"/check-runs/\d+$")
    a = f.start("a")
    try:
        doc = pr_event("opened", repo=f"team/{name}", number=pr.number, head=pr.head,
                       head_sha=pr.head_sha, base=pr.base, inst=INST)  # fmt: skip
        f.deliver(a, "pull_request", doc, "guid-kill")
        assert github.held.wait(60), a.log.read_text()
        a.proc.send_signal(signal.SIGKILL)  # mid-job: the run is created, not yet completed
        a.proc.wait()
        (run,) = f.app.runs.values()
        assert run["status"] == "in_progress"
        released.set()
        f.start("b")
        f.settled(want=1, timeout=60)
        from prodfix.serve.db import Database

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with Database(f.database).tx() as cur:
                jobs = cur.rows("SELECT state, attempts FROM jobs WHERE kind = 'pr'")
            if jobs == [("done", 2)]:
                break
            time.sleep(0.2)
        assert jobs == [("done", 2)]  # the killed attempt, then the one that finished it
        f.drained()
        (run,) = f.app.runs.values()  # the job is done: a second run would be here by now
        assert (run["status"], run["conclusion"], f.app.runs_created) == ("completed", "success", 1)
    finally:
        released.set()
        for inst in f.instances:
            inst.stop()


def test_serve_without_the_extra_says_which_pip_command(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['uvicorn'] = None\n"
        "from prodfix.cli import main\n"
        f"main(['serve', '{tmp_path}'])\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert p.returncode == 2, p.stderr
    assert "pip install 'prodfix[serve]'" in p.stderr and "uvicorn" in p.stderr


def test_a_private_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "app.pem"
    key.write_text(app_keys().private_pem)
    key.chmod(0o644)
    cfg = tmp_path / "prodfix-serve.toml"
    cfg.write_text(f'[github]\napp-id = 1\nprivate-key-file = "{key}"\n')
    env = {**os.environ, "PRODFIX_WEBHOOK_SECRET": "s"}
    p = subprocess.run(
        [sys.executable, "-m", "prodfix", "serve", "--config", str(cfg)],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert p.returncode == 2
    assert "readable by others (mode 0644)" in p.stderr and f"chmod 600 {key}" in p.stderr
    assert json.dumps(app_keys().private_pem)[:40] not in p.stderr + p.stdout


def test_serve_polls_repositories_given_on_the_command_line(tmp_path: Path) -> None:
    from tests.scenario import fix_proposed_and_approved, service_world

    w = service_world(Sandbox(tmp_path / "sb"))
    fix_proposed_and_approved(w)
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "PRODFIX_HOME": str(tmp_path / "serve-home")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "prodfix", "-C", str(w.sb.root), "serve", "--port", str(port),
         "origin.git"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env,
        preexec_fn=sigint_default,  # stopped with SIGINT
    )  # fmt: skip
    inst = Instance(proc, f"http://127.0.0.1:{port}", log)
    try:
        inst.wait_ready()
        deadline = time.monotonic() + 60
        fixes: list[dict[str, object]] = []
        while time.monotonic() < deadline and not fixes:
            fixes = HTTP.get(inst.url + "/api/fixes").json()["fixes"]
            time.sleep(0.2)
        assert [f["name"] for f in fixes] == ["npe"], log.read_text()
        assert "127.0.0.1" in log.read_text().splitlines()[0]
    finally:
        inst.stop()
    assert proc.returncode == 0, log.read_text()
