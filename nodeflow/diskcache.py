"""The persistent value cache: node outputs on disk, by content key, shared by every process on a machine.

The in-memory :class:`~nodeflow.cache.MemoryCache` lives as long as one process; this store keeps the
values worth keeping (see :func:`worth_keeping`) across ``audiochain run`` calls, the editor and sweeps,
so changing the last node of a long graph in a new process reruns only that node.

Folder: ``$AUDIOCHAIN_CACHE_DIR``, else ``$XDG_CACHE_HOME/audiochain/values``, else
``~/.cache/audiochain/values``.  Size bound: ``$AUDIOCHAIN_CACHE_GB`` (default 10 GiB); the least
recently used entries go first (a hit touches the entry's mtime).  ``AUDIOCHAIN_CACHE=off`` turns the
store off for ``Executor()``; ``audiochain run --no-cache`` for one run.

An entry is one file ``<folder>/<key[:2]>/<key>.acv``, never a pickle: its layout, and which values it
can hold, are :mod:`nodeflow.cacheentry`'s (:func:`encode`, :func:`decode`).  Its digest covers the
whole entry, so a flipped or truncated one is detected on read, removed and recomputed.  Writes go
through :func:`nodeflow.atomic.atomic_path` (a temp file renamed over the entry), so readers in other
processes see a whole entry or none; no fsync: a torn entry after a power loss fails its digest like
any other corrupt one.
"""
from __future__ import annotations

import dataclasses
import errno
import json
import logging
import math
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from .atomic import atomic_path, remove_stale
from .cacheentry import MAGIC, CorruptEntry, decode, encode     # (MAGIC: it was here)
from .claims import Claims

__all__ = ["DiskCache", "ClearIncomplete", "default_dir", "default_budget_bytes", "enabled_by_default", "worth_keeping",
           "encode", "decode", "CorruptEntry", "PERSIST_MIN_S", "PERSIST_S_PER_MB"]

log = logging.getLogger(__name__)

SUFFIX = ".acv"
DEFAULT_GB = 10.0
PERSIST_MIN_S = 0.1        # a node that computes faster than this is not worth a disk entry...
PERSIST_S_PER_MB = 0.01    # ...nor one that takes less than this per MiB of output (reading back costs ~1-2 ms/MiB)
SAME_AS = "<same as>"     # the one output of a note of which input values made a value: that value's key
NOTE_MAX_BYTES = 1024     # (never a port name); a note is no larger than this, its header names SAME_AS
NOTE_MARK = json.dumps(SAME_AS).encode()


# ---------------------------------------------------------------------------------------- settings
def default_dir() -> Path:
    """``$AUDIOCHAIN_CACHE_DIR``, else ``$XDG_CACHE_HOME/audiochain/values``, else ``~/.cache/audiochain/values``."""
    d = os.environ.get("AUDIOCHAIN_CACHE_DIR")
    if d:
        return Path(d).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "audiochain" / "values"


def default_budget_bytes() -> int:
    """``$AUDIOCHAIN_CACHE_GB`` GiB (default 10); a value that is not a number of GiB, 0 or more, is
    refused in one line as the other limits are (QA: 'foo' was a warning and 10 GiB, -1 silently 0)."""
    raw = os.environ.get("AUDIOCHAIN_CACHE_GB", "").strip()
    try:
        gb = float(raw) if raw else DEFAULT_GB
    except ValueError:
        gb = math.nan
    if not math.isfinite(gb) or gb < 0:
        from .errors import ParameterError
        raise ParameterError(f"AUDIOCHAIN_CACHE_GB={raw!r}: expected a size in GiB, 0 or more (0 keeps nothing on "
                             f"disk; unset: {DEFAULT_GB:g}); fix or unset it")
    return int(gb * (1 << 30))


_OFF, _ON = ("off", "0", "no", "false"), ("on", "1", "yes", "true", "")


