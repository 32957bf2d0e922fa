"""`JenkinsBuilder`: the delivery build (trigger, find, poll, image tag) and the fix-job helpers
of `prodfix test --ci` (add/remove the fix branch, scan, build, wait).

Build ids are absolute URLs: a build's URL, or while queued the queue item's URL with the job
path after "#" (Jenkins forgets a queue item 5 minutes after it left the queue — the
`leftItems` cache of core/src/main/java/hudson/model/Queue.java — so the job is needed to find
the build by its queueId later).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from prodfix.adapters import git
from prodfix.adapters.build import Build, BuildState
from prodfix.adapters.build import jenkins_xml as jx
from prodfix.adapters.build.jenkins_client import JenkinsClient, Waiter
from prodfix.config import Config
from prodfix.errors import ProdfixError
from prodfix.types import BranchName, ImageTag, Sha, short

RESULTS = {
    "SUCCESS": BuildState.SUCCESS,
    "UNSTABLE": BuildState.FAILURE,
    "FAILURE": BuildState.FAILURE,
    "NOT_BUILT": BuildState.ABORTED,
    "ABORTED": BuildState.ABORTED,
}
BUILDS_TREE = (
    "builds[number,url,building,result,queueId,actions[lastBuiltRevision[SHA1,branch[name]]]]{0,50}"
)


@dataclass(frozen=True)
class JobEdit:
    """What `add_fix_branch` changed, enough for `undo` to remove exactly that."""

    job: str
    branch: BranchName
    shape: str
    entry: str
    changed: bool
    warnings: tuple[str, ...] = ()

    @property
    def needs_scan(self) -> bool:
        # A config.xml upload does not rescan a multibranch project; only the web form's save
        # does (cloudbees-folder plugin, ComputedFolder.doConfigSubmit).
        return self.changed and self.shape in (jx.Shape.WILDCARD, jx.Shape.REGEX)


class JenkinsBuilder:
    def __init__(
        self,
        client: JenkinsClient,
        *,
        delivery_job: str,
        image_tag: str = "{delivery}-{build}",
        contains: Callable[[Sha, Sha], bool] | None = None,
        waiter: Waiter | None = None,
    ) -> None:
        self.client = client
        self.delivery_job = delivery_job
        self.image_tag_source = image_tag
        # contains(built, wanted): does the built commit include `wanted`? The lead wires git
        # ancestry here; without it only the exact SHA counts.
        self.contains = contains or (lambda built, wanted: built == wanted)
        self.waiter = waiter or Waiter()

    @property
    def name(self) -> str:
        return "jenkins"

    # -- Builder protocol ---------------------------------------------------------------------

    def delivery_build(self, delivery: BranchName, sha: Sha) -> Build | None:
        path = self._branch_path(self.delivery_job, delivery)
        if path is None:
            return None
        return self._find(path, delivery, sha, self.contains)

    def trigger_delivery(self, delivery: BranchName, sha: Sha) -> Build:
        path = self._branch_path(self.delivery_job, delivery)
        if path is None:
            raise ProdfixError(
                f"Jenkins job {self.delivery_job} has no branch job for {delivery}",
                hint=f"run a scan of {self.delivery_job} in Jenkins, then retry",
            )
        return self._trigger(path, sha)

    def poll(self, build: Build) -> Build:
        c = self.client
        if "/queue/item/" in build.id:
            queue_url, _, job_path = build.id.partition("#")
            resp = c._send("GET", c.rel(queue_url) + "api/json", ok=(200, 404))
            if resp.status_code == 404:  # left items expire after 5 minutes (Queue.java)
                return self._by_queue_id(build, job_path, queue_url)
            item = c.http.json(resp)
            if item.get("cancelled"):
                return Build(build.id, BuildState.ABORTED, sha=build.sha)
            executable = item.get("executable")
            if not executable:
                return build
            return self._build_from(c.rel(str(executable["url"])), build.sha)
        return self._build_from(c.rel(build.id), build.sha)

    def built_commit(self, tag: ImageTag, deliveries: Sequence[BranchName] = ()) -> Sha | None:
        """Which commit a successful delivery build published `tag` from: Jenkins' build data
        (the git plugin's lastBuiltRevision) of the builds it still keeps."""
        for delivery in deliveries:
            path = self._branch_path(self.delivery_job, delivery)
            if path is None:
                continue
            tree = (
                "builds[number,url,result,description,"
                "actions[lastBuiltRevision[SHA1,branch[name]],parameters[name,value]]]{0,50}"
            )
            for b in self.client.json(path, tree=tree).get("builds") or []:
                rev, names = _revision(b)
                if b.get("result") != "SUCCESS" or not rev:
                    continue
                if names and not any(_short_branch(n) == delivery for n in names):
                    continue
                try:
                    found = self._image_tag(self.client.rel(str(b["url"])), b, names, Sha(rev))
                except ProdfixError:
                    continue
                if found == tag:
                    return Sha(rev)
        return None

    # -- fix job (prodfix test --ci) ----------------------------------------------------------

    def add_fix_branch(self, job: str, branch: BranchName) -> JobEdit:
        path = self.client.job_path(job)
        edit = jx.add_branch(self.client.config(path), branch)
        if edit.changed:
            self.client.set_config(path, edit.xml)
        return JobEdit(job, branch, edit.shape, edit.entry, edit.changed, edit.warnings)

    def remove_fix_branch(self, job: str, branch: BranchName) -> JobEdit:
        """Undo: re-read the current config and remove only our entry (others may have been
        added since)."""
        path = self.client.job_path(job)
        edit = jx.remove_branch(self.client.config(path), branch)
        if edit.changed:
            self.client.set_config(path, edit.xml)
        return JobEdit(job, branch, edit.shape, edit.entry, edit.changed, edit.warnings)

    def scan_multibranch(self, job: str) -> None:
        self.client.scan(self.client.job_path(job))

    def find_branch_build(self, job: str, branch: BranchName, sha: Sha) -> Build | None:
        path = self._branch_path(job, branch)
        return None if path is None else self._find(path, branch, sha, lambda a, b: a == b)

    def trigger_branch_build(self, job: str, branch: BranchName, sha: Sha) -> Build:
        """The build of `sha` if one exists (a scan builds a newly found branch by itself:
        branch-api's MultiBranchProject.isAutomaticBuild), else a new one. For a Git branch-list
        job Jenkins builds the oldest unbuilt head of all its branches (git plugin,
        DefaultBuildChooser): the caller compares the finished build's `sha` with the one it
        wanted."""
        found = self.find_branch_build(job, branch, sha)
        if found is not None:
            return found
        path = self._wait_branch_job(job, branch)
        return self._trigger(path, sha)

    def wait(
        self,
        build: Build,
        *,
        timeout: float | None = None,
        interval: float | None = None,
        on_tick: Callable[[Build], None] | None = None,
    ) -> Build:
        """Poll until finished or `timeout` seconds passed; returns the last observed Build
        (unfinished on timeout: the caller reports "still running")."""
        w = self.waiter
        deadline = w.clock() + (w.timeout if timeout is None else timeout)
        step = w.interval if interval is None else interval
        while True:
            build = self.poll(build)
            if on_tick:
                on_tick(build)
            if build.state.finished or w.clock() >= deadline:
                return build
            w.sleep(step)

    # -- internals ----------------------------------------------------------------------------

    def _kind(self, job_path: str) -> dict[str, Any]:
        return self.client.json(
            job_path, tree="_class,jobs[name],property[parameterDefinitions[name]]"
        )

    def _branch_path(self, job: str, branch: str) -> str | None:
        path = self.client.job_path(job)
        info = self._kind(path)
        if "MultiBranch" in str(info.get("_class", "")) or "jobs" in info:
            return self.client.branch_job(path, branch)
        return path

    def _wait_branch_job(self, job: str, branch: BranchName) -> str:
        w = self.waiter
        deadline = w.clock() + w.timeout
        while (path := self._branch_path(job, branch)) is None:
            if w.clock() >= deadline:
                raise ProdfixError(
                    f"Jenkins job {job} has no branch job for {branch} after the scan",
                    hint="check that the branch is pushed and matches the job's branch filter",
                )
            w.sleep(w.interval)
        return path

    def _trigger(self, path: str, sha: Sha) -> Build:
        info = self._kind(path)
        defs = [
            d for p in info.get("property") or [] for d in (p.get("parameterDefinitions") or [])
        ]
        # A parameterized job is triggered with its defaults (buildWithParameters).
        params: dict[str, str] | None = {} if defs else None
        queue = self.client.trigger(path, params)
        return Build(f"{self.client.absolute(queue)}#{path}", BuildState.QUEUED, sha=sha)

    def _find(
        self, path: str, branch: str, sha: Sha, match: Callable[[Sha, Sha], bool]
    ) -> Build | None:
        for b in self.client.json(path, tree=BUILDS_TREE).get("builds") or []:
            rev, names = _revision(b)
            if names and not any(_short_branch(n) == branch for n in names):
                continue  # a Git branch-list job also builds other branches
            if rev and (rev == sha or match(Sha(rev), sha)):
                return self._build_from(self.client.rel(str(b["url"])), sha)
        return None

    def _by_queue_id(self, build: Build, job_path: str, queue_url: str) -> Build:
        qid = int(queue_url.rstrip("/").rsplit("/", 1)[-1])
        for b in self.client.json(job_path, tree="builds[number,url,queueId]").get("builds") or []:
            if b.get("queueId") == qid:
                return self._build_from(self.client.rel(str(b["url"])), build.sha)
        return Build(build.id, BuildState.ABORTED, sha=build.sha)

    def _build_from(self, build_path: str, wanted: Sha | None) -> Build:
        info = self.client.json(build_path)
        state = (
            BuildState.RUNNING
            if info.get("building")
            else RESULTS.get(str(info.get("result")), BuildState.RUNNING)
        )
        rev, names = _revision(info)
        sha = Sha(rev) if rev else wanted
        tail = self.client.console_tail(build_path) if state is BuildState.FAILURE else ""
        tag = self._image_tag(build_path, info, names, sha) if state is BuildState.SUCCESS else None
        url = self.client.absolute(build_path)
        stamp = info.get("timestamp")  # milliseconds since the epoch
        return Build(
            url,
            state,
            sha=sha,
            number=info.get("number"),
            url=url,
            image_tag=tag,
            console_tail=tail,
            started_at=_iso(stamp / 1000) if isinstance(stamp, int | float) else None,
        )

    def _image_tag(
        self, build_path: str, info: Mapping[str, Any], names: list[str], sha: Sha | None
    ) -> ImageTag:
        src = self.image_tag_source
        number = info.get("number")
        where = f"Jenkins build #{number} ({self.client.absolute(build_path)})"
        value: str | None
        if src.startswith("param:"):
            key = src.removeprefix("param:")
            value = _params(info).get(key)
            if value is None:
                value = self.client.env_vars(build_path).get(key)
        elif src == "description":
            value = str(info.get("description") or "").strip() or None
        elif src.startswith("artifact:"):
            text = self.client.artifact(build_path, src.removeprefix("artifact:"))
            value = next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), None)
        else:
            branch = _short_branch(names[0]) if names else _branch_from_path(build_path)
            value = src.format(delivery=branch, build=number, sha=sha or "", short=short(sha or ""))
        if not value:
            raise ProdfixError(
                f"{where} succeeded but has no image tag from {src!r}",
                hint="check build.image-tag (param:NAME, description, artifact:PATH or a "
                "template) against what the job publishes",
            )
        return ImageTag(value)


