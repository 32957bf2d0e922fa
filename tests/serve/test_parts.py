"""Small parts of the service: the throttle, git's token through the environment, the App's JWT,
the metrics text, the snapshot merge, and what `prodfix --help` does not import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from prodfix.adapters.forge.github.app import GitHubAppClient, app_jwt, signing_key
from prodfix.errors import ProdfixError
from prodfix.serve import snapshot
from prodfix.serve.metrics import Metrics
from prodfix.serve.targets import AuthRepo, Target, auth_env, open_clone
from prodfix.serve.throttle import TokenBucket
from tests.serve.helpers import app_keys


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


def test_the_bucket_lets_80_through_then_spreads_the_rest() -> None:
    clock = FakeClock()
    bucket = TokenBucket(clock=clock, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(82)]
    assert waits[:80] == [0.0] * 80
    assert waits[80] == 0.75 and clock.slept[0] == 0.75  # 60 s / 80
    assert round(waits[81], 6) == 0.75  # the 82nd waited for its own token, not the 81st's
    clock.now += 60
    assert bucket.acquire() == 0.0  # refilled after a quiet minute


def test_git_gets_the_token_from_the_environment_only(tmp_path: Path) -> None:
    token = "ghs_SENTINELtoken"
    repo = open_clone(
        Target("team/app", "https://github.example/team/app.git"), lambda: auth_env(token)
    )
    assert isinstance(repo, AuthRepo)
    header = repo.git("config", "--get", "http.extraHeader").stdout.strip()
    assert header.startswith("Authorization: Basic ")
    import base64

    assert base64.b64decode(header.split()[-1]).decode() == f"x-access-token:{token}"
    on_disk = b"".join(p.read_bytes() for p in repo.path.rglob("*") if p.is_file())
    assert token.encode() not in on_disk and b"x-access-token" not in on_disk


def test_the_app_jwt_is_backdated_and_short_lived() -> None:
    keys = app_keys()
    claims = jwt.decode(
        app_jwt(12, keys.private_pem, now=1_000_000),
        keys.public_pem,
        algorithms=["RS256"],
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims == {"iat": 1_000_000 - 60, "exp": 1_000_000 + 540, "iss": "12"}
    # Signed with the key parsed once (as the App client does): the same token.
    assert app_jwt(12, signing_key(keys.private_pem), now=1_000_000) == app_jwt(
        12, keys.private_pem, now=1_000_000
    )


def test_a_private_key_file_that_is_not_a_pem_key_fails_the_first_app_call() -> None:
    with pytest.raises(ProdfixError) as e:
        app_jwt(12, "-----BEGIN NOTHING-----\nxx\n", now=1_000_000)
    assert e.value.message == (
        "the GitHub App private key cannot sign: it is not an RSA private key in PEM form"
    )
    assert "PEM file downloaded from the App's settings" in (e.value.hint or "")
    client = GitHubAppClient("http://127.0.0.1:9", 12, "not a key")  # nothing parsed yet
    with pytest.raises(ProdfixError, match="private key cannot sign"):
        client.installation_for("team/app")
    client.close()


def test_metrics_text() -> None:
    m = Metrics()
    m.webhook("push")
    m.reject("signature")
    m.job("done", 0.3)
    m.job("retry", 12.0)
    text = m.render({"queued": 2, "running": 1, "done": 5, "failed": 0})
    assert 'prodfix_webhooks_received_total{event="push"} 1' in text
    assert 'prodfix_job_latency_seconds_bucket{le="0.5"} 1' in text
    assert 'prodfix_job_latency_seconds_bucket{le="30.0"} 2' in text
    assert 'prodfix_job_latency_seconds_bucket{le="+Inf"} 2' in text
    assert "prodfix_job_latency_seconds_count 2" in text
    assert 'prodfix_jobs{state="queued"} 2' in text and "prodfix_database_up 1" in text


def step(state: str) -> snapshot.StepJson:
    return {
        "id": "branch",
        "state": state,
        "detail": "",
        "pr": None,
        "url": None,
        "sha": None,
        "tag": None,
        "since": None,
    }  # type: ignore[typeddict-item]


def test_snapshots_merge_one_fix_across_repositories() -> None:
    def part(path: str, done: bool, stamp: str) -> snapshot.Snapshot:
        s = snapshot.empty()
        s["fixes"] = [
            {
                "name": "npe",
                "done": done,
                "repos": [
                    {
                        "path": path,
                        "remote": path,
                        "kind": "go",
                        "delivery": "delivery",
                        "branch": "fix/npe",
                        "steps": [step("done")],
                    }
                ],
            }
        ]
        s["updated_at"] = stamp
        return s

    merged = snapshot.merge(
        [part("/a", True, "2026-11-29T10:00:00Z"), part("/b", False, "2026-11-29T09:00:00Z")]
    )
    (fix,) = merged["fixes"]
    assert [r["path"] for r in fix["repos"]] == ["/a", "/b"] and fix["done"] is False
    assert merged["updated_at"] == "2026-11-29T09:00:00Z"
    assert snapshot.fixes_document(merged) == {
        "version": 1,
        "fixes": merged["fixes"],
        "deliveries": [],
    }


def test_api_deliveries_are_the_measured_branches_in_status_json_shape() -> None:
    def part(repo: str, *measured: tuple[str, int]) -> snapshot.Snapshot:
        s = snapshot.empty()
        s["deliveries"] = [
            {
                "repo": repo,
                "branch": b,
                "missing_backmerge_days": 0,
                "red": False,
                "mainline": "master",
                "behind_commits": n,
                "behind_days": 2 * n,
                "last_sync": None if n else "2026-11-02T08:30:00Z",
            }
            for b, n in measured
        ]
        return s

    old = part("team/old")
    old["deliveries"] = [
        {"repo": "team/old", "branch": "delivery", "missing_backmerge_days": 1, "red": False}
    ]  # written before the measure existed: not listed rather than shown as level
    merged = snapshot.merge([part("team/a", ("delivery", 0), ("delivery-2", 3)), old])
    assert snapshot.fixes_document(merged)["deliveries"] == [
        {
            "path": "team/a",
            "branch": "delivery",
            "behind_commits": 0,
            "behind_days": 0,
            "last_sync": "2026-11-02T08:30:00Z",
        },
        {
            "path": "team/a",
            "branch": "delivery-2",
            "behind_commits": 3,
            "behind_days": 6,
            "last_sync": None,
        },
    ]


def test_prodfix_help_imports_none_of_the_service() -> None:
    code = (
        "import sys\nfrom prodfix.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('starlette', 'uvicorn', 'jinja2', 'jwt', 'psycopg', 'httpx',"
        " 'prodfix.serve') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in p.stderr
