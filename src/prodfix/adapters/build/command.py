"""`build.type = "command"`: the embedded build runner (what `demo` uses).

Runs the configured command in a clean worktree of the delivery SHA (`git worktree add
--detach`, removed after) so a dirty or different checkout can never leak into the image; the
image tag is the last line it prints. Results are kept per SHA under PRODFIX_HOME so the
reconciler observes them like any CI's.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
import time
from pathlib import Path

from prodfix.adapters.build import Build, BuildState
from prodfix.adapters.git import Repo, clean_env
from prodfix.adapters.store import ensure_private_dir, home
from prodfix.errors import ProdfixError
from prodfix.types import BranchName, ImageTag, Sha
from prodfix.workflow.lock import run_key


class CommandBuilder:
    def __init__(self, repo: Repo, command: str, *, timeout: float = 3600) -> None:
        if not command.strip():
            raise ProdfixError(
                'build.type is "command" but build.command is empty',
                hint="set [build] command in .prodfix.toml (it must print the image tag last)",
            )
        self.repo = repo
        self.argv = shlex.split(command)  # no shell: point the key at a script for pipelines
        self.timeout = timeout
        self.dir = ensure_private_dir(home() / "builds" / run_key(repo.path))

    @property
    def name(self) -> str:
        return f"local build ({shlex.join(self.argv)})"

    def _record(self, sha: str) -> Path:
        return self.dir / f"{sha}.json"

    def delivery_build(self, delivery: BranchName, sha: Sha) -> Build | None:
        p = self._record(sha)
        if not p.exists():
            return None
        d = json.loads(p.read_text())
        return Build(
            id=d["id"],
            state=BuildState(d["state"]),
            sha=sha,
            number=d.get("number"),
            url=None,
            image_tag=d.get("tag"),
            console_tail=d.get("tail", ""),
        )

    def trigger_delivery(self, delivery: BranchName, sha: Sha) -> Build:
        number = len(list(self.dir.glob("*.json"))) + 1
        with tempfile.TemporaryDirectory(prefix="prodfix-build-") as tmp:
            wt = Path(tmp) / "src"
            self.repo.git("worktree", "add", "--detach", "--quiet", str(wt), sha)
            try:
                env = clean_env(
                    {
                        "PRODFIX_DELIVERY": delivery,
                        "PRODFIX_SHA": sha,
                        "PRODFIX_BUILD_NUMBER": str(number),
                    }
                )
                try:
                    p = subprocess.run(
                        self.argv,
                        cwd=wt,
                        env=env,
                        capture_output=True,
                        text=True,
                        timeout=self.timeout,
                        check=False,
                    )
                    out, code = p.stdout + p.stderr, p.returncode
                    lines = [ln.strip() for ln in p.stdout.splitlines() if ln.strip()]
                except FileNotFoundError:
                    out, code, lines = f"{self.argv[0]}: command not found", 127, []
                except subprocess.TimeoutExpired:
                    out, code, lines = f"timed out after {self.timeout:.0f}s", 124, []
            finally:
                self.repo.git("worktree", "remove", "--force", str(wt), check=False)
                self.repo.git("worktree", "prune", check=False)
        ok = code == 0 and bool(lines)
        tail = "\n".join(out.strip().splitlines()[-20:])
        if code == 0 and not lines:
            tail += "\n(the build printed nothing: it must print the image tag last)"
        rec = {
            "id": f"local-{number}",
            "number": number,
            "state": (BuildState.SUCCESS if ok else BuildState.FAILURE).value,
            "tag": lines[-1] if ok else None,
            "tail": tail,
            "at": time.time(),
        }
        tmp_path = self._record(sha).with_suffix(".tmp")
        tmp_path.write_text(json.dumps(rec))
        os.replace(tmp_path, self._record(sha))
        return Build(
            id=f"local-{number}",
            state=BuildState.SUCCESS if ok else BuildState.FAILURE,
            sha=sha,
            number=number,
            image_tag=ImageTag(lines[-1]) if ok else None,
            console_tail=tail,
        )

    def poll(self, build: Build) -> Build:
        """Local builds finish before trigger returns: re-read the record of that build."""
        for p in self.dir.glob("*.json"):
            d = json.loads(p.read_text())
            if d.get("id") == build.id:
                return self.delivery_build(BranchName(""), Sha(p.stem)) or build
        return build
