"""Deploy: pin an image tag in every DC folder of the GitOps repository, through a PR.

Never backwards: a DC never moves to a build that lacks something it already runs. Before
planning, each DC's current tags are traced to the delivery commits they were built from; a
tag built from an ancestor of what a DC runs (or from a different line) is refused with exit
3 unless the user asks for it (`deploy --rollback`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prodfix.errors import RuleRefusal
from prodfix.types import Sha
from prodfix.workflow.context import Ctx
from prodfix.workflow.deploy_repo import deploy_branch, folders, image_name, scratch, target_tip
from prodfix.workflow.images import ImageIndex
from prodfix.workflow.ops import Op
from prodfix.workflow.ops_deploy import DeployCommit, DeployOpenPr, DeployPush
from prodfix.workflow.ops_records import RecordImage

if TYPE_CHECKING:
    from prodfix.adapters.gitops.plan import DeployPlan


@dataclass(frozen=True)
class Deploy:
    """What to pin where: one wave of a fix, or a manual deploy."""

    image: str
    tag: str
    dcs: list[str]
    allow_missing: bool = False
    wave: int = -1  # 0-based wave of the workflow; -1: not a wave of the workflow
    waves: int = 1  # how many waves the config has (branch names carry the wave if > 1)

    @property
    def branch(self) -> str:
        return deploy_branch(
            self.image, self.tag, self.wave + 1 if self.waves > 1 and self.wave >= 0 else None
        )


@dataclass(frozen=True)
class DeployFacts:
    deploy: Deploy
    plan: DeployPlan
    target: str
    path_template: str
    fix: str
    remote_branch: str  # the deploy branch on the remote now ("" = absent)
    built: Sha | None  # the delivery commit the tag was built from, when known
    unrecorded: bool  # that commit came from the build system: record it in the shared map
    backwards: tuple[str, ...] = ()  # why a DC would move backwards (refused without rollback)
    unknown: tuple[str, ...] = field(default=())  # tags whose provenance nobody knows


def gather(
    service: Ctx, dctx: Ctx, d: Deploy, *, images: ImageIndex | None, rollback: bool = False
) -> DeployFacts:
    """Fetch the deploy repository, plan at its target tip, trace every tag involved. After a
    look in the same round (`next`), that look's fetch is the one planned on."""
    from prodfix.adapters import records

    cfg = service.cfg
    records.fetch(dctx.repo, dctx.remote, again=False)
    tip = target_tip(dctx, cfg.deploy.target)
    with scratch(dctx.repo, tip, folders(cfg.deploy.path, d.dcs)) as s:
        plan = s.plan(
            path_template=cfg.deploy.path,
            dcs=d.dcs,
            image=d.image,
            tag=d.tag,
            allow_missing=d.allow_missing,
        )
    # As the fetch above left it: a branch that moves before the push is met by its lease
    remote_branch = dctx.repo.resolve(f"refs/remotes/{dctx.remote}/{d.branch}") or ""
    built = images.commit_of(d.tag) if images else None
    backwards: list[str] = []
    unknown: list[str] = []
    for dcp in plan.dcs:
        if dcp.status != "change":
            continue
        for current in (c for c in dcp.current if c and c != d.tag):
            if built is None:
                break  # a tag built outside the build system: nothing to compare it with
            was = images.commit_of(current) if images else None
            if was is None:
                unknown.append(current)
                continue
            if was != built and not service.repo.is_ancestor(was, built):
                backwards.append(
                    f"{dcp.dc} runs {current} (built from {was[:7]}), which {d.tag} "
                    f"(built from {built[:7]}) does not contain"
                )
    facts = DeployFacts(
        deploy=d,
        plan=plan,
        target=cfg.deploy.target,
        path_template=cfg.deploy.path,
        fix=service.fix or "",
        remote_branch=remote_branch,
        built=built,
        unrecorded=bool(images and images.unrecorded(d.tag)),
        backwards=tuple(backwards),
        unknown=tuple(sorted(set(unknown))),
    )
    if facts.backwards and not rollback:
        raise RuleRefusal(
            f"refusing to move back: {'; '.join(facts.backwards)} — a DC never moves to a "
            "build that lacks something it already runs",
            hint=f"deploy a build that contains both (build delivery again: `prodfix next "
            f"--rebuild`), or, to roll back on purpose: `prodfix deploy --tag {d.tag} --rollback`",
        )
    return facts


def plan(f: DeployFacts) -> list[Op]:
    """Pure: commit, push and PR for the DCs that need a change."""
    d = f.deploy
    todo = tuple(f.plan.changed_dcs)
    if not todo or f.plan.errors:
        return []
    spec = (d.branch, f.target, d.image, d.tag, todo, f.path_template, f.fix)
    where = ", ".join(todo)
    title = f"Deploy {image_name(d.image)}:{d.tag} to {where}"
    body = f"Pins `{d.image}:{d.tag}` in {where}" + (f" (prodfix fix `{f.fix}`)" if f.fix else "")
    if f.built:
        body += f".\n\nBuilt from delivery commit {f.built}"
    body += ".\n\nArgo CD deploys it once merged."
    program: list[Op] = []
    if f.built and f.unrecorded:
        program.append(RecordImage(d.tag, f.built))
    return [
        *program,
        DeployCommit(*spec, d.allow_missing),
        DeployPush(*spec, d.allow_missing, f.remote_branch),
        DeployOpenPr(d.branch, f.target, title, body, d.wave),
    ]
