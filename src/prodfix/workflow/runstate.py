"""The saved remaining program of a stopped command (versioned JSON, mode 0600)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prodfix.adapters.files import write_atomic
from prodfix.adapters.paths import ensure_private_dir, home
from prodfix.errors import ProdfixError
from prodfix.workflow.lock import run_key
from prodfix.workflow.ops import FORMAT_VERSION, Op, from_json


@dataclass
class RunState:
    run_id: str
    command: str
    repo: str
    fix: str | None
    remaining: list[Op]
    done: list[tuple[Op, Op | None]] = field(default_factory=list)  # (op, its inverse)
    refs_before: dict[str, str] = field(default_factory=dict)
    head_before: str | None = None
    stopped: dict[str, str] | None = None  # {"op", "message", "hint"}

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "run_id": self.run_id,
            "command": self.command,
            "repo": self.repo,
            "fix": self.fix,
            "remaining": [op.to_json() for op in self.remaining],
            "done": [
                {"op": op.to_json(), "inverse": inv.to_json() if inv else None}
                for op, inv in self.done
            ],
            "refs_before": self.refs_before,
            "head_before": self.head_before,
            "stopped": self.stopped,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> RunState:
        if doc.get("version") != FORMAT_VERSION:
            raise ProdfixError(
                f"saved run state has format {doc.get('version')}, this prodfix reads {FORMAT_VERSION}",
                hint="finish it with the prodfix version that wrote it",
            )
        return cls(
            run_id=doc["run_id"],
            command=doc["command"],
            repo=doc["repo"],
            fix=doc["fix"],
            remaining=[from_json(o) for o in doc["remaining"]],
            done=[
                (from_json(d["op"]), from_json(d["inverse"]) if d["inverse"] else None)
                for d in doc["done"]
            ],
            refs_before=doc["refs_before"],
            head_before=doc["head_before"],
            stopped=doc["stopped"],
        )


def path_for(repo: Path, fix: str | None) -> Path:
    """One saved run per fix of a repository (and one for commands that belong to no fix):
    a run stopped for one fix never blocks another."""
    key = hashlib.sha1((fix or "").encode()).hexdigest()[:12] if fix else "repo"
    return home() / "runs" / f"{run_key(repo)}-{key}.json"


def all_for(repo: Path) -> list[RunState]:
    """Every saved run of the repository, oldest first."""
    d = home() / "runs"
    if not d.is_dir():
        return []
    found = [_read(p) for p in sorted(d.glob(f"{run_key(repo)}-*.json"), key=_mtime)]
    return [s for s in found if s is not None]


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


def load(repo: Path, fix: str | None) -> RunState | None:
    return _read(path_for(repo, fix))


def _read(p: Path) -> RunState | None:
    if not p.exists():
        return None
    try:
        return RunState.from_json(json.loads(p.read_text()))
    except (ValueError, KeyError) as exc:
        raise ProdfixError(
            f"the saved run state {p} is unreadable ({exc})",
            hint=f"inspect it, then delete it to start over: rm {p}",
        ) from exc


def save(state: RunState) -> None:
    """Write atomically (temp file + rename) with mode 0600: a kill leaves old or new, never half."""
    p = path_for(Path(state.repo), state.fix)
    ensure_private_dir(p.parent)
    write_atomic(p, json.dumps(state.to_json(), indent=1), mode=0o600)


def clear(repo: Path, fix: str | None) -> None:
    path_for(repo, fix).unlink(missing_ok=True)
