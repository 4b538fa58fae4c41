"""Atomic file writes: a temp file next to the target, renamed over it only once it is complete.

A crash, a full disk or an exception while writing never leaves a half-written file and never
changes the file being replaced; the temp file (``.<name>.<random>.tmp``) is removed on failure.

>>> from pathlib import Path
>>> from nodeflow.atomic import atomic_path, write_atomic
>>> write_atomic(Path("graph.msgpack"), data)              # doctest: +SKIP
>>> with atomic_path(Path("gift.acbundle")) as tmp:        # doctest: +SKIP
...     with zipfile.ZipFile(tmp, "w") as z: ...           # renamed over gift.acbundle on success

Permissions: by default the file gets those of the file it replaces, else what a plain ``open()``
gives (0o666 less the umask); pass ``mode=`` for anything else (e.g. 0o600 for private state).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path", "shared_mode", "write_atomic"]


def shared_mode(path: Path) -> int:
    """Permissions for a file written atomically at ``path``: those of the file it replaces, else
    what a plain ``open()`` gives (0o666 less the umask).  ``mkstemp`` alone makes every saved
    graph, bundle and manifest private (0o600), so a graph put in a shared folder could not be read."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask


@contextlib.contextmanager
def atomic_path(path: Path, *, mode: int | None = None) -> Iterator[Path]:
    """Yield a temp file's path next to ``path``; on a clean exit it replaces ``path``.

    Parameters
    ----------
    path : Path
        The file to write; its folder is created if missing.
    mode : int or None
        Permissions of the written file; None: :func:`shared_mode` (the replaced file's, else
        0o666 less the umask).

    On any exception (KeyboardInterrupt included) the temp file is removed, ``path`` is left as it
    was and the exception propagates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            os.fchmod(fd, shared_mode(path) if mode is None else mode)
        finally:
            os.close(fd)
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes, *, fsync: bool = True, mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`); returns ``path``.

    ``fsync`` (default True) flushes the data to disk before the rename, so that after a power
    loss ``path`` holds either the old or the new content, never an empty file.
    """
    path = Path(path)
    with atomic_path(path, mode=mode) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
    return path
