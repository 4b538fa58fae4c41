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

__all__ = ["limit_blas_threads"]

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
