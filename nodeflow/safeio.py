"""Reading files a stranger named: only regular files, never a FIFO, a device or a symlink loop.

A graph file, an input, an embedded-graph audio file or an adapter may be a path that a graph from
elsewhere chose.  ``open()`` on a FIFO blocks until a writer appears, ``/dev/zero`` or
``/dev/urandom`` never end, and a symlink loop fails deep inside a library with ``ELOOP``.  So every
reader first asks :func:`special_file` (an ``os.stat`` and ``S_ISREG``), and where the file could be
swapped between that check and the read, opens it with :func:`open_regular` (``O_NONBLOCK`` so that
opening a FIFO returns at once, then ``fstat`` on the open descriptor).

>>> special_file("/dev/null")
'is a character device, not a regular file'
>>> special_file(__file__) is None
True
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

__all__ = ["same_file", "special_file", "NotRegularFile", "check_regular", "open_regular", "read_regular"]

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


class NotRegularFile(OSError):
    """The path is not a regular file (or cannot be looked at); ``str()`` is the reason, without the path."""


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _why(st: os.stat_result) -> str | None:
    if stat.S_ISREG(st.st_mode):
        return None
    kind = _kind(st.st_mode)
    return f"is {kind}, not a regular file" if kind != "not a regular file" else "is not a regular file"


def _oserror_reason(e: OSError) -> str:
    if e.errno == errno.ELOOP:
        return "is a symlink loop (too many levels of symbolic links)"
    if e.errno == errno.ENOENT:
        return "no such file"
    if e.errno == errno.EACCES:
        return "permission denied"
    if e.errno == errno.ENAMETOOLONG:
        return "file name too long"
    if e.errno == errno.ENOTDIR:
        return "no such file (a part of the path is not a folder)"
    return e.strerror or str(e)


def special_file(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` must not be read (``"is a FIFO (named pipe), not a regular file"``, ``"is a symlink
    loop ..."``, ``"no such file"``...), or None for a regular file.  Follows symlinks; never opens."""
    try:
        st = os.stat(path)
    except OSError as e:
        return _oserror_reason(e)
    except ValueError:      # an embedded NUL byte
        return "is not a valid file name"
    return _why(st)


def check_regular(path: str | os.PathLike[str]) -> os.stat_result:
    """``os.stat(path)`` of a regular file; raises :class:`NotRegularFile` with the reason otherwise."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise NotRegularFile(e.errno, _oserror_reason(e)) from None
    except ValueError:
        raise NotRegularFile(errno.EINVAL, "is not a valid file name") from None
    why = _why(st)
    if why:
        raise NotRegularFile(errno.EINVAL, why)
    return st


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a regular file for reading without ever blocking on a FIFO: stat first, open with
    ``O_NONBLOCK``, then check the open descriptor again (the path may have been swapped)."""
    check_regular(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        raise NotRegularFile(e.errno, _oserror_reason(e)) from None
    try:
        why = _why(os.fstat(fd))
        if why:
            raise NotRegularFile(errno.EINVAL, why)
        if flags & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """At most ``limit + 1`` bytes of a regular file (one more than allowed tells the caller it is too big)."""
    with open_regular(path) as f:
        return f.read(limit + 1)


def same_file(target: str | os.PathLike[str], other: str | os.PathLike[str]) -> bool:
    """``target`` is ``other``, by its resolved path or as the same file on disk (a hard link, an alias)."""
    if os.path.realpath(target) == os.path.realpath(other):        # never raises, a symlink loop too
        return True
    try:
        return Path(target).exists() and os.path.samefile(target, other)
    except (OSError, ValueError):
        return False


def describe(path: str | os.PathLike[str], reason: str) -> str:
    """``"PATH: REASON; only regular files are read"`` (the one line the CLI prints)."""
    tail = "; only regular files are read" if "regular file" in reason or "symlink loop" in reason else ""
    return f"{Path(path)}: {reason}{tail}"
