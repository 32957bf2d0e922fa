"""Writing a file so that a crash leaves the old or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


def write_atomic(
    path: Path, data: bytes | str, *, mode: int | None = None, durable: bool = True
) -> None:
    """Replace (or create) `path` with `data`: a temp file in the same folder, fsync,
    `os.replace`, then fsync the folder so the rename itself is durable where the system
    allows. `mode`: the new file's permissions; default: the old file's, else 0644 minus umask
    (use 0o600 for anything private). `durable=False` skips both fsyncs, for a cache: still
    the old file or the new one to any other process, and one that a power cut damages is
    ignored and rebuilt by its reader (two disk flushes per write saved, every command)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if mode is None and path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o644 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if not durable:
        return
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
