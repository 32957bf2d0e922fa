"""Frozen, typed sections of the configuration, built from the flat values `schema.SCHEMA`
validated. Attribute names are the key names with `-` → `_`: `build.fix-job` is
`cfg.build.fix_job` (a test checks that every key has its attribute and back).

The sections are NamedTuples, not frozen dataclasses: every command loads the configuration,
and `check` runs in hooks many times a minute; a frozen dataclass generates six methods with
`exec` when its module is imported and `dataclasses` itself imports `inspect` (≈ 15 ms for
these classes together on a 2-core machine, bench/bench_check_real.py), a NamedTuple one —
at run time prodfix's own (prodfix/tuples.py), so that not even `typing` is imported."""

from __future__ import annotations

from prodfix.config.schema import TEST_DEFAULTS
from prodfix.errors import ConfigError
from prodfix.names import fnmatchcase, template_name
from prodfix.types import BranchName

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any, NamedTuple
else:
    from prodfix.tuples import NamedTuple


class CheckCfg(NamedTuple):
    allow_merges: tuple[str, ...] = ()

    def allowed(self, sha: str) -> bool:
        """Whether the team accepted the merge `sha` (full SHA) after the fact."""
        s = sha.lower()
        return any(s.startswith(a.lower()) for a in self.allow_merges)


class TestCfg(NamedTuple):
    command: str | None = None


TestCfg.__test__ = False  # type: ignore[attr-defined]  # not a pytest class


class ForgeCfg(NamedTuple):
    type: str = "git"
    approvals: int = 1
    api_url: str | None = None
    repo: str | None = None
    insecure_skip_tls_verify: bool = False


class BuildCfg(NamedTuple):
    type: str = "none"
    url: str | None = None
    fix_job: str | None = None
    delivery_job: str | None = None
    command: str | None = None
    image_tag: str = "{delivery}-{build}"
    insecure_skip_tls_verify: bool = False

    @property
    def configured(self) -> bool:
        return self.type != "none"

    @property
    def delivery_job_or_fix_job(self) -> str | None:
        """One job whose to-be-built list holds the fix branches and delivery, by default."""
        return self.delivery_job or self.fix_job


class ArgoCdCfg(NamedTuple):
    url: str | None = None
    app: str = "sre-triggers-{dc}"
    insecure_skip_tls_verify: bool = False

    def app_of(self, dc: str) -> str:
        return self.app.format(dc=dc)


class DeployCfg(NamedTuple):
    repo: str | None = None
    path: str = "apps/sre-triggers/{dc}"
    dcs: tuple[str, ...] = ("us1", "eu1", "ap1")
    waves_: tuple[tuple[str, ...], ...] | None = None
    image: str | None = None
    target: str = "master"
    argocd: ArgoCdCfg = ArgoCdCfg()

    @property
    def configured(self) -> bool:
        return bool(self.repo and self.image)

    @property
    def waves(self) -> list[list[str]]:
        return [list(w) for w in self.waves_] if self.waves_ else [list(self.dcs)]

    @property
    def all_dcs(self) -> list[str]:
        return [d for w in self.waves for d in w]

    def folder(self, dc: str) -> str:
        return self.path.format(dc=dc)


class NotifyCfg(NamedTuple):
    slack_webhook_url_env: str | None = None
    teams_webhook_url_env: str | None = None
    wait_minutes: int = 60


class Config(NamedTuple):
    kind: str = "python"
    mainline: BranchName = BranchName("master")
    delivery: str = "delivery*"
    fix_branch_template: str = "fix/{name}"
    remote: str = "origin"
    max_backmerge_days: int = 7
    check: CheckCfg = CheckCfg()
    test: TestCfg = TestCfg()
    forge: ForgeCfg = ForgeCfg()
    build: BuildCfg = BuildCfg()
    deploy: DeployCfg = DeployCfg()
    notify: NotifyCfg = NotifyCfg()
    source: str | None = None  # the file read; None: defaults only, or the mainline's copy
    note: str = ""  # said once, e.g. "read from origin/master"

    @property
    def test_command(self) -> str:
        return self.test.command or TEST_DEFAULTS[self.kind]

    def fix_branch(self, name: str) -> BranchName:
        return BranchName(self.fix_branch_template.format(name=name))

    def fix_name(self, branch: str) -> str | None:
        """The fix a branch belongs to by the template (`fix/{name}`), or None."""
        return template_name(self.fix_branch_template, branch)

    def is_fix_branch(self, branch: str) -> bool:
        """Named by the fix-branch template (whether or not a fix of that name exists)."""
        return template_name(self.fix_branch_template, branch) is not None

    def is_delivery(self, branch: str) -> bool:
        return fnmatchcase(branch, self.delivery)

    def is_protected(self, branch: str) -> bool:
        """master and delivery: prodfix never rewrites them."""
        return branch == self.mainline or self.is_delivery(branch)

    def missing_mainline(self, branches: Iterable[str] | None = None) -> ConfigError:
        """The error for a remote without the configured mainline: the configuration is
        wrong (exit 2), not the network. `branches`: what the remote has, when known."""
        found = "" if branches is None else f" (branches: {', '.join(sorted(branches)) or 'none'})"
        return ConfigError(
            f"{self.remote} has no mainline branch {self.mainline!r}{found}",
            hint="set `mainline` in .prodfix.toml to the branch new features land on",
        )

    @classmethod
    def from_values(
        cls, values: Mapping[str, Any], *, source: str | None = None, note: str = ""
    ) -> Config:
        def section(kind: type[Any], prefix: str) -> Any:
            kw: dict[str, Any] = {}
            for name in kind._fields:
                key = _KEY_OF.get((prefix, name), f"{prefix}{name.replace('_', '-')}")
                if key in values:
                    kw[name] = _frozen(values[key])
            return kind(**kw)

        deploy = section(DeployCfg, "deploy.")._replace(argocd=section(ArgoCdCfg, "deploy.argocd."))
        return cls(
            kind=str(values["kind"]),
            mainline=BranchName(str(values["mainline"])),
            delivery=str(values["delivery"]),
            fix_branch_template=str(values["fix-branch"]),
            remote=str(values["remote"]),
            max_backmerge_days=int(values["max-backmerge-days"]),
            check=section(CheckCfg, "check."),
            test=section(TestCfg, "test."),
            forge=section(ForgeCfg, "forge."),
            build=section(BuildCfg, "build."),
            deploy=deploy,
            notify=section(NotifyCfg, "notify."),
            source=source,
            note=note,
        )


# Attributes whose name is not the key's last part with `-` → `_`.
_KEY_OF = {("deploy.", "waves_"): "deploy.waves"}


def _frozen(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_frozen(x) for x in v)
    return v
