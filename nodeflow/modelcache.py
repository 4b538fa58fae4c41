"""One process-wide cache of loaded models.

A checkpoint is loaded once per ``(kind, checkpoint, revision, device, dtype)`` and shared by every
node and run that asks for it.  Entries are evicted least-recently-used when the bytes of their
parameters and buffers exceed a budget; a model in use (``with cache.use(...)``) is never evicted
under a running node.  Loading happens outside the cache's lock under a per-key lock, so two nodes
asking for the same checkpoint at the same time load it once, while other checkpoints may load in
parallel (the model layer, ``nodes.models.layer``, loads one at a time: transformers' loading is not
thread-safe).

>>> cache = ModelCache(budget_bytes=1 << 30)
>>> key = ModelKey("demo", "/models/x", "rev1", "cpu", "float32")
>>> cache.get(key, lambda: {"weights": 1}) is cache.get(key, lambda: {"weights": 2})
True
>>> cache.stats()["loads"]
1
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import threading
from collections import OrderedDict
from typing import Any, Callable, Iterator

__all__ = ["ModelKey", "ModelCache", "default_cache", "nbytes_of"]

_DEFAULT_BUDGET_GB = 8.0


@dataclasses.dataclass(frozen=True)
class ModelKey:
    kind: str          # what was loaded: the model family's name (class + companions)
    checkpoint: str    # hub id or local folder
    revision: str      # hub commit hash or a local folder's digest
    device: str
    dtype: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.checkpoint}@{self.revision[:12]} on {self.device}/{self.dtype}"


def nbytes_of(obj: Any, _seen: set[int] | None = None) -> int:
    """Bytes of parameters and buffers of the torch modules in ``obj`` (a module, or a tuple, list,
    dict or dataclass holding modules); 0 for anything else.  Shared tensors count once."""
    seen = _seen if _seen is not None else set()
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.nn.Module):
        total = 0
        for t in list(obj.parameters()) + list(obj.buffers()):
            ptr = t.data_ptr()
            if ptr in seen:
                continue
            seen.add(ptr)
            total += t.numel() * t.element_size()
        return total
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return sum(nbytes_of(getattr(obj, f.name), seen) for f in dataclasses.fields(obj))
    if isinstance(obj, dict):
        return sum(nbytes_of(v, seen) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(nbytes_of(v, seen) for v in obj)
    return 0


@dataclasses.dataclass
class _Entry:
    value: Any
    nbytes: int
    pins: int = 0


class ModelCache:
    """LRU cache of loaded models bounded by ``budget_bytes`` of parameters and buffers.

    A single model larger than the budget still loads (everything unpinned is evicted for it).
    """

    def __init__(self, budget_bytes: int | None = None, *, sizer: Callable[[Any], int] = nbytes_of):
        if budget_bytes is None:
            gb = float(os.environ.get("AUDIOCHAIN_MODEL_CACHE_GB", _DEFAULT_BUDGET_GB))
            budget_bytes = int(gb * (1 << 30))
        self._budget = int(budget_bytes)
        self._sizer = sizer
        self._entries: OrderedDict[ModelKey, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[ModelKey, threading.Lock] = {}
        self._loads: dict[ModelKey, int] = {}
        self._hits = 0
        self._evictions = 0

    # ------------------------------------------------------------------ budget
    @property
    def budget_bytes(self) -> int:
        return self._budget

    @budget_bytes.setter
    def budget_bytes(self, value: int) -> None:
        with self._lock:
            self._budget = int(value)
            dropped = self._evict_locked()
        self._release(dropped)

    # ------------------------------------------------------------------ access
    def get(self, key: ModelKey, loader: Callable[[], Any]) -> Any:
        """The cached value for ``key``, calling ``loader()`` once if it is not loaded."""
        with self.use(key, loader) as value:
            return value

    @contextlib.contextmanager
    def use(self, key: ModelKey, loader: Callable[[], Any]) -> Iterator[Any]:
        """Like :meth:`get`, but the entry stays pinned (never evicted) inside the ``with``."""
        entry = self._acquire(key, loader)
        try:
            yield entry.value
        finally:
            with self._lock:
                entry.pins -= 1
                dropped = self._evict_locked()
            self._release(dropped)

    def _acquire(self, key: ModelKey, loader: Callable[[], Any]) -> _Entry:
        with self._lock:
            entry = self._hit_locked(key)
            if entry is not None:
                return entry
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:  # one loader per key; other keys load in parallel
            with self._lock:
                entry = self._hit_locked(key)
                if entry is not None:
                    return entry
            value = loader()   # may raise: nothing is cached then
            size = int(self._sizer(value))
            with self._lock:
                entry = _Entry(value, size, pins=1)
                self._entries[key] = entry
                self._loads[key] = self._loads.get(key, 0) + 1
                dropped = self._evict_locked()
        self._release(dropped)
        return entry

    def _hit_locked(self, key: ModelKey) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            entry.pins += 1
            self._hits += 1
        return entry

    def _evict_locked(self) -> list[Any]:
        dropped = []
        total = sum(e.nbytes for e in self._entries.values())
        for key in list(self._entries):
            if total <= self._budget:
                break
            entry = self._entries[key]
            if entry.pins > 0:
                continue
            del self._entries[key]
            total -= entry.nbytes
            self._evictions += 1
            dropped.append(entry.value)
        return dropped

    @staticmethod
    def _release(dropped: list[Any]) -> None:
        """Drop evicted models outside the lock and give their GPU memory back."""
        if not dropped:
            return
        dropped.clear()
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()

    # ------------------------------------------------------------------ management
    def unload(self, key: ModelKey) -> bool:
        """Forget ``key`` (a node still using it keeps its reference until it finishes)."""
        with self._lock:
            entry = self._entries.pop(key, None)
        if entry is None:
            return False
        dropped = [entry.value]
        del entry
        self._release(dropped)
        return True

    def clear(self) -> None:
        with self._lock:
            dropped = [e.value for e in self._entries.values()]
            self._entries.clear()
        self._release(dropped)

    def keys(self) -> list[ModelKey]:
        """Loaded keys, least recently used first."""
        with self._lock:
            return list(self._entries)

    def __contains__(self, key: ModelKey) -> bool:
        with self._lock:
            return key in self._entries

    def loads(self, key: ModelKey | None = None) -> int:
        """How many times ``key`` (or any key) was loaded by this cache."""
        with self._lock:
            return self._loads.get(key, 0) if key is not None else sum(self._loads.values())

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"entries": len(self._entries), "bytes": sum(e.nbytes for e in self._entries.values()),
                    "budget_bytes": self._budget, "loads": sum(self._loads.values()), "hits": self._hits,
                    "evictions": self._evictions}


_default: ModelCache | None = None
_default_lock = threading.Lock()


def default_cache() -> ModelCache:
    """The process-wide cache (budget from ``AUDIOCHAIN_MODEL_CACHE_GB``, default 8 GiB)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = ModelCache()
        return _default
