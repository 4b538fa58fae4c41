"""The loudness meter's memo: re-exporting the same audio (a cached upstream output, e.g. while a user
tries export settings) need not measure it again (see :meth:`nodes.io._limiter.Mastered._plain`).

The K-weighted chunk energies of the last few arrays are kept, keyed by the array's identity and dropped
when the array is freed.  Audio samples are never changed in place.  The K-weighted copy of the input
(as large as the input) is shared only while a master holds it: kept for as long as its input lives, it
was memory no estimate counts (QA97 D4: three masters of values a run kept held 60 MiB each of it after
they ended, up to 256 MiB a process).
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict, deque

import numpy as np

__all__ = ["Energies", "remembered", "remember"]

Energies = tuple[np.ndarray, "np.ndarray | None"]       # per chunk, the filtered input
_ENERGIES: OrderedDict[int, tuple[weakref.ref, int, tuple[np.ndarray, "weakref.ref | None"]]] = OrderedDict()
_ENERGIES_LOCK = threading.Lock()
_FORGOTTEN: deque[tuple[int, weakref.ref]] = deque()     # entries of freed arrays, to drop under the lock
_ENERGIES_KEPT = 8


def remembered(x: np.ndarray, rate: int) -> Energies | None:
    """The energies kept for the array ``x`` at ``rate`` (and its filtered copy while a master holds it), or None."""
    with _ENERGIES_LOCK:
        _drain_forgotten()
        hit = _ENERGIES.get(id(x))
        if hit is None or hit[0]() is not x or hit[1] != rate:
            return None
        energies, filtered = hit[2]
        kept = filtered() if filtered is not None else None
        if filtered is not None and kept is None:
            return None                     # its filtered copy is gone with the master that made it: again
        _ENERGIES.move_to_end(id(x))
        return energies, kept


def remember(x: np.ndarray, rate: int, energies: Energies) -> None:
    """Keep ``energies`` for the array ``x`` at ``rate`` while ``x`` lives (the filtered copy while its master does)."""
    try:
        ref = weakref.ref(x, lambda _r, key=id(x): _forget(key, _r))
    except TypeError:      # not weak-referenceable (a view of a foreign buffer): do not keep
        return
    filtered = weakref.ref(energies[1]) if energies[1] is not None else None
    with _ENERGIES_LOCK:
        _drain_forgotten()
        _ENERGIES[id(x)] = (ref, rate, (energies[0], filtered))
        _evict()


def _evict() -> None:
    """Keep the last :data:`_ENERGIES_KEPT` entries (called with the lock held)."""
    while len(_ENERGIES) > _ENERGIES_KEPT:
        _ENERGIES.popitem(last=False)


def _forget(key: int, ref: weakref.ref) -> None:
    """An array's weak reference died.  The garbage collector can call this on a thread that holds
    the lock (any allocation under it may collect), so it never waits for the lock: taken, the entry
    goes now; else it goes when the lock is next taken (ci92: an export hung ten minutes here)."""
    _FORGOTTEN.append((key, ref))
    if _ENERGIES_LOCK.acquire(blocking=False):
        try:
            _drain_forgotten()
        finally:
            _ENERGIES_LOCK.release()


def _drain_forgotten() -> None:
    """Drop the entries of arrays freed since (called with the lock held)."""
    while _FORGOTTEN:
        key, ref = _FORGOTTEN.popleft()
        if key in _ENERGIES and _ENERGIES[key][0] is ref:
            del _ENERGIES[key]