def enabled_by_default() -> bool:
    """False when ``$AUDIOCHAIN_CACHE`` is ``off``, ``0``, ``no`` or ``false``; any other word than
    these and ``on``, ``1``, ``yes``, ``true`` is refused in one line (QA: ``disabled`` left the
    cache on), as is an ``$AUDIOCHAIN_CACHE_MIN_S`` that is not a number of seconds."""
    raw = os.environ.get("AUDIOCHAIN_CACHE", "on").strip().lower()
    if raw not in _OFF + _ON:
        from .errors import ParameterError
        raise ParameterError(f"AUDIOCHAIN_CACHE={os.environ['AUDIOCHAIN_CACHE']!r}: expected on or off; fix or unset it")
    _env_float("AUDIOCHAIN_CACHE_MIN_S", PERSIST_MIN_S)
    return raw not in _OFF


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        from .errors import ParameterError
        raise ParameterError(f"{name}={raw!r}: expected a number of seconds, 0 or more (unset: {default:g}); "
                             "fix or unset it")
    return value


def worth_keeping(spec: Any, elapsed_s: float | None, nbytes: int) -> bool:
    """Whether a node's outputs go to disk.

    Exports (side-effect nodes) never; a node declared ``persist=True``/``False`` as it says; model
    nodes (category ``models``) always; any other node when computing it took at least
    ``PERSIST_MIN_S`` (0.1 s) plus ``PERSIST_S_PER_MB`` (0.01 s) per MiB of output, i.e. when it
    costs clearly more than reading the entry back.  ``$AUDIOCHAIN_CACHE_MIN_S`` overrides the floor
    (0: keep every value that can be stored).  A value of a streaming node as big as a run streams
    (:data:`~nodeflow.streaming.STREAM_MIN_BYTES`) is not kept: the next run streams it again in a
    few blocks, where an entry read back is held whole (QA: an hour's resample kept 1.2 GiB on disk,
    and the run that read it back peaked at 1.4-3.8 GiB instead of 127 MiB, no faster).
    """
    if spec.side_effect:
        return False
    persist = getattr(spec, "persist", None)
    if persist is not None:
        return bool(persist)
    if spec.category == "models":
        return True
    if elapsed_s is None:
        return False
    from .streaming import STREAM_MIN_BYTES
    if getattr(spec, "stream", None) is not None and nbytes >= STREAM_MIN_BYTES:
        return False
    from .errors import ParameterError
    try:
        floor = _env_float("AUDIOCHAIN_CACHE_MIN_S", PERSIST_MIN_S)
    except ParameterError:      # refused where the cache is opened (enabled_by_default); never mid-run
        floor = PERSIST_MIN_S
    if floor <= 0:
        return True
    return elapsed_s >= floor + PERSIST_S_PER_MB * nbytes / (1 << 20)



# ---------------------------------------------------------------------------------------- store
@dataclasses.dataclass
class DiskStats:
    hits: int = 0
    misses: int = 0
    writes: int = 0
    corrupt: int = 0
    evictions: int = 0
    write_errors: int = 0


