"""One thread per numpy matrix product inside a run.

The engine runs nodes side by side (threads, worker processes, concurrent sweep variants), and
the meters and filters of the node library are numpy matrix products of a few MB each
(``nodes/io/_loudness``).  numpy's OpenBLAS would split each product over every core and then
keep its threads spinning: next to the engine's own threads that doubled the CPU time of an export
and made it 2.5x slower in wall time on 2 busy cores (``bench/bench_cache.py``).  So a run limits
the BLAS numpy uses to one thread, once per process, through ``threadpoolctl`` (torch keeps its own
thread pool, set by the model nodes).  ``AUDIOCHAIN_BLAS_THREADS`` overrides the count (``0``:
leave BLAS alone).
"""
from __future__ import annotations

import os
import threading
from typing import Any

__all__ = ["limit_blas_threads", "give_back_memory", "TRIM_AFTER_BYTES"]

_done = False
_lock = threading.Lock()


def limit_blas_threads() -> None:
    """Limit numpy's BLAS to ``AUDIOCHAIN_BLAS_THREADS`` threads (default 1), once per process."""
    global _done
    if _done:
        return
    with _lock:
        if _done:
            return
        _done = True
        raw = os.environ.get("AUDIOCHAIN_BLAS_THREADS", "1").strip() or "1"
        try:
            count = int(raw)
        except ValueError:
            count = 1
        if count <= 0:
            return
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:        # an older install without it: BLAS keeps its threads
            return
        threadpool_limits(count, user_api="blas")


TRIM_AFTER_BYTES = 16 << 20      # a unit whose estimated working buffers reach this gives them back when it ends
_trim: list[Any] = []            # glibc's malloc_trim once looked up ([None] elsewhere)


def give_back_memory() -> None:
    """Hand the memory freed by a node's working buffers back to the system.  glibc keeps what a thread
    freed in that thread's arena, and the engine's nodes run on several worker threads: three masters
    run one after another under a memory limit took 682 MiB, each on its own thread, 578 MiB with one
    arena (QA97 D4).  ``malloc_trim`` gives the free pages of every arena back; elsewhere (another C
    library, macOS, Windows) this does nothing."""
    if not _trim:
        try:
            import ctypes
            _trim.append(ctypes.CDLL("libc.so.6").malloc_trim)
        except (OSError, AttributeError):
            _trim.append(None)
    if _trim[0] is not None:
        _trim[0](0)
