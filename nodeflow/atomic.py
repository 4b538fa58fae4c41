"""Atomic file writes: a temp file next to the target, renamed over it only once it is complete.

A crash, a full disk or an exception while writing never leaves a half-written file and never
changes the file being replaced; the temp file (``.<name>.<pid>-<random>.tmp``) is removed on
failure.  A process killed mid-write (kill -9, power loss) cannot remove it: the next atomic write
into the same folder does (:func:`remove_stale`: temp files whose writing process is gone).

>>> from pathlib import Path
>>> from nodeflow.atomic import atomic_path, write_atomic
>>> write_atomic(Path("graph.msgpack"), data)              # doctest: +SKIP
>>> with atomic_path(Path("gift.acbundle")) as tmp:        # doctest: +SKIP
...     with zipfile.ZipFile(tmp, "w") as z: ...           # renamed over gift.acbundle on success

Permissions: by default the file gets those of the file it replaces, else what a plain ``open()``
gives (0o666 less the umask); pass ``mode=`` for anything else (e.g. 0o600 for private state).
"""
from __future__ import annotations

import atexit
import contextlib
import errno
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path", "new_temp", "remove_live_temps", "remove_stale", "remove_stale_tree", "shared_mode", "temp_target", "write_atomic",
           "writer_alive", "process_start", "process_space", "process_state"]

_TEMP = re.compile(r"^\.(.+)\.(\d+)-[A-Za-z0-9_]+\.tmp(\.[A-Za-z0-9]+)?$")
_STAGING = re.compile(r"^\.unpack-(\d+)-[0-9a-f]+$")          # a bundle's files before they are placed
_LEGACY = re.compile(r"^\..+\.[0-9a-f]{8}\.(part(\.[A-Za-z0-9]+)?|meta)$")   # temp names of earlier versions
LEGACY_IDLE_S = 600.0      # an old-style temp file untouched this long belongs to no live writer


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


def writer_alive(pid: int, mtime: float) -> bool:
    """Whether process ``pid`` still runs and is the one that wrote a file last modified at ``mtime``
    (a pid reused by a process started later is not, nor one killed whose parent has not reaped it)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:        # another user's live process
        return True
    try:
        if os.stat(f"/proc/{pid}").st_ctime > mtime + 1.0:
            return False
    except OSError:
        return True                # no /proc (not Linux): trust the pid
    return process_state(pid) not in ("Z", "X")      # ended, not yet reaped by its parent


def _stat_fields(pid: int) -> list[bytes]:
    """The fields of /proc/<pid>/stat after the process name (state first), or [] without them."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:        # "pid (name) S ppid ... starttime ..."
            return f.read().rpartition(b")")[2].split()
    except OSError:
        return []


def process_state(pid: int) -> str:
    """The state letter of process ``pid`` (``R``, ``S``, ``T`` stopped, ``Z`` ended but not reaped...)
    from /proc, or '' when it cannot be read."""
    fields = _stat_fields(pid)
    return fields[0].decode("ascii", "replace") if fields else ""


def process_start(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot, from /proc), or '' when it cannot be
    read: with :func:`process_space`, what tells the process from a later one given its pid."""
    fields = _stat_fields(pid)
    return fields[19].decode("ascii", "replace") if len(fields) > 19 else ""


_SPACE: list[str] = []


def process_space() -> str:
    """Which pids this process sees: its pid namespace and the boot it runs in ('' without /proc).
    A pid written by a process in another container sharing a folder, or before a reboot, means
    nothing here."""
    if not _SPACE:
        try:
            ns = os.readlink("/proc/self/ns/pid")
        except OSError:
            ns = ""
        try:
            boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        except OSError:
            boot = ""
        _SPACE.append(f"{ns}/{boot}" if ns or boot else "")
    return _SPACE[0]


def temp_target(name: str) -> str | None:
    """The file name a temp file named ``name`` of an atomic write was to become (``.NAME.<pid>-<random>
    .tmp[.ext]`` -> ``NAME``), or None where ``name`` is no such temp file.

    >>> temp_target(".adapter_model.safetensors.4242-k3j_x9.tmp"), temp_target("take.wav")
    ('adapter_model.safetensors', None)
    """
    m = _TEMP.match(name)
    return m.group(1) if m else None


def remove_stale(folder: Path) -> list[Path]:
    """Remove temp files of atomic writes (and unpack staging folders) in ``folder`` whose writer is
    gone; returns them."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for e in entries:
        m = _TEMP.match(e.name)
        legacy = m is None and _LEGACY.match(e.name)
        staging = _STAGING.match(e.name)
        if staging:
            with contextlib.suppress(OSError):
                st = e.stat(follow_symlinks=False)
                if e.is_dir(follow_symlinks=False) and not writer_alive(int(staging.group(1)), st.st_mtime):
                    shutil.rmtree(e.path)
                    removed.append(Path(e.path))
            continue
        if not (m or legacy):
            continue
        try:
            st = e.stat(follow_symlinks=False)
            if not e.is_file(follow_symlinks=False):
                continue
            stale = (not writer_alive(int(m.group(2)), st.st_mtime)) if m else now - st.st_mtime > LEGACY_IDLE_S
            if stale:
                os.unlink(e.path)
                removed.append(Path(e.path))
        except OSError:
            continue
    return removed


