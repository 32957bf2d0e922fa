"""Real git repositories for tests: bare `origin` in a temp dir, fixed identities and dates.

Never mocks git. Dates advance one minute per commit from a fixed epoch, so SHAs are stable.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

EPOCH = 1_790_000_000  # 2026-09-20T…Z, fixed so SHAs are stable


class Clock:
    def __init__(self, start: int = EPOCH) -> None:
        self.now = start

    def tick(self, seconds: int = 60) -> int:
        self.now += seconds
        return self.now


def git_env(when: int) -> dict[str, str]:
    date = f"@{when} +0000"
    return {
        "GIT_AUTHOR_NAME": "Ada Tester",
        "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Ada Tester",
        "GIT_COMMITTER_EMAIL": "ada@example.com",
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
    }


class Sandbox:
    """A bare origin and working clones. `g(clone, *args)` runs git with the sandbox clock."""

    def __init__(self, root: Path, clock: Clock | None = None) -> None:
        self.root = root
        self.clock = clock or Clock()
        self.origin = root / "origin.git"

    def g(self, cwd: Path, *args: str, check: bool = True, input: str | None = None) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(git_env(self.clock.tick()))
        p = subprocess.run(
            ("git", *args),
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            input=input,
            check=False,
        )
        if check and p.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
        return p.stdout.strip()

    def init_origin(self, main: str = "master") -> Path:
        self.origin.mkdir(parents=True)
        self.g(self.origin, "init", "--bare", "-q", f"--initial-branch={main}")
        return self.origin

    def clone(self, name: str = "work") -> Path:
        dest = self.root / name
        self.g(self.root, "clone", "-q", str(self.origin), str(dest))
        return dest

    def commit(self, cwd: Path, message: str, files: dict[str, str] | None = None) -> str:
        written = files or {path_for(message): message + "\n"}
        for path, content in written.items():
            f = cwd / path
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(content)
        self.g(cwd, "add", "--", *written)
        for _ in range(len(written) - 1):  # the clock as one `add` per file left it: same SHAs
            self.clock.tick()
        self.g(cwd, "commit", "-q", "-m", message)
        return self.head(cwd)

    def merge(self, cwd: Path, branch: str, message: str, *args: str) -> str:
        self.g(cwd, "merge", "-q", "--no-ff", "-m", message, *args, branch)
        return self.head(cwd)

    def head(self, cwd: Path) -> str:
        """`git rev-parse HEAD` (the clock ticks as for any git command), read from the files
        git just wrote in a plain clone: a commit or merge leaves its branch as a loose ref."""
        self.clock.tick()
        git = cwd / ".git"
        try:
            head = (git / "HEAD").read_text().strip()
            sha = (git / head[5:]).read_text().strip() if head.startswith("ref: ") else head
        except OSError:
            sha = ""
        if len(sha) == 40 and not set(sha) - set("0123456789abcdef"):
            return sha
        self.clock.now -= 60
        return self.g(cwd, "rev-parse", "HEAD")

    def push(self, cwd: Path, *refs: str) -> None:
        self.g(cwd, "push", "-q", "origin", *refs)

    def remote_refs(self) -> dict[str, str]:
        """Every ref of origin (`git for-each-ref`, the clock ticking as for it)."""
        return self.refs(self.origin)

    def refs(self, git_dir: Path, prefix: str = "refs/") -> dict[str, str]:
        """refname → object id of `git_dir`'s refs under `prefix`, as `git for-each-ref
        --format='%(refname) %(objectname)' PREFIX` lists them (the clock ticks as for any git
        command), read from the repository's files when it keeps refs in files."""
        found = read_refs(git_dir, prefix)
        if found is not None:
            self.clock.tick()
            return found
        out = self.g(git_dir, "for-each-ref", "--format=%(refname) %(objectname)", prefix)
        return dict(line.split(" ", 1) for line in out.splitlines())

    def checkout(self, cwd: Path, *args: str) -> None:
        self.g(cwd, "checkout", "-q", *args)


@dataclass(frozen=True)
class _Template:
    root: Path
    clock_end: int  # the sandbox clock after seeding: later commits get the dates they would
    configs: tuple[Path, ...]  # every repository's config, relative to root (they hold paths)
    result: Any  # what the seed returned (SHAs, names: nothing that names the template's paths)


_TEMPLATES: dict[tuple[Hashable, int, Path], _Template] = {}
_template_root: Path | None = None


def _templates_dir() -> Path:
    global _template_root
    if _template_root is None:
        _template_root = Path(tempfile.mkdtemp(prefix="prodfix-templates-"))
        atexit.register(shutil.rmtree, _template_root, True)
    return _template_root


def seeded(sb: Sandbox, key: Hashable, seed: Callable[[Sandbox], T]) -> T:
    """Leave in `sb.root` what `seed(sb)` would, and return what it returned: `seed` runs once
    per test process and key, in a template sandbox, and every call copies that (file copies
    instead of tens of git processes). Dates come from the sandbox clock, which starts and ends
    where it would, so the refs, SHAs and files are the same; paths in the repositories' configs
    (remote URLs) are rewritten to the copies. `seed` may only write under its sandbox's root,
    and its result must not name paths there (it is the template's, shared by every copy)."""
    if not sb.origin.is_relative_to(sb.root):
        return seed(sb)  # an origin elsewhere: nothing to copy it with
    origin = sb.origin.relative_to(sb.root)
    full = (key, sb.clock.now, origin)
    template = _TEMPLATES.get(full)
    if template is None:
        tsb = Sandbox(Path(tempfile.mkdtemp(dir=_templates_dir())), Clock(sb.clock.now))
        tsb.origin = tsb.root / origin
        result = seed(tsb)
        configs = tuple(
            p.relative_to(tsb.root)
            for p in tsb.root.rglob("config")
            if p.is_file() and (p.parent / "HEAD").is_file() and (p.parent / "objects").is_dir()
        )
        template = _TEMPLATES[full] = _Template(tsb.root, tsb.clock.now, configs, result)
    shutil.copytree(template.root, sb.root, symlinks=True, dirs_exist_ok=True)
    for rel in template.configs:
        config = sb.root / rel
        config.write_text(config.read_text().replace(str(template.root), str(sb.root)))
    sb.clock.now = template.clock_end
    return template.result  # type: ignore[no-any-return]  # what `seed` returned: a T


def read_refs(git_dir: Path, prefix: str = "refs/") -> dict[str, str] | None:
    """What `git for-each-ref --format='%(refname) %(objectname)' PREFIX` lists for `git_dir`
    (a bare repository or a clone's `.git`), read from git's files instead of a git process:
    `packed-refs`, then the loose refs under `refs/` over them; a symbolic ref as its target's
    object; sorted by name. None when the repository keeps its refs otherwise (reftable), or
    `git_dir` is a clone's work tree (its `.git` is the place to read)."""
    if (git_dir / "reftable").exists() or not (git_dir / "HEAD").is_file():
        return None
    refs: dict[str, str] = {}
    packed = git_dir / "packed-refs"
    if packed.exists():
        for line in packed.read_text().splitlines():
            if line and line[0] not in "#^":
                sha, _, name = line.partition(" ")
                refs[name] = sha
    loose = git_dir / "refs"
    for path in loose.rglob("*"):
        if path.is_file() and not path.name.endswith(".lock"):
            refs[f"refs/{path.relative_to(loose).as_posix()}"] = path.read_text().strip()
    for name, value in list(refs.items()):
        for _ in range(5):  # git follows at most 5 levels of symbolic refs
            if not value.startswith("ref: "):
                break
            value = refs.get(value[5:].strip(), "")
        if value:
            refs[name] = value
        else:
            del refs[name]  # dangling: for-each-ref skips it
    base = prefix.rstrip("/")
    return {
        name: refs[name]
        for name in sorted(refs)
        if not base or name == base or name.startswith(base + "/")
    }


def path_for(message: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in message.lower())[:40] + ".txt"


def lines(text: Iterable[str]) -> str:
    return "".join(f"{t}\n" for t in text)