class DiskCache(Claims):
    """Content-addressed, size-bounded (LRU by mtime) store of node outputs in ``folder``.

    Safe across threads and processes: entries appear by atomic rename, readers verify the digest, and
    an entry that vanishes (evicted by another process) is a miss.

    >>> dc = DiskCache("/tmp/values", budget_bytes=1 << 30)    # doctest: +SKIP
    >>> dc.put(key, {"out": audio}, node="dsp.gain"); dc.get(key)["out"]   # doctest: +SKIP
    """

    RESCAN_S = 30.0     # the size of the folder is re-measured this often (other processes write too)

    def __init__(self, folder: str | os.PathLike[str] | None = None, budget_bytes: int | None = None):
        self.folder = Path(folder) if folder is not None else default_dir()
        self.budget_bytes = default_budget_bytes() if budget_bytes is None else int(budget_bytes)
        self.stats = DiskStats()
        self._lock = threading.Lock()
        self._bytes: int | None = None       # size of the folder at the last scan plus what we wrote since
        self._scanned_at = 0.0
        self._swept = False                  # temp files of killed writers: cleared before the first write
        self._broken: set[Path] = set()      # corrupt entries that could not be removed (said once)

    def __repr__(self) -> str:
        return f"<DiskCache {self.folder} budget {self.budget_bytes / (1 << 30):.1f} GiB>"

    def path(self, key: str) -> Path:
        if not key or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"cache key must be lowercase hex; got {key!r}")
        return self.folder / key[:2] / (key + SUFFIX)

    # ------------------------------------------------------------------ get / put
    def get(self, key: str, said: list[str] | None = None,
            before: dict[str, list[str]] | None = None) -> dict[str, Any] | None:
        """The outputs stored under ``key``, or None (missing, or corrupt: then the entry is removed);
        what the node warned of when it made them is appended to ``said`` (and ``before``, see :func:`encode`)."""
        from .safeio import NotRegularFile, open_regular
        p = self.path(key)
        try:    # an entry is a regular file no larger than the budget: a FIFO, a link to /dev/zero or a
            with open_regular(p) as f:           # 40 GB file put there (a shared folder) must not hang a run
                if os.fstat(f.fileno()).st_size > self.budget_bytes:
                    self._over_budget(p)
                    return None
                data = f.read(self.budget_bytes + 1)
            outputs = decode(data, key, said, before)
        except (CorruptEntry, ValueError, OSError) as e:     # ValueError: Audio refused what the header says
            if isinstance(e, OSError) and not (isinstance(e, NotRegularFile) and e.errno == errno.EINVAL):
                self.stats.misses += 1     # not there (or unreadable): a miss; not a file at all: removed
                return None
            self.stats.misses += 1
            kept = ""
            try:
                os.unlink(p)
            except IsADirectoryError:        # a folder where an entry belongs: ours to remove, never followed
                shutil.rmtree(p, ignore_errors=True)
            except OSError as gone:
                kept = gone.strerror or str(gone)
            if p not in self._broken:        # said once a process, also when it cannot be removed (QA: twice)
                self.stats.corrupt += 1
                if kept:                     # (QA85 D3: "removing" was said on every run of a read-only cache)
                    log.warning("value cache: corrupt entry %s: %s; it cannot be removed (%s): computed again; "
                                "make the cache folder writable, or audiochain cache clear", p, e, kept)
                else:
                    log.warning("value cache: removed corrupt entry %s: %s", p, e)
            if os.path.lexists(p):
                self._broken.add(p)
            return None
        try:
            os.utime(p)      # least recently used goes first
        except OSError:
            pass
        self.stats.hits += 1
        return outputs

    def _over_budget(self, p: Path) -> None:
        """An entry larger than the budget (lowered since it was written): a miss, and removed; healthy,
        so not called corrupt (QA: AUDIOCHAIN_CACHE_GB=0 warned of 'corrupt' entries)."""
        self.stats.misses += 1
        try:
            os.unlink(p)
            self.stats.evictions += 1
        except OSError:
            pass

    def __contains__(self, key: str) -> bool:
        return self.path(key).is_file()

    def put(self, key: str, outputs: dict[str, Any], node: str = "", said: list[str] | None = None,
            before: dict[str, list[str]] | None = None) -> bool:
        """Store ``outputs`` (and ``said``, see :func:`encode`); False when a value cannot be stored or
        the entry alone exceeds the budget."""
        chunks = encode(key, outputs, node, said, before)
        if chunks is None:
            return False
        size = sum(len(c) if isinstance(c, bytes) else c.nbytes for c in chunks)
        if size > self.budget_bytes:
            with self._lock:
                over = self._bytes is None or self._bytes > self.budget_bytes
            if over:        # a budget lowered (0: keep nothing) leaves no older entries over it (QA)
                self.evict()
            return False
        p = self.path(key)
        if not self._swept:
            from .atomic import remove_stale_tree
            remove_stale_tree(self.folder)
            self._swept = True
        with self._lock:
            short = self._bytes is None or self._bytes + size > self.budget_bytes
        if short:     # room first: the folder never holds more than its bound, not even while writing (QA71)
            self.evict(max(0, int(self.budget_bytes * 0.9) - size))
        with atomic_path(p) as tmp:
            with open(tmp, "wb") as f:
                for c in chunks:
                    f.write(c)
        self.stats.writes += 1
        with self._lock:
            if self._bytes is not None:
                self._bytes += size
            due = self._bytes is None or self._bytes > self.budget_bytes or \
                time.monotonic() - self._scanned_at > self.RESCAN_S
        if due:
            self.evict()
        return True

    # ------------------------------------------------------------------ size and eviction
    def entries(self) -> list[tuple[float, int, Path]]:
        """``(mtime, size, path)`` of every entry."""
        out: list[tuple[float, int, Path]] = []
        try:
            shards = [e for e in os.scandir(self.folder) if e.is_dir(follow_symlinks=False) and len(e.name) == 2]
        except OSError:
            return out
        for shard in shards:
            try:
                for e in os.scandir(shard.path):
                    if e.name.endswith(SUFFIX) and not e.name.startswith("."):
                        try:
                            st = e.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        out.append((st.st_mtime, st.st_size, Path(e.path)))
            except OSError:
                continue
        return out

    def evict(self, target_bytes: int | None = None) -> int:
        """Remove the least recently used entries until the folder holds at most ``target_bytes``
        (default: the budget, then down to 90% of it so that eviction does not run on every write)."""
        ents = self.entries()
        total = sum(s for _, s, _ in ents)
        removed = 0
        if target_bytes is None:
            target_bytes = int(self.budget_bytes * 0.9) if total > self.budget_bytes else total
        if total > target_bytes:
            for _, size, p in sorted(ents, key=lambda e: e[0]):
                try:
                    os.unlink(p)
                except OSError:
                    continue
                total -= size
                removed += 1
                if total <= target_bytes:
                    break
        with self._lock:
            self._bytes, self._scanned_at = total, time.monotonic()
            self.stats.evictions += removed
        return removed

    def info(self) -> dict[str, Any]:
        """Folder, entry count (and how many are notes of which input values made a value, see
        :meth:`~nodeflow.executor.Executor.remember_by_value`), bytes used and the budget."""
        ents = self.entries()
        notes = 0
        for _, size, p in ents:
            if size <= NOTE_MAX_BYTES:
                try:
                    notes += NOTE_MARK in p.read_bytes()
                except OSError:
                    pass
        return {"folder": str(self.folder), "entries": len(ents), "notes": notes, "bytes": sum(s for _, s, _ in ents),
                "budget_bytes": self.budget_bytes,
                "oldest": min((m for m, _, _ in ents), default=None), "newest": max((m for m, _, _ in ents), default=None)}

    def problem(self) -> str | None:
        """Why no value can be kept here now, in the system's words (the folder cannot be made, or a
        file cannot be written in it: read-only, full, a file in its path), and the fix for that cause;
        None when one can.  Writes and removes one empty probe file."""
        import tempfile
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".probe-", suffix=".tmp", dir=self.folder)
            try:
                os.write(fd, b"\0" * 4096)         # a full disk refuses bytes, not always the file
            finally:
                os.close(fd)
                os.unlink(probe)
        except OSError as e:      # (QA85 D3: "free the disk" was said of a folder it may not write)
            fix = ("free some space on its disk" if e.errno in (errno.ENOSPC, errno.EDQUOT) else
                   "make the folder writable" if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else
                   "the folder cannot be made there")
            return f"{e.strerror or e} ({e.filename or self.folder}); {fix}"
        return None

    def clear(self) -> int:
        """Remove every entry (and temp files of dead writers); returns the number of entries removed.
        Raises :class:`ClearIncomplete` (an OSError) after removing all it can when some could not be
        (a folder this user cannot write)."""
        n, left, first = 0, 0, None
        for _, _, p in self.entries():
            try:
                os.unlink(p)
                n += 1
            except FileNotFoundError:
                pass                        # another process removed it meanwhile
            except OSError as e:
                left, first = left + 1, first or e
        try:
            shards = [Path(e.path) for e in os.scandir(self.folder) if e.is_dir(follow_symlinks=False)]
        except OSError:
            shards = []
        for s in shards:
            remove_stale(s)
            for claim in s.glob(".*.computing"):     # claims no run here would wait on (gone, elsewhere)
                try:
                    if self.holder(claim.name[1:-len(".computing")]) is None:
                        claim.unlink(missing_ok=True)
                except (ValueError, OSError):          # not named by a key: not ours
                    pass
            try:
                s.rmdir()       # only when empty (a live writer's temp file keeps it)
            except OSError:
                pass
        with self._lock:
            self._bytes, self._scanned_at = None, 0.0
        if first is not None:
            raise ClearIncomplete(n, left, first)
        return n


class ClearIncomplete(OSError):
    """:meth:`DiskCache.clear` removed ``removed`` entries and could not remove ``left`` (the first
    error met is the cause: its errno is this one's)."""

    def __init__(self, removed: int, left: int, cause: OSError):
        super().__init__(cause.errno, cause.strerror or str(cause), cause.filename)
        self.removed, self.left = removed, left


def default_cache() -> DiskCache | None:
    """The store ``Executor()`` uses: :func:`default_dir` unless ``AUDIOCHAIN_CACHE=off``."""
    return DiskCache() if enabled_by_default() else None
