"""A local git command run to completion without the subprocess module (git.py's `run`).

`prodfix check` runs in hooks and CI jobs many times a minute and answers with a few short git
processes; importing subprocess (threading, selectors, locale, signal) costs about as much as
one of them (bench/bench_check_real.py). `os.posix_spawn` starts git, `select.poll` drains
its stdout and stderr while feeding stdin, so neither pipe can fill and stall it. What
subprocess.run does besides is done here too: the program looked up on the child's PATH, the
caller's inheritable descriptors closed, SIGPIPE restored. The text is what
`subprocess.run(text=True, encoding="utf-8", errors="surrogateescape")` gives: decoded, with
universal newlines (tests/test_spawn.py compares the two). Network operations keep subprocess
(gitproc.communicate): they need a timeout and a process group to kill.
"""

from __future__ import annotations

import os
import select

TYPE_CHECKING = False  # no typing at run time: `check` starts through here (prodfix/tuples.py)
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

_CHUNK = 1 << 16


def run_to_end(
    argv: Sequence[str], cwd: str, input: str | None, env: Mapping[str, str]
) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `argv` run in `cwd`. FileNotFoundError when `cwd` is
    not a directory or the program is not on PATH, as subprocess raises it."""
    if not os.path.isdir(cwd):
        raise FileNotFoundError(2, "No such file or directory", cwd)
    # posix_spawn changes directory only from Python 3.13 on (POSIX_SPAWN_CHDIR is not in
    # 3.11); git's own `-C DIR` does it first, as if started in DIR (git(1), OPTIONS).
    program = _which(argv[0], env.get("PATH", os.defpath))
    argv = [argv[0], "-C", cwd, *argv[1:]]
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    live = {out_r, out_w, err_r, err_w}  # our open descriptors: each closed exactly once
    actions: list[tuple[int, ...] | tuple[int, int, str, int, int]] = [
        (os.POSIX_SPAWN_DUP2, out_w, 1),
        (os.POSIX_SPAWN_DUP2, err_w, 2),
    ]
    in_w = -1
    if input is None:
        actions.append((os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0))
    else:
        in_r, in_w = os.pipe()
        live |= {in_r, in_w}
        actions.append((os.POSIX_SPAWN_DUP2, in_r, 0))
    actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inherited(live)]
    try:
        pid = os.posix_spawn(
            program, argv, dict(env), file_actions=actions, setsigdef=_default_signals()
        )
    except BaseException:
        _close(live, *live)
        raise
    _close(live, *(live - {out_r, err_r, in_w}))  # the child's ends
    try:
        data = (input or "").encode("utf-8", "surrogateescape")
        out, err = _drain(live, out_r, err_r, in_w, data)
        _, status = os.waitpid(pid, 0)
    except BaseException:  # Ctrl-C: leave nothing running, as subprocess.run does
        import signal

        _close(live, *live)
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ChildProcessError, ProcessLookupError):
            pass
        raise
    return os.waitstatus_to_exitcode(status), _text(out), _text(err)


def _inherited(ours: set[int]) -> list[int]:
    """Descriptors above 2 the child would inherit (Python opens its own non-inheritable; these
    came from whoever started prodfix): closed in the child, as subprocess's close_fds does, so
    that a git that leaves a process behind (gc --auto detaches) cannot hold a caller's pipe."""
    try:
        names = os.listdir("/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd")
    except OSError:
        return []
    found: list[int] = []
    for name in names:
        fd = int(name)
        if fd > 2 and fd not in ours:
            try:
                if os.get_inheritable(fd):
                    found.append(fd)
            except OSError:  # the directory listing's own descriptor, closed by now
                pass
    return found


def _default_signals() -> tuple[int, ...]:
    """Signals Python ignores that the child must not (SIGPIPE above all: git and its hooks
    expect to die of it when a reader goes away): subprocess's restore_signals. From
    `_signal`, the C module under `signal`, which would import `enum` to name them."""
    import _signal  # type: ignore[import-not-found]  # (no stubs for the C module)

    names = ("SIGPIPE", "SIGXFZ", "SIGXFSZ")
    return tuple(getattr(_signal, n) for n in names if hasattr(_signal, n))


def _which(name: str, path: str) -> str:
    """The program `name` on the PATH the child gets, as subprocess looks it up (posix_spawnp
    would search the parent's PATH)."""
    if os.sep in name:
        return name
    for d in path.split(os.pathsep):
        candidate = os.path.join(d or os.curdir, name)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    raise FileNotFoundError(2, "No such file or directory", name)


def _drain(live: set[int], out_r: int, err_r: int, in_w: int, data: bytes) -> tuple[bytes, bytes]:
    """Read both pipes to their end while writing `data` to `in_w` (-1: no stdin pipe)."""
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    poller = select.poll()
    for fd in chunks:
        poller.register(fd, select.POLLIN)
    if in_w >= 0:
        if data:
            os.set_blocking(in_w, False)
            poller.register(in_w, select.POLLOUT)
        else:
            _close(live, in_w)
    while live:
        for fd, event in poller.poll():
            if fd == in_w:
                done = bool(event & (select.POLLERR | select.POLLHUP))
                if not done:
                    try:
                        data = data[os.write(fd, data[:_CHUNK]) :]
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:  # git stopped reading: its exit code says why
                        data = b""
                    done = not data
                if done:
                    poller.unregister(fd)
                    _close(live, fd)
                continue
            chunk = os.read(fd, _CHUNK)
            if chunk:
                chunks[fd].append(chunk)
            else:
                poller.unregister(fd)
                _close(live, fd)
    return b"".join(chunks[out_r]), b"".join(chunks[err_r])


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape").replace("\r\n", "\n").replace("\r", "\n")


def _close(live: set[int], *fds: int) -> None:
    """Close those of `fds` still open (a number closed twice may by then be another
    thread's file)."""
    for fd in fds:
        if fd in live:
            live.discard(fd)
            os.close(fd)
