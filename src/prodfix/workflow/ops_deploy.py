"""The deploy program's ops. They run in the *service* repository's program (its run state,
journal and lock: `prodfix continue`/`undo` there finish or reverse a deploy) and reach the
GitOps repository through `deploy_ctx`.

Never a force push: the deploy branch is made on the target tip and recreated when the target
moved before it was pushed; once pushed it only grows (a later run adds a commit on top) until
it is merged: a later deploy of the same tag (a rollback) starts again from the target."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from prodfix.errors import Exit, ProdfixError
from prodfix.workflow.ops import Op, register

if TYPE_CHECKING:
    from prodfix.adapters.gitops.plan import DeployPlan
    from prodfix.workflow.context import Ctx
    from prodfix.workflow.deploy_repo import Scratch


def commit_message(image: str, tag: str, dcs: tuple[str, ...], fix: str) -> str:
    from prodfix.workflow.deploy_repo import image_name

    where = ", ".join(dcs)
    msg = (
        f"Deploy {image_name(image)}:{tag} to {where}\n\nImage: {image}\nTag: {tag}\nDCs: {where}\n"
    )
    return msg + (f"Prodfix-Fix: {fix}\n" if fix else "")


@dataclass(frozen=True)
class _DeploySpec(Op):
    branch: str
    target: str
    image: str
    tag: str
    dcs: tuple[str, ...]
    path_template: str
    fix: str
    allow_missing: bool = False

    def build(self, ctx: Ctx) -> tuple[Ctx, str]:
        """Fetch, then make (or keep) local `branch` = base + the pinning commit; its SHA.

        Base: the pushed branch if there is one (it only grows), else the target tip. A local
        branch whose parent is that base and that pins everything already is kept. The fetch
        is this round's when there was one (the push is leased: a branch that moved since is
        met there); after an interruption, `continue` fetches afresh."""
        from prodfix.adapters import records
        from prodfix.workflow.deploy_repo import deploy_ctx, folders, scratch, target_tip

        dctx = deploy_ctx(ctx)
        repo = dctx.repo
        records.fetch(repo, dctx.remote, again=False)
        tip = target_tip(dctx, self.target)
        pushed = repo.resolve(f"refs/remotes/{dctx.remote}/{self.branch}")
        if pushed and repo.is_ancestor(pushed, tip):
            # Merged before (this tag was deployed once, and later builds since): the branch
            # is spent. A rollback to it starts from the target again — grown on its old base,
            # a merge would keep whatever the target pins now.
            pushed = None
        base = pushed or tip
        ref = f"refs/heads/{self.branch}"
        local = repo.resolve(ref)
        dirs = folders(self.path_template, list(self.dcs))
        if local and local != base and repo.resolve(f"{local}^") == base:
            with scratch(repo, local, dirs) as s:
                if not self._plan(s).changes:
                    return dctx, local  # made before an interruption, on the current base
        with scratch(repo, base, dirs) as s:
            plan = self._plan(s)
            if plan.changes:
                sha = s.commit(plan, commit_message(self.image, self.tag, self.dcs, self.fix))
            elif pushed:
                sha = pushed  # the pushed branch pins it all already
            else:
                raise ProdfixError(
                    f"{self.target} of the deploy repository already pins {self.tag} in "
                    f"{', '.join(self.dcs)}: nothing to push",
                    hint="`prodfix abort` drops this deploy; `prodfix status` shows it as done",
                )
        repo.git("update-ref", ref, sha)
        return dctx, sha

    def _plan(self, s: Scratch) -> DeployPlan:
        plan = s.plan(
            path_template=self.path_template,
            dcs=list(self.dcs),
            image=self.image,
            tag=self.tag,
            allow_missing=self.allow_missing,
        )
        if plan.errors:
            raise ProdfixError(
                "; ".join(e.message for e in plan.errors),
                hint="fix the deploy repository, then `prodfix continue`; or `prodfix abort`",
                code=Exit.FAILED,
            )
        return plan


@register
@dataclass(frozen=True)
class DeployCommit(_DeploySpec):
    """Local branch `branch` in the deploy repository: one commit pinning `tag` in `dcs`."""

    def describe(self) -> str:
        return f"commit {self.image}:{self.tag} for {', '.join(self.dcs)} on {self.branch}"

    def run(self, ctx: Ctx) -> Op | None:
        return DeployDropBranch(self.branch, self.build(ctx)[1], remote=False)


@register
@dataclass(frozen=True)
class DeployPush(_DeploySpec):
    """Push the deploy branch. Re-checks the base first: after an interruption the target may
    have moved, and a branch not pushed yet is then recreated on the new tip."""

    remote_before: str = ""  # the remote branch when the program was planned ("" = absent)

    def describe(self) -> str:
        return f"push {self.branch} to the deploy repository"

    def run(self, ctx: Ctx) -> Op | None:
        dctx, sha = self.build(ctx)
        repo, ref = dctx.repo, f"refs/heads/{self.branch}"
        inverse = None if self.remote_before else DeployDropBranch(self.branch, sha, remote=True)
        # Push on what the plan saw first; only a refusal asks the remote what it holds now
        # (the push itself, made before an interruption, or a branch that moved meanwhile).
        r = repo.push(dctx.remote, f"{sha}:{ref}", leases={ref: self.remote_before or None})
        if r.returncode != 0:
            now = repo.ls_remote(dctx.remote, ref).get(ref, "")
            if now == sha:
                return inverse
            if now and not repo.is_ancestor(now, sha):
                raise ProdfixError(
                    f"remote branch {self.branch} moved to {now[:7]} meanwhile; not overwriting it",
                    hint="`prodfix continue` re-plans on top of it; `prodfix abort` gives up",
                    code=Exit.SERVICE,
                )
            r = repo.push(dctx.remote, f"{sha}:{ref}", leases={ref: now or None})
        if r.returncode != 0:
            raise ProdfixError(
                f"the deploy repository refused the push of {self.branch}: {r.stderr.strip()}",
                hint="someone pushed meanwhile: `prodfix continue` re-plans and pushes again",
                code=Exit.SERVICE,
            )
        repo.git("update-ref", f"refs/remotes/{dctx.remote}/{self.branch}", sha)
        return inverse


@register
@dataclass(frozen=True)
class DeployDropBranch(Op):
    """Undo of a deploy branch: delete it (remotely too with `remote`) if still at `sha`."""

    branch: str
    sha: str
    remote: bool = False

    def describe(self) -> str:
        where = "in the deploy repository and its remote" if self.remote else "locally"
        return f"delete {self.branch} {where} (if still at {self.sha[:7]})"

    def run(self, ctx: Ctx) -> Op | None:
        from prodfix.workflow.deploy_repo import deploy_ctx

        dctx = deploy_ctx(ctx)
        repo, ref = dctx.repo, f"refs/heads/{self.branch}"
        if self.remote:
            now = repo.ls_remote(dctx.remote, ref).get(ref)
            if now is not None and now != self.sha:
                ctx.out.warn(f"remote {self.branch} moved to {now[:7]}: not deleting it")
            elif now is not None:
                r = repo.push(dctx.remote, f":{ref}", leases={ref: self.sha})
                if r.returncode != 0:
                    raise ProdfixError(
                        f"cannot delete remote branch {self.branch}: {r.stderr.strip()}",
                        hint="run `prodfix undo` again; this is safe to retry",
                        code=Exit.SERVICE,
                    )
            repo.git("update-ref", "-d", f"refs/remotes/{dctx.remote}/{self.branch}", check=False)
        if repo.resolve(ref) == self.sha:
            repo.git("update-ref", "-d", ref, self.sha)
        return None


@register
@dataclass(frozen=True)
class DeployOpenPr(Op):
    """Find or open the deploy PR (found again later by its branch name)."""

    head: str
    base: str
    title: str
    body: str
    wave: int = -1  # 0-based wave of the workflow; -1: a manual deploy

    def describe(self) -> str:
        return f"open pull request {self.head} → {self.base} in the deploy repository"

    def run(self, ctx: Ctx) -> Op | None:
        from prodfix.types import BranchName
        from prodfix.workflow.deploy_repo import deploy_ctx

        forge = deploy_ctx(ctx).forge
        pr = forge.find_pr(BranchName(self.head), BranchName(self.base))
        created = pr is None
        if pr is None:
            pr = forge.create_pr(
                BranchName(self.head), BranchName(self.base), self.title, self.body
            )
        ctx.vars["deploy_pr"] = int(pr.number)
        ctx.out.say(f"{'opened' if created else 'found'} deploy PR #{pr.number}: {pr.url}")
        return DeployClosePr(int(pr.number), self.wave) if created else None


@register
@dataclass(frozen=True)
class DeployClosePr(Op):
    number: int
    wave: int = -1

    def describe(self) -> str:
        return f"close deploy pull request #{self.number}"

    def run(self, ctx: Ctx) -> Op | None:
        from prodfix.adapters.forge import PrState
        from prodfix.types import PrNumber
        from prodfix.workflow.deploy_repo import deploy_ctx

        forge = deploy_ctx(ctx).forge
        if forge.get_pr(PrNumber(self.number)).state == PrState.OPEN:
            forge.close(PrNumber(self.number))
        return None


@register
@dataclass(frozen=True)
class DeployMergePr(Op):
    """Merge the approved deploy PR, then ask Argo CD to look at git now. A merge into the
    target cannot be undone by prodfix (it would rewrite what Argo CD deploys)."""

    reversible: ClassVar[bool] = False
    number: int
    expected_head: str
    dcs: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"merge deploy pull request #{self.number}"

    def run(self, ctx: Ctx) -> Op | None:
        from prodfix.adapters.forge import MergeMethod, PrState
        from prodfix.types import PrNumber, Sha
        from prodfix.workflow import argocd_step
        from prodfix.workflow.deploy_repo import deploy_ctx

        forge = deploy_ctx(ctx).forge
        pr = forge.get_pr(PrNumber(self.number))
        if pr.state != PrState.MERGED:
            pr = forge.merge(
                PrNumber(self.number),
                method=MergeMethod.MERGE,
                expected_head=Sha(self.expected_head),
            )
            ctx.out.say(
                f"merged deploy PR #{self.number}"
                + (f" as {pr.merge_commit[:7]}" if pr.merge_commit else "")
            )
        if argocd_step.configured(ctx.cfg):
            argocd_step.refresh_apps(ctx.cfg, list(self.dcs), ctx.out)
        return None
