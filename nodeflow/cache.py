"""Content keys and the in-memory output cache.

A node's key is a hash of what determines its output: node type and version, its code
(:func:`code_digest`), its parameters, its fingerprint (e.g. a checkpoint revision), the content of
the files it reads and the keys of the outputs feeding it.  Equal keys mean equal outputs, so identical nodes share one entry and
a parameter change invalidates exactly that node and what depends on it.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import stat
import threading
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any

import msgpack
import numpy as np

from .audio import Audio

__all__ = ["content_key", "node_key", "code_digest", "file_digest", "parts_digest", "file_stamp", "FileStamp", "MemoryCache", "sizeof"]


_SCALARS = frozenset((str, int, float, bool, type(None), bytes))
_NUMBERS = frozenset((int, float, bool, type(None)))


def _str_key(kv: tuple[Any, Any]) -> str:
    return str(kv[0])


def _plain(x: Any) -> Any:
    """``x`` as msgpack-able plain data: dicts as key-sorted ``[key, value]`` pairs, enums by value."""
    t = type(x)
    if t in _SCALARS:           # the common case first: this runs for every value of every node key
        return x
    if t is list or t is tuple:
        return [v if type(v) in _SCALARS else _plain(v) for v in x]
    if isinstance(x, dict):
        return [[str(k), v if type(v) in _SCALARS else _plain(v)] for k, v in sorted(x.items(), key=_str_key)]
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if hasattr(x, "value") and hasattr(x, "name"):  # enums
        return x.value
    if isinstance(x, Path):
        return str(x)
    return x


def content_key(*parts: Any) -> str:
    """Stable hex digest of plain data (dicts are key-sorted)."""
    return hashlib.blake2b(msgpack.packb(_plain(parts), use_bin_type=True), digest_size=20).hexdigest()


def node_key(type_id: str, version: int, params: dict[str, Any], files: dict[str, str], fingerprint: Any,
             upstream: list[tuple[str, str, str]], code: str = "") -> str:
    """A node's content key: the same digest as ``content_key(type_id, version, params, files,
    fingerprint, upstream, code)``, made without walking the ``upstream`` triples (``(port, key,
    port)`` strings, which msgpack writes as arrays just like lists), because every node of every run
    needs one.  ``code`` is the node's :func:`code_digest`.
    """
    doc = [type_id, version, _plain(params), _plain(files) if files else [], _plain(fingerprint), upstream, code]
    return hashlib.blake2b(msgpack.packb(doc, use_bin_type=True), digest_size=20).hexdigest()


_code_lock = threading.Lock()
_code_files: dict[tuple[str, int, int], tuple[str, tuple[tuple[int, str, tuple[str, ...]], ...]]] = {}
_own_code: list[str] = []            # AudioChain's own sources, digested once per process
_pinned: "weakref.WeakKeyDictionary[Any, str]" = weakref.WeakKeyDictionary()   # other node functions' digests


def code_digest(fn: Any) -> str:
    """What identifies a node function's code across processes, so that the disk cache never serves
    a value the code before an edit or an upgrade made (QA: a node changed from x0.5 to x0.25 kept
    giving x0.5 from the cache): for AudioChain's own nodes, every source file of ``nodeflow`` and
    ``nodes`` (helpers included); for any other node, its module's source file and the version of
    the package that installed it.  A node without a source file counts by its bytecode.

    Any other node's digest is taken once per function, when ``@node`` declares it (:func:`pin`): the
    code this process runs, not its file edited since (QA85: a plug-in module edited while a session
    ran keyed its values by the edited file, computed by the code imported before the edit).  A module
    imported again declares new functions, digested again."""
    import inspect
    module = str(getattr(fn, "__module__", "") or "")
    if module.split(".")[0] in ("nodes", "nodeflow"):
        with _code_lock:
            if not _own_code:
                h = hashlib.blake2b(digest_size=10)
                for top in (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent / "nodes"):
                    for f in sorted(top.rglob("*.py")):
                        h.update(f.relative_to(top.parent).as_posix().encode() + b"\0" + f.read_bytes())
                _own_code.append(h.hexdigest())
            return _own_code[0]
    try:
        return _pinned[fn]
    except (KeyError, TypeError):          # not pinned yet, or not weakly referable
        pass
    try:
        source = inspect.getsourcefile(fn)
        if source is None:
            raise TypeError("no source file")
        digest = _local_code(module, source)
    except (TypeError, OSError):
        code = getattr(fn, "__code__", None)
        digest = hashlib.blake2b(repr((code.co_code, code.co_consts)).encode() if code else repr(fn).encode(),
                                 digest_size=10).hexdigest()
    out = f"{digest}:{_package_version(module)}"
    try:
        with _code_lock:
            return _pinned.setdefault(fn, out)
    except TypeError:                      # a callable that takes no weak reference: digested each time
        return out


def pin(fn: Any) -> None:
    """Take the digest of a node function that is not AudioChain's own now, as it is declared (see
    :func:`code_digest`)."""
    if str(getattr(fn, "__module__", "") or "").split(".")[0] not in ("nodes", "nodeflow"):
        code_digest(fn)


def _local_code(module: str, source: str) -> str:
    """A digest of a node module's source and of every module of the user's own it imports, at any
    depth (QA: a node whose module reads ``from helper import FACTOR`` kept its cached values after
    ``helper.py`` changed).  Installed packages and the standard library count by their versions.
    Imports are read from the source (``import x``, ``from .y import z``) and found as files beside
    the importing module or under its top package's folder, never imported and never looked up in
    what this process happens to have imported, so every process (a Ray worker too) computes the same
    digest.  Files count by their module names, not their paths.  Each file is read again only when
    its size or time changes."""
    h = hashlib.blake2b(digest_size=10)
    todo, seen = [(module, source)], set()
    while todo:
        name, path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        digest, imports = _file_code(path)
        h.update(name.encode() + b"\0" + digest.encode())
        for level, target, names in imports:
            for found_name, found in _import_files(name, path, level, target, names):
                if _is_local(found):
                    todo.append((found_name, found))
    return h.hexdigest()


def _file_code(path: str) -> tuple[str, tuple[tuple[int, str, tuple[str, ...]], ...]]:
    """``(digest, imports)`` of a source file, remembered by its size and times."""
    import ast
    st = os.stat(path)
    key = (path, st.st_mtime_ns, st.st_size)
    with _code_lock:          # (ast.parse from threads at once: "AST constructor recursion depth mismatch")
        got = _code_files.get(key)
        if got is None:
            data = Path(path).read_bytes()
            imports: list[tuple[int, str, tuple[str, ...]]] = []
            try:
                for n in ast.walk(ast.parse(data)):
                    if isinstance(n, ast.Import):
                        imports += [(0, a.name, ()) for a in n.names]
                    elif isinstance(n, ast.ImportFrom):
                        imports.append((n.level, n.module or "", tuple(a.name for a in n.names)))
            except (SyntaxError, ValueError):
                pass
            got = _code_files[key] = (hashlib.blake2b(data, digest_size=10).hexdigest(), tuple(imports))
    return got


def _import_files(name: str, path: str, level: int, target: str, names: tuple[str, ...]) -> list[tuple[str, str]]:
    """``(module name, file)`` of the modules an import statement in module ``name`` (file ``path``)
    names, found on disk: relative imports from the module's package folder, absolute ones beside the
    module or under the folder that holds its top package (a ``from m import sub`` submodule too)."""
    here = Path(path).parent
    is_package = Path(path).name == "__init__.py"
    parts = name.split(".")
    depth = len(parts) if is_package else len(parts) - 1        # folders between the top package's and here
    root = here.parents[depth - 1] if 0 < depth <= len(here.parents) else here
    if level:
        package = parts if is_package else parts[:-1]
        if level - 1 > len(package):
            return []
        base_parts = package[:len(package) - (level - 1)] + ([p for p in target.split(".") if p])
        folders = [(root, base_parts)]
    else:
        folders = [(here, target.split(".")), (root, target.split("."))]
    out: list[tuple[str, str]] = []
    for folder, mod in folders:
        for dotted in [mod] + [mod + [n] for n in names if n != "*"]:
            if not dotted:
                continue
            f = folder.joinpath(*dotted)
            for candidate in (f.parent / (f.name + ".py"), f / "__init__.py"):
                if candidate.is_file():
                    label = ".".join(dotted) if folder == root else ".".join((parts if is_package else parts[:-1])
                                                                             + dotted)
                    out.append((label, str(candidate)))
                    break
    return out


@functools.lru_cache(maxsize=None)
def _system_dirs() -> tuple[str, ...]:
    import site
    import sysconfig
    dirs = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    dirs.update(site.getsitepackages() + [site.getusersitepackages()])
    own = Path(__file__).resolve().parent
    dirs.update((str(own), str(own.parent / "nodes")))           # AudioChain's own: in its digest
    return tuple(os.path.realpath(d) + os.sep for d in dirs if d)


def _is_local(path: str) -> bool:
    """A module file of the user's own (not the standard library, an installed package or AudioChain)."""
    return path.endswith(".py") and not os.path.realpath(path).startswith(_system_dirs())


