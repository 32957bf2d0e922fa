"""Which delivery commit an image tag was built from — what "deployed" is decided by.

A fix is deployed in a DC when the tag pinned there was built from a delivery commit that
contains the fix's merge (ancestry, not tag equality): a later fix's newer tag keeps earlier
fixes deployed. The map lives where every clone reads it: `refs/prodfix/images/<tag>` in the
service's remote (written when a build is seen to succeed), else the build system's own data.
"""

from __future__ import annotations

from collections.abc import Mapping

from prodfix.adapters import records
from prodfix.errors import ProdfixError
from prodfix.types import BranchName, ImageTag, Sha
from prodfix.workflow.context import Ctx


class ImageIndex:
    def __init__(self, ctx: Ctx, refs: Mapping[str, str], deliveries: list[str]) -> None:
        self.ctx = ctx
        prefix = f"{records.mirror(ctx.remote)}/images/"
        self.known: dict[str, Sha] = {
            records.uncomponent(r[len(prefix) :]): Sha(s)
            for r, s in refs.items()
            if r.startswith(prefix)
        }
        self.deliveries = [BranchName(d) for d in deliveries]
        self._asked: dict[str, Sha | None] = {}

    def commit_of(self, tag: str) -> Sha | None:
        """The built commit, or None when nobody knows (a tag built outside prodfix and no
        longer in the CI's history)."""
        if tag in self.known:
            return self.known[tag]
        if tag not in self._asked:
            builder = self.ctx.builder
            try:
                found = builder.built_commit(ImageTag(tag), self.deliveries) if builder else None
            except ProdfixError:
                found = None
            if found is not None and self.ctx.repo.resolve(found) is None:
                found = None  # a commit this clone has never fetched cannot be compared
            self._asked[tag] = found
        return self._asked[tag]

    def contains(self, tag: str, commit: str) -> bool | None:
        """Whether the image `tag` has `commit` in it; None when its provenance is unknown."""
        built = self.commit_of(tag)
        if built is None:
            return None
        return built == commit or self.ctx.repo.is_ancestor(commit, built)

    def unrecorded(self, tag: str) -> Sha | None:
        """A tag whose commit came from the build system, not yet in the shared map."""
        return None if tag in self.known else self._asked.get(tag)
