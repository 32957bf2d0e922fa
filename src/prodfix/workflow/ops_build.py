"""Triggering the delivery build and remembering which build it was."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from prodfix.adapters.build import BuildState
from prodfix.errors import ProdfixError
from prodfix.types import BranchName, Sha
from prodfix.workflow.ops import Op, register

if TYPE_CHECKING:
    from prodfix.workflow.context import Ctx


@register
@dataclass(frozen=True)
class TriggerBuild(Op):
    """A build cannot be undone (an image may already be published): say so, never pretend."""

    reversible: ClassVar[bool] = False
    delivery: BranchName
    sha: Sha
    again: bool = False  # `next --rebuild`: a new build even though one of this commit failed

    def describe(self) -> str:
        return f"build {self.delivery} at {self.sha[:7]}"

    def run(self, ctx: Ctx) -> Op | None:
        builder = ctx.builder
        if builder is None:
            raise ProdfixError("no [build] configured", hint="set [build] type in .prodfix.toml")
        existing = builder.delivery_build(BranchName(self.delivery), Sha(self.sha))
        if (
            existing is not None
            and self.again
            and existing.state.finished
            and (existing.state is not BuildState.SUCCESS)
        ):
            existing = None
        build = existing or builder.trigger_delivery(BranchName(self.delivery), Sha(self.sha))
        if ctx.fix and not build.state.finished:
            # CI may not list a queued build yet: this clone keeps its id to look it up.
            ctx.store.set_ident(ctx.fix, ctx.path, "build", build.id)
        if build.state.finished and build.state.value != "success":
            # A failed build is a result the reconciler shows as a failed step, not a suspension.
            ctx.out.error(
                f"{builder.name}: build {build.id} {build.state.value}"
                + (f" ({build.url})" if build.url else ""),
                "fix the build on the delivery branch, or retry it: `prodfix next --rebuild`",
            )
            if build.console_tail:
                ctx.out.info(build.console_tail)
            return None
        ctx.out.say(
            f"build {build.id}: {build.state.value}"
            + (f", image tag {build.image_tag}" if build.image_tag else "")
        )
        return None