def remove_stale_tree(root: Path) -> list[Path]:
    """:func:`remove_stale` in ``root`` and each folder directly under it (a cache's key-prefix folders)."""
    removed = remove_stale(root)
    try:
        subdirs = [e.path for e in os.scandir(root) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return removed
    for d in subdirs:
        removed += remove_stale(Path(d))
    return removed


_LIVE: set[str] = set()        # temp files this process made (renamed or removed ones are gone from disk)
_LIVE_LOCK = threading.Lock()
_AT_EXIT: list[int] = []       # the pid that registered remove_live_temps (a forked child inherits the set)


def new_temp(path: Path, *, suffix: str = "", mode: int | None = None) -> Path:
    """A new empty temp file beside ``path`` (``.<name>.<pid>-<random>.tmp<suffix>``), after clearing
    the stale temp files of dead writers from that folder; its folder is created if missing.  Those
    still there when the process exits (Ctrl-C while an encoder writes) are removed then
    (:func:`remove_live_temps`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}-", suffix=f".tmp{suffix}", dir=path.parent)
    try:
        os.fchmod(fd, shared_mode(path) if mode is None else mode)
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    os.close(fd)
    with _LIVE_LOCK:
        if os.getpid() not in _AT_EXIT:
            _AT_EXIT.append(os.getpid())
            atexit.register(remove_live_temps)
        if len(_LIVE) > 256:              # forget those renamed into place or removed
            _LIVE.difference_update([t for t in _LIVE if not os.path.lexists(t)])
        _LIVE.add(tmp)
    return Path(tmp)


def remove_live_temps() -> None:
    """Remove this process's temp files that are still there: called at exit, and before an exit that
    skips it (a second Ctrl-C, a node that does not stop), so no partial file outlives the run (QA: an
    mp3 export stopped by Ctrl-C left a 2.6 MB ``.long.mp3.<pid>-<random>.tmp.mp3``)."""
    with _LIVE_LOCK:
        live = [t for t in _LIVE if f".{os.getpid()}-" in os.path.basename(t)]     # this process's own
        _LIVE.clear()
    for tmp in live:
        try:
            os.unlink(tmp)
        except OSError:
            pass


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
    if path.is_dir() and not path.is_symlink():        # (QA63: "adir/.adir.123-x.tmp: Is a directory")
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    try:
        tmp = new_temp(path, mode=mode)
    except OSError as e:
        raise _as_path(e, path) from None
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and e.filename in (str(tmp), tmp):
            raise _as_path(e, path) from None
        raise


def _as_path(e: OSError, path: Path) -> OSError:
    """``e`` naming ``path``, the file the user asked for, where it named the temp file written beside
    it (QA63: "/out/.x.msgpack.18691-r70nbu1t.tmp: the folder is on a read-only file system")."""
    name = e.filename
    if name is not None and Path(name).parent == path.parent and Path(name).name.startswith("."):
        name = str(path)
    if e.errno is None or e.strerror is None:
        e.filename = name
        return e
    return type(e)(e.errno, e.strerror, name)   # without the rename's second name (QA85: "... -> None")


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
