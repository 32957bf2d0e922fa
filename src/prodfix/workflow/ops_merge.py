"""Resolution branches: a real merge started in the work tree, finished by the user on conflicts
— delivery into a branch made from master (a back-merge), or master into a branch made from
delivery (a sync)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from prodfix.errors import ProdfixError
from prodfix.types import BranchName, Sha
from prodfix.workflow.ops import Op, StopForUser, register

if TYPE_CHECKING:
    from prodfix.workflow.context import Ctx


@register
@dataclass(frozen=True)
class MergeForResolution(Op):
    """Start `git merge --no-ff delivery` on the checked-out resolution branch; stop for the
    user on conflicts. On `continue` it commits — refusing while conflict markers remain."""

    delivery: BranchName
    delivery_sha: Sha
    message: str

    what: ClassVar[str] = "back-merge"

    def describe(self) -> str:
        return f"merge {self.delivery} ({self.delivery_sha[:7]}) into the resolution branch"

    def run(self, ctx: Ctx) -> Op | None:
        repo = ctx.repo
        merging = (repo.git_dir() / "MERGE_HEAD").exists()
        if not merging:
            if repo.is_ancestor(self.delivery_sha, "HEAD"):
                return None  # merged before an interruption
            r = repo.git(
                "merge", "--no-ff", "--no-edit", "-m", self.message, self.delivery_sha, check=False
            )
            if r.returncode == 0:
                return None
            if not (repo.git_dir() / "MERGE_HEAD").exists():
                raise ProdfixError(f"git merge failed: {r.stderr.strip()}", hint="see `git status`")
        unmerged = repo.git("diff", "--name-only", "--diff-filter=U").lines
        if unmerged:
            raise StopForUser(
                f"{self.what} conflicts in: {', '.join(unmerged)}",
                hint="edit those files, `git add` them, then `prodfix continue` "
                "(or `prodfix abort` to give up)",
            )
        check = repo.git("diff", "--cached", "--check", check=False)
        if "conflict marker" in check.stdout:
            raise StopForUser(
                "conflict markers are still in the staged files:\n" + check.stdout.strip(),
                hint="remove them, `git add` the files, then `prodfix continue`",
            )
        self.commit(ctx)
        return None

    def commit(self, ctx: Ctx) -> None:
        # The planned message, verbatim: `--no-edit` would keep git's "# Conflicts:" lines.
        ctx.repo.git("commit", "--quiet", "--cleanup=verbatim", "-F", "-", input=self.message)
