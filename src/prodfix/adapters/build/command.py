"""`build.type = "command"`: the embedded build runner (what `demo` uses).

Runs the configured command in a clean worktree of the delivery SHA (`git worktree add
--detach`, removed after) so a dirty or different checkout can never leak into the image; the
image tag is the last line it prints.

Builds are records in the service's remote (`refs/prodfix/builds/<n>`, see
`adapters/records.py`), so every clone sees the same builds: the number is taken by a
must-not-exist push (two clones, or two machines, never build under one number, so a tag made
from it never names two commits), and the finished build pushes its result together with the
image pointer `refs/prodfix/images/<tag>` → the built commit.
"""

from __future__ import annotations

import shlex
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prodfix.adapters import records
from prodfix.adapters.build import Build, BuildState
from prodfix.adapters.git import Repo, clean_env
from prodfix.errors import ProdfixError, ServiceError
from prodfix.types import BranchName, ImageTag, Sha

KIND = "builds"


class CommandBuilder:
    def __init__(
        self, repo: Repo, command: str, *, remote: str = "origin", timeout: float = 3600
    ) -> None:
        if not command.strip():
            raise ProdfixError(
                'build.type is "command" but build.command is empty',
                hint="set [build] command in .prodfix.toml (it must print the image tag last)",
            )
        self.repo = repo
        self.remote = remote
        self.argv = shlex.split(command)  # no shell: point the key at a script for pipelines
        self.timeout = timeout

    @property
    def name(self) -> str:
        return f"local build ({shlex.join(self.argv)})"

    # -- reads (the records the last fetch brought) -----------------------------------------
    def _records(self) -> dict[int, records.Record]:
        refs = self.repo.refs(f"{records.mirror(self.remote)}/{KIND}/")
        found = records.read(self.repo, self.remote, KIND, refs)
        return {int(r.doc["number"]): r for r in found.values() if "number" in r.doc}

    def delivery_build(self, delivery: BranchName, sha: Sha) -> Build | None:
        """The newest build of `delivery` whose commit contains `sha`."""
        recs = self._records()
        for number in sorted(recs, reverse=True):
            rec = recs[number]
            if rec.doc.get("delivery") != delivery:
                continue
            built = str(rec.doc.get("sha"))
            if built == sha or (
                self.repo.resolve(built) is not None and self.repo.is_ancestor(sha, built)
            ):
                return self._build(rec.doc)
        return None

    def built_commit(self, tag: ImageTag, deliveries: Sequence[BranchName] = ()) -> Sha | None:
        ref = f"{records.mirror(self.remote)}/images/{records.component(tag)}"
        return self.repo.resolve(ref)

    def poll(self, build: Build) -> Build:
        """Local builds finish before trigger returns: re-read that build's record."""
        number = build.number or 0
        rec = records.current(self.repo, self.remote, KIND, str(number))
        return self._build(rec.doc) if rec is not None else build

    # -- the build --------------------------------------------------------------------------
    def trigger_delivery(self, delivery: BranchName, sha: Sha) -> Build:
        number, claim = self._claim(delivery, sha)
        out, code, lines = self._run(delivery, sha, number)
        ok = code == 0 and bool(lines)
        tail = "\n".join(out.strip().splitlines()[-20:])
        if code == 0 and not lines:
            tail += "\n(the build printed nothing: it must print the image tag last)"
        tag = lines[-1] if ok else None
        doc = {**claim.doc, "finished_at": _stamp(), "tail": tail}
        doc |= {"state": (BuildState.SUCCESS if ok else BuildState.FAILURE).value, "tag": tag}
        also: dict[str, tuple[str, str | None]] = {}
        if tag:
            image_ref = records.ref("images", tag)
            existing = self.built_commit(ImageTag(tag))
            if existing is not None and existing != sha:
                doc |= {"state": BuildState.FAILURE.value, "tag": None}
                doc["tail"] = tail + (
                    f"\nimage tag {tag} already names a build of {existing[:7]}: two builds "
                    "of different commits must never share a tag (print a tag made from "
                    "PRODFIX_BUILD_NUMBER or PRODFIX_SHA)"
                )
            elif existing is None:
                also[image_ref] = (sha, None)
        self._finish(number, claim, doc, also)
        return self._build(doc)

    def _claim(self, delivery: BranchName, sha: Sha) -> tuple[int, records.Record]:
        """Take the next free build number with a must-not-exist push of its record."""
        for attempt in range(records.MAX_RETRIES):
            records.fetch(self.repo, self.remote, again=attempt > 0)
            number = max(self._records(), default=0) + 1
            doc = {
                "number": number,
                "sha": sha,
                "delivery": delivery,
                "state": BuildState.RUNNING.value,
                "tag": None,
                "tail": "",
                "by": records.who(self.repo),
                "started_at": _stamp(),
                "started": time.time(),
                "finished_at": None,
            }
            commit = records.write(self.repo, doc, None, f"build #{number} of {delivery}")
            outcome = records.push(
                self.repo, self.remote, {records.ref(KIND, str(number)): (commit, None)}
            )
            if outcome.ok:
                return number, records.Record(KIND, str(number), commit, doc)
        raise ServiceError("could not take a build number: too many builds started at once")

    def _finish(
        self,
        number: int,
        claim: records.Record,
        doc: Mapping[str, Any],
        also: Mapping[str, tuple[str, str | None]],
    ) -> None:
        commit = records.write(self.repo, doc, claim.sha, f"build #{number}: {doc['state']}")
        updates = {records.ref(KIND, str(number)): (commit, claim.sha), **also}
        outcome = records.push(self.repo, self.remote, updates)
        if not outcome.ok:
            raise ServiceError(
                f"could not record the result of build #{number}: "
                + "; ".join(f"{r} {why}" for r, why in outcome.rejected.items())
            )

    def _run(self, delivery: BranchName, sha: Sha, number: int) -> tuple[str, int, list[str]]:
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
                    lines = [ln.strip() for ln in p.stdout.splitlines() if ln.strip()]
                    return p.stdout + p.stderr, p.returncode, lines
                except FileNotFoundError:
                    return f"{self.argv[0]}: command not found", 127, []
                except subprocess.TimeoutExpired:
                    return f"timed out after {self.timeout:.0f}s", 124, []
            finally:
                self.repo.git("worktree", "remove", "--force", str(wt), check=False)
                self.repo.git("worktree", "prune", check=False)

    def _build(self, doc: Mapping[str, Any]) -> Build:
        state = BuildState(str(doc.get("state", "failure")))
        tail = str(doc.get("tail") or "")
        if state is BuildState.RUNNING and time.time() - float(doc.get("started", 0)) > (
            self.timeout + 60
        ):
            # The machine that ran it died mid-build: it will never say how it ended.
            state = BuildState.ABORTED
            tail = f"build #{doc['number']} never finished (started by {doc.get('by')})"
        tag = doc.get("tag")
        return Build(
            id=f"local-{doc['number']}",
            state=state,
            sha=Sha(str(doc["sha"])),
            number=int(doc["number"]),
            url=None,
            image_tag=ImageTag(str(tag)) if tag else None,
            console_tail=tail,
            started_at=str(doc.get("started_at")) if doc.get("started_at") else None,
        )


def _stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
