"""Operations: small frozen dataclasses a command's program is made of (git-town's opcodes).

Each op is idempotent — it checks before it acts — because after a kill -9 the interrupted op
runs again on `continue`. `run` returns the op's inverse when it changed something outside the
local refs (a pushed branch, an opened PR, a job config edit); local refs are undone from the
ref snapshots the interpreter takes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from prodfix.errors import Exit, ProdfixError

if TYPE_CHECKING:
    from prodfix.workflow.context import Ctx

FORMAT_VERSION = 1
REGISTRY: dict[str, type[Op]] = {}
T = TypeVar("T", bound="type[Op]")


def register(cls: T) -> T:
    REGISTRY[cls.__name__] = cls
    return cls


class StopForUser(ProdfixError):
    """The program cannot go on without the user (conflicts to resolve, a failing test)."""

    def __init__(self, message: str, *, hint: str, code: int = Exit.FAILED) -> None:
        super().__init__(message, hint=hint, code=code)


@dataclass(frozen=True)
class Op:
    """An operation of a program. `run` may raise ProdfixError: the interpreter saves the rest
    of the program (`continue` re-runs this op), unless nothing had been done yet."""

    reversible: ClassVar[bool] = True

    def describe(self) -> str:
        raise NotImplementedError

    def run(self, ctx: Ctx) -> Op | None:
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        return {"op": type(self).__name__, **dataclasses.asdict(self)}


# Every module that defines ops: a `continue` in a new process must know them all, not only
# those the command that wrote the run state happened to import.
OP_MODULES = (
    "prodfix.workflow.ops_git",
    "prodfix.workflow.ops_forge",
    "prodfix.workflow.ops_test",
    "prodfix.workflow.ops_build",
    "prodfix.workflow.ops_merge",
    "prodfix.workflow.ops_deploy",
    "prodfix.workflow.ops_jenkins",
    "prodfix.workflow.ops_records",
    "prodfix.workflow.ops_sync",
)


def from_json(doc: dict[str, Any]) -> Op:
    doc = dict(doc)
    name = doc.pop("op")
    if name not in REGISTRY:
        import importlib

        for module in OP_MODULES:
            importlib.import_module(module)
    cls = REGISTRY.get(name)
    if cls is None:
        raise ProdfixError(
            f"saved run state names an unknown operation {name!r}",
            hint="it was written by another prodfix version; run `prodfix abort` with that version",
        )
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in doc.items() if k in fields}
    return cls(**kwargs)
