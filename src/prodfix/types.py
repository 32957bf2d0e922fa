"""Typed values that travel between layers, so a SHA is never mistaken for a branch name.

To the type checker each is its own `NewType`; at run time each is the plain type itself
(`NewType` only returns its argument), so the modules `prodfix check` loads never import
`typing` (see tuples.py for what that costs at start-up)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NewType

    Sha = NewType("Sha", str)
    BranchName = NewType("BranchName", str)  # short name: "delivery-2026.11", "fix/npe"
    PrNumber = NewType("PrNumber", int)
    ImageTag = NewType("ImageTag", str)
else:
    Sha = BranchName = ImageTag = str
    PrNumber = int


def short(sha: str) -> str:
    return sha[:7]
