"""Typed values that travel between layers, so a SHA is never mistaken for a branch name."""

from __future__ import annotations

from typing import NewType

Sha = NewType("Sha", str)
BranchName = NewType("BranchName", str)  # short name: "delivery-2026.11", "fix/npe"
PrNumber = NewType("PrNumber", int)
ImageTag = NewType("ImageTag", str)


def short(sha: str) -> str:
    return sha[:7]
