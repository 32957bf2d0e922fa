"""The one commit of a deploy: every DC's files pinned to the new tag, on its own branch."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prodfix.errors import Exit, ProdfixError
from prodfix.workflow.ops import Op, register

if TYPE_CHECKING:
    from prodfix.workflow.context import Ctx


@register
@dataclass(frozen=True)
class DeployCommit(Op):
    """Creates local branch `branch` = target tip + one commit; idempotent: a branch already
    made on the current target tip is reused, one made on an older tip (target moved meanwhile)
    is recreated on the new tip — never rebased by hand, never force-pushed."""

    branch: str
    target: str
    image: str
    tag: str
    dcs: tuple[str, ...]
    path_template: str
    fix: str
    allow_missing: bool = False

    def describe(self) -> str:
        return f"commit {self.image}:{self.tag} for {', '.join(self.dcs)} on {self.branch}"

    def run(self, ctx: Ctx) -> Op | None:
        from prodfix.adapters.gitops.plan import plan_deploy

        repo = ctx.repo
        base = repo.resolve(f"refs/remotes/{ctx.remote}/{self.target}")
        if base is None:
            raise ProdfixError(
                f"the deploy repository has no {ctx.remote}/{self.target}",
                hint="check [deploy] target",
            )
        ref = f"refs/heads/{self.branch}"
        existing = repo.resolve(ref)
        if existing and repo.out("rev-parse", f"{existing}^") == base:
            return None
        with tempfile.TemporaryDirectory(prefix="prodfix-deploy-") as tmp:
            wt = Path(tmp) / "wt"
            repo.git("worktree", "add", "--detach", "--quiet", str(wt), base)
            try:
                plan = plan_deploy(
                    wt,
                    path_template=self.path_template,
                    dcs=list(self.dcs),
                    image=self.image,
                    tag=self.tag,
                    allow_missing=self.allow_missing,
                )
                if plan.errors:
                    raise ProdfixError(
                        "; ".join(e.message for e in plan.errors),
                        hint="fix the deploy repository or pass --allow-missing",
                        code=Exit.FAILED,
                    )
                plan.apply(wt)
                msg = (
                    f"Deploy {self.image}:{self.tag} to {', '.join(self.dcs)}\n\n"
                    f"Image: {self.image}\nTag: {self.tag}\nDCs: {', '.join(self.dcs)}\n"
                    f"Prodfix-Fix: {self.fix}\n"
                )
                repo.git("-C", str(wt), "add", "-A")
                if not repo.git(
                    "-C", str(wt), "diff", "--cached", "--quiet", check=False
                ).returncode:
                    raise ProdfixError(
                        "nothing to change: every DC is already at the tag",
                        hint="`prodfix status` shows the deploy as done",
                    )
                repo.git("-C", str(wt), "commit", "--quiet", "-m", msg)
                sha = repo.out("-C", str(wt), "rev-parse", "HEAD")
            finally:
                repo.git("worktree", "remove", "--force", str(wt), check=False)
        repo.git("update-ref", ref, sha)
        return None