@functools.lru_cache(maxsize=None)
def _package_version(module: str) -> str:
    """The version of the installed distribution that provides ``module`` ('' for none); looked up
    once per process and top-level package (the lookup scans every installed distribution)."""
    import importlib.metadata
    top = module.split(".")[0]
    if top != module:
        return _package_version(top)
    try:
        names = importlib.metadata.packages_distributions().get(top) or []
        return ",".join(f"{n}=={importlib.metadata.version(n)}" for n in sorted(names))
    except Exception:  # noqa: BLE001 - no metadata: the source digest stands alone
        return ""


_digest_lock = threading.Lock()


FileStamp = tuple[str, int, int, int, int]
_digests: dict[FileStamp, str] = {}


def file_stamp(path: object) -> FileStamp | None:
    """What names a regular file's content without reading it: ``(real path, size, modification
    time, inode, change time)``; None when ``path`` is not a path or names no regular file
    (missing, a folder, a FIFO, a device).  :func:`file_digest` memoises on it; the editor keys
    decoded files by it.  The change time is set by the system on every write and cannot be set
    back: a take rewritten at the same length within a file system's timestamp step (FAT, SMB: up
    to 2 s), or with its modification time put back, is read again; a file replaced by a rename
    has another inode."""
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        return None
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return (os.path.realpath(path), st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


def file_digest(path: str | os.PathLike[str]) -> str:
    """Content hash of a file, memoised on its :func:`file_stamp` so unchanged files are read once.

    Only a regular file is read: a FIFO, a device (``/dev/zero`` would be read forever) or a
    folder gets a ``special:`` key at once, never opened; the node that reads it says what is wrong."""
    p = os.fspath(path)
    memo = file_stamp(p)
    if memo is None:
        return _no_file(p)
    with _digest_lock:
        if memo in _digests:
            return _digests[memo]
    h = hashlib.blake2b(digest_size=20)
    try:
        from .safeio import open_regular
        with open_regular(p) as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return f"unreadable:{p}"
    digest = h.hexdigest()
    with _digest_lock:
        _digests[memo] = digest
    return digest


def parts_digest(parts: dict[str, Path]) -> str:
    """Content hash of several files by role (e.g. an adapter's weights and its settings): the same
    bytes under other names or in another folder hash the same (see ``FilePath.content``)."""
    h = hashlib.blake2b(digest_size=20)
    for role in sorted(parts):
        h.update(f"{role}\0{file_digest(parts[role])}\n".encode())
    return "parts:" + h.hexdigest()


def _no_file(p: str) -> str:
    """The key of a path that names no regular file, saying which way; a folder's is its listing
    (:func:`_listing`)."""
    try:
        st = os.stat(p)
    except OSError:
        return f"missing:{p}"
    except ValueError:
        return f"unreadable:{p}"
    if stat.S_ISDIR(st.st_mode):
        return _listing(p)
    return f"special:{stat.S_IFMT(st.st_mode):o}:{p}"


LISTING_MAX = 100_000     # entries of a folder read by a node that its key covers (a stranger's "/" never hangs)


def _listing(folder: str) -> str:
    """What names a folder's content without reading its files: every entry under it (subfolders
    too, links not followed) by its path within the folder and the :func:`file_stamp` parts of a
    file (size, modification and change times, inode), up to :data:`LISTING_MAX` entries (QA: a
    search of a folder of clips served the ranking it made before files were added there)."""
    h = hashlib.blake2b(digest_size=20)
    todo, seen = [""], 0
    while todo and seen < LISTING_MAX:
        rel = todo.pop()
        try:
            with os.scandir(os.path.join(folder, rel)) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as err:
            h.update(f"{rel}\0!{err.errno}\n".encode())
            continue
        for entry in entries[:LISTING_MAX - seen]:
            seen += 1
            name = f"{rel}/{entry.name}" if rel else entry.name
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                h.update(f"{name}\0?\n".encode())
                continue
            h.update(f"{name}\0{stat.S_IFMT(st.st_mode):o}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}\0"
                     f"{st.st_ctime_ns}\n".encode(errors="surrogateescape"))
            if stat.S_ISDIR(st.st_mode):
                todo.append(name)
    return f"folder:{h.hexdigest()}" + ("+" if todo or seen >= LISTING_MAX else "")


def sizeof(value: Any) -> int:
    """Approximate bytes held by a node output."""
    if type(value) in _NUMBERS:
        return 64
    if isinstance(value, Audio):
        return value.nbytes + 256
    if isinstance(value, np.ndarray):
        return value.nbytes + 128
    if isinstance(value, (list, tuple)):
        return 64 + sum(sizeof(v) for v in value)
    if isinstance(value, dict):
        return 64 + sum(sizeof(v) for v in value.values())
    if isinstance(value, (str, bytes)):
        return 64 + len(value)
    return 64


@dataclasses.dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0


class MemoryCache:
    """LRU map from content key to node outputs, bounded by a byte budget (thread-safe)."""

    def __init__(self, budget_bytes: int = 2 << 30):
        self.budget_bytes = int(budget_bytes)
        self.room = self.budget_bytes     # what it may hold now: the budget, or less (see :meth:`hold_at_most`)
        self._items: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.stats = CacheStats()

    def get(self, key: str) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.stats.misses += 1
                return None
            self._items.move_to_end(key)
            self.stats.hits += 1
            return item[0]

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._items

    def put(self, key: str, value: Any) -> bool:
        """Store ``value``; returns False when it alone exceeds the budget (then nothing is stored)."""
        size = sizeof(value)
        if size > min(self.budget_bytes, self.room):
            return False
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, size)
            self._bytes += size
            self._evict()
        return True

    def hold_at_most(self, room: int) -> None:
        """Hold at most ``room`` bytes (never more than the budget) from now on, the least recently used
        values let go first: what a run's estimated peak leaves of the memory limit, so that values kept
        from earlier runs do not take the process past it (QA71: three runs on one executor under a
        3 GiB limit peaked at 3.4 GiB, 1.5 GiB of it kept from the run before)."""
        with self._lock:
            self.room = max(0, int(room))
            self._evict()

    def _evict(self) -> None:
        while self._bytes > min(self.budget_bytes, self.room) and self._items:
            _, (_, s) = self._items.popitem(last=False)
            self._bytes -= s
            self.stats.evictions += 1

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def bytes_used(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)
