"""The one lock helper: threads and processes exclude each other, waits are injectable, and the
shared caches (fetches of one repository, the deploy-repository clone) are serialised by it."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from prodfix import config
from prodfix.adapters.git import Repo
from prodfix.adapters.locks import file_lock, lock_wait
from prodfix.adapters.store import Store
from prodfix.demo.sandbox import IMAGE_GO, IMAGE_PY
from prodfix.errors import Exit, ProdfixError
from prodfix.workflow.context import Ctx
from prodfix.workflow.deploy_repo import cache_dir, locate
from prodfix.workflow.lock import repo_lock
from tests.cli import prodfix
from tests.gitfix import Sandbox
from tests.test_deploy_cmd import make_world, service_toml

REPEAT = 8


def together(n: int, work: Callable[[int], None]) -> list[BaseException]:
    """Run work(0..n-1) in n threads released at the same instant; the exceptions raised."""
    gate = threading.Barrier(n)
    errors: list[BaseException] = []

    def one(i: int) -> None:
        gate.wait()
        try:
            work(i)
        except BaseException as exc:  # collected: the test reports every one
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_two_threads_of_one_process_exclude_each_other() -> None:
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with file_lock("k", what="testing", wait=0):
            held.set()
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(10)
    began = time.monotonic()
    with (
        pytest.raises(ProdfixError) as exc,
        file_lock("k", what="testing the lock", wait=0.2, poll=0.01),
    ):
        pass
    assert 0.2 <= time.monotonic() - began < 2
    assert exc.value.message == f"another prodfix process (pid {os.getpid()}) is testing the lock"
    assert exc.value.hint == "wait for it to finish, then run your command again"
    assert exc.value.code == Exit.USAGE
    release.set()
    t.join()
    with file_lock("k", what="testing", wait=0):  # free again once the holder is done
        pass


def test_a_waiter_gets_the_lock_when_the_holder_lets_go() -> None:
    order: list[str] = []

    def work(i: int) -> None:
        with file_lock("k", what="testing", wait=5, poll=0.01):
            order.append(f"in{i}")
            time.sleep(0.05)
            order.append(f"out{i}")

    assert together(4, work) == []
    # never two inside at once: every "in" is followed by its own "out"
    assert [order[i][2:] for i in range(0, 8, 2)] == [order[i][3:] for i in range(1, 8, 2)]


def test_lock_wait_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert lock_wait() == 5.0
    monkeypatch.setenv("PRODFIX_LOCK_WAIT", "0.25")
    assert lock_wait() == 0.25
    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv("PRODFIX_LOCK_WAIT", bad)
        with pytest.raises(ProdfixError) as exc:
            lock_wait()
        assert exc.value.message == f"PRODFIX_LOCK_WAIT={bad!r} is not a number of seconds"
        assert exc.value.code == Exit.USAGE


def test_repo_lock_waits_as_long_as_prodfix_lock_wait(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRODFIX_LOCK_WAIT", "0.3")
    with repo_lock(tmp_path):
        began = time.monotonic()
        with pytest.raises(ProdfixError) as exc, repo_lock(tmp_path):
            pass
        assert 0.3 <= time.monotonic() - began < 2
    assert (
        exc.value.message == f"another prodfix process (pid {os.getpid()}) is changing {tmp_path}"
    )


def _moving_origin(sb: Sandbox) -> tuple[Path, Callable[[int], None]]:
    """A clone of an origin, and a function that moves origin's master and 10 branches."""
    sb.init_origin()
    seed = sb.clone("seed")
    sb.commit(seed, "first")
    sb.push(seed, "master")
    work = sb.clone("work")

    def move(rep: int) -> None:
        sb.commit(seed, f"move {rep}")
        sb.g(seed, "push", "-q", "-f", "origin", *(f"HEAD:b{b}" for b in range(10)), "HEAD:master")

    return work, move


def test_concurrent_fetches_of_one_repository_never_race(sandbox: Sandbox) -> None:
    """Without the lock, git fails 8/8: "cannot lock ref 'refs/remotes/origin/master'"."""
    work, move = _moving_origin(sandbox)
    for rep in range(REPEAT):
        move(rep)
        errors = together(4, lambda _i: Repo(work).fetch("origin"))
        assert errors == [], (rep, [str(e) for e in errors])
        origin_master = sandbox.g(sandbox.origin, "rev-parse", "master")
        assert sandbox.g(work, "rev-parse", "refs/remotes/origin/master") == origin_master


def test_a_deploy_repository_url_is_cloned_once_by_concurrent_readers(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Several fixes observed at once, one cache: every thread gets the one clone."""
    origin, _move = _moving_origin(sandbox)
    url = f"file://{sandbox.origin}"
    service = tmp_path / "service"
    service.mkdir()
    (service / ".prodfix.toml").write_text(
        f'kind = "python"\n[deploy]\nrepo = "{url}"\ndcs = ["us1"]\n'
    )
    ctx = Ctx(repo=Repo(service), cfg=config.load(service), store=Store(tmp_path / "db"))
    found: list[Path] = []
    errors = together(4, lambda _i: found.append(locate(ctx).path))
    assert errors == []
    assert found == [cache_dir(url)] * 4
    assert Repo(cache_dir(url)).resolve("refs/remotes/origin/master") == sandbox.g(
        origin, "rev-parse", "HEAD"
    )
    assert [p.name for p in cache_dir(url).parent.iterdir()] == [cache_dir(url).name]


@pytest.mark.slow
def test_status_of_two_fixes_sharing_the_deploy_repository(tmp_path: Path) -> None:
    """Both fixes' deploy steps read one deploy repository from status's threads; the remote
    moves before every status, so both fetches update its refs: 8/8 without a spurious FAILED."""
    build = 'type = "command"\ncommand = "sh ci/build.sh"'
    world = make_world(tmp_path / "sb", dcs=["us1", "us2"], build=build)
    b = world.b
    other = b.new_repo("steps-other")
    b.commit(
        other,
        "other: first version",
        {
            ".prodfix.toml": service_toml("../deployment-infra", ["us1", "us2"], "", build).replace(
                IMAGE_PY, IMAGE_GO
            ),
            "steps.py": "X = 1\n",
            "ci/build.sh": (world.service / "ci" / "build.sh").read_text(),
        },
    )
    b.g(other, "branch", "delivery")
    b.g(other, "push", "-q", "origin", "master", "delivery")
    for svc, fix in ((world.service, "npe"), (other, "oom")):
        for args in (("start", fix), ("test",), ("propose",), ("pr", "approve", "1")):
            r = prodfix(svc, *args)
            assert r.code == 0, (args, r.out, r.err)
            if args[0] == "start":
                b.commit(svc, f"{fix}: fixed", {"steps.py": f"X = '{fix}'\n"})
        r = prodfix(svc, "next", "--merge")
        assert r.code == 0, r.out + r.err
    for rep in range(REPEAT):
        b.commit(world.infra, f"unrelated {rep}", {"README.md": f"rev {rep}\n"})
        b.g(world.infra, "push", "-q", "origin", "master")
        # Outside any repository: every clone this machine started a fix in, in threads.
        r = prodfix(tmp_path, "status", "--json")
        assert r.code == 0, (rep, r.err)
        deploy = {
            f["name"]: next(s for s in f["repos"][0]["steps"] if s["id"] == "deploy")
            for f in json.loads(r.out)["fixes"]
        }
        assert {k: v["state"] for k, v in deploy.items()} == {"npe": "waiting", "oom": "waiting"}, (
            rep,
            deploy,
        )
