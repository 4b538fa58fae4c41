"""Run one call in a worker process that a cancelled run can end at once.

Some work cannot look at the cancel flag while it runs: a one-shot call into a C library (Rubber
Band through ``pedalboard.time_stretch``) returns only when it is done.  :func:`call_in_worker` runs
such a call in a worker process, checks for cancellation while it waits (every ``poll_s``), and
kills the worker as soon as the check raises.  The result is exactly what the call returns in
process; the function (by name), its arguments and its result travel pickled over pipes.

Workers are plain ``python -m nodeflow.worker`` processes (not ``multiprocessing``: its spawn and
forkserver methods re-run the caller's main script, which breaks scripts without a
``if __name__ == "__main__"`` guard, and ``fork`` is unsafe in a process running threads).  A worker
serves call after call and keeps its imports, so only the first call of a process pays the start
(about 0.3 s with numpy and pedalboard); a killed worker is simply replaced by the next call.
A worker ignores Ctrl-C (the parent decides: Ctrl-C cancels the run, and the run ends the worker)
and exits when its parent is gone (``kill -9``, ``os._exit``).

>>> call_in_worker(divmod, (7, 2))                       # doctest: +SKIP
(3, 1)
"""
from __future__ import annotations

import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import time
from typing import Any, Callable

from .errors import NodeflowError

__all__ = ["call_in_worker", "end_all_workers"]

_HEADER = struct.Struct("<Q")
_lock = threading.Lock()
_idle: list[subprocess.Popen] = []        # workers waiting for a call
_busy: set[subprocess.Popen] = set()      # workers computing a call now
_MAX_IDLE = max(2, os.cpu_count() or 2)


def _send(stream, obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def _recv(stream) -> Any:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError
    n = _HEADER.unpack(head)[0]
    data = stream.read(n)
    if len(data) < n:
        raise EOFError
    return pickle.loads(data)


def _start() -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))   # the caller's imports
    return subprocess.Popen([sys.executable, "-m", "nodeflow.worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)


def _take() -> subprocess.Popen:
    with _lock:
        while _idle:
            proc = _idle.pop()
            if proc.poll() is None:
                _busy.add(proc)
                return proc
    proc = _start()
    with _lock:
        _busy.add(proc)
    return proc


def _give_back(proc: subprocess.Popen, reusable: bool) -> None:
    with _lock:
        _busy.discard(proc)
        if reusable and proc.poll() is None and len(_idle) < _MAX_IDLE:
            _idle.append(proc)
            return
    _end(proc)


def _end(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    for s in (proc.stdin, proc.stdout):
        try:
            s.close()
        except OSError:
            pass
    try:
        proc.wait(5.0)
    except subprocess.TimeoutExpired:
        pass


def call_in_worker(fn: Callable[..., Any], args: tuple = (), *, check: Callable[[], None] | None = None,
                   poll_s: float = 0.02, what: str | None = None) -> Any:
    """``fn(*args)`` computed in a worker process; ``check()`` (e.g. ``ctx.check_cancelled``) runs
    every ``poll_s`` while it works, and whatever it raises ends the worker and propagates.

    ``fn`` must be importable by name (a module-level function).  An exception raised by ``fn`` is
    re-raised here; a worker that dies without answering (killed, out of memory) is a
    :class:`NodeflowError` naming ``what`` and its exit code.
    """
    if check is not None:
        check()
    proc = _take()
    reply: list[Any] = []
    done = threading.Event()

    def read() -> None:
        try:
            reply.append(_recv(proc.stdout))
        except (EOFError, OSError, pickle.UnpicklingError, ValueError):
            pass
        done.set()

    reusable = False
    try:
        try:
            _send(proc.stdin, (fn, args))
        except (BrokenPipeError, OSError):
            pass                       # it died; reported below as a worker without a result
        threading.Thread(target=read, name="nodeflow-worker-reply", daemon=True).start()
        while not done.wait(poll_s):
            if check is not None:
                check()
        if not reply:
            code = proc.wait(5.0) if proc.poll() is None else proc.returncode
            raise NodeflowError(f"{what or fn.__name__}: the worker process ended without a result "
                                f"(exit code {code}); it may have run out of memory")
        reusable = True
        ok, value = reply[0]
        if not ok:
            raise value
        return value
    finally:
        _give_back(proc, reusable)


def end_all_workers() -> None:
    """Kill every worker, busy or idle (before ``os._exit``)."""
    with _lock:
        procs = list(_busy) + _idle
        _idle.clear()
    for p in procs:
        try:
            if p.poll() is None:
                p.kill()
        except OSError:
            pass


# ---------------------------------------------------------------------------------------- the worker side
def _watch_parent(ppid: int) -> None:
    while True:
        time.sleep(0.2)
        if os.getppid() != ppid:
            os._exit(1)


def _serve() -> None:
    """The worker's loop: read ``(fn, args)``, answer ``(ok, value)``, until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr           # a stray print() must not corrupt the replies
    while True:
        try:
            head = inp.read(_HEADER.size)
            if len(head) < _HEADER.size:
                return
            data = inp.read(_HEADER.unpack(head)[0])
            fn, args = pickle.loads(data)
        except EOFError:
            return
        except Exception as e:  # noqa: BLE001 - e.g. fn's module does not import here
            _send(out, (False, NodeflowError(f"worker could not read the call: {type(e).__name__}: {e}")))
            continue
        try:
            reply = (True, fn(*args))
        except BaseException as e:  # noqa: BLE001 - handed to the parent, which re-raises it
            reply = (False, e)
        try:
            _send(out, reply)
        except (pickle.PicklingError, TypeError, AttributeError) as e:
            _send(out, (False, NodeflowError(f"{type(reply[1]).__name__}: {reply[1]}" if not reply[0] else
                                             f"the result does not pickle: {e}")))


if __name__ == "__main__":
    _serve()