def _revision(build: Mapping[str, Any]) -> tuple[str | None, list[str]]:
    """The git plugin's BuildData (`lastBuiltRevision`): built SHA and branch names."""
    for action in build.get("actions") or []:
        rev = (action or {}).get("lastBuiltRevision")
        if rev:
            return rev.get("SHA1"), [str(b.get("name")) for b in rev.get("branch") or []]
    return None, []


def _params(build: Mapping[str, Any]) -> dict[str, str]:
    return {
        str(p["name"]): str(p.get("value"))
        for action in build.get("actions") or []
        for p in (action or {}).get("parameters") or []
        if "name" in p
    }


def _short_branch(name: str) -> str:
    for prefix in ("refs/remotes/origin/", "refs/heads/", "origin/"):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _branch_from_path(build_path: str) -> str:
    """job/MB/job/fix%252Fx/7/ → fix/x (the URL encodes the NameEncoder'd item name)."""
    parts = build_path.strip("/").split("/")
    return unquote(unquote(parts[-2])) if len(parts) >= 2 else ""


def make_jenkins_builder(repo: git.Repo, cfg: Config) -> JenkinsBuilder:
    """The builder for `build.type = "jenkins"` (called by `build.factory`)."""
    url, job = cfg.build.url, cfg.build.delivery_job_or_fix_job
    if not url or not job:
        raise ProdfixError(
            "build.type = jenkins needs build.url and build.fix-job (or build.delivery-job)",
            hint="set them in the [build] table of .prodfix.toml (docs/configuration.md lists every key)",
        )
    client = JenkinsClient.from_env(str(url), verify=not cfg.build.insecure_skip_tls_verify)

    def contains(built: Sha, wanted: Sha) -> bool:
        # A build of a later delivery commit ships the fix too; unknown SHAs (not fetched) don't.
        return repo.resolve(built) is not None and repo.is_ancestor(wanted, built)

    return JenkinsBuilder(
        client, delivery_job=str(job), image_tag=str(cfg.build.image_tag), contains=contains
    )


def _iso(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
