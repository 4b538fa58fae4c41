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
from typing import IO, TYPE_CHECKING, Any, Callable

from .errors import NodeflowError

if TYPE_CHECKING:   # node.py imports this module lazily (process=True nodes)
    from .node import Context, NodeSpec

__all__ = ["call_in_worker", "end_all_workers"]

_HEADER = struct.Struct("<Q")
_lock = threading.Lock()
_idle: list[subprocess.Popen[bytes]] = []        # workers waiting for a call
_busy: set[subprocess.Popen[bytes]] = set()      # workers computing a call now
_MAX_IDLE = max(2, os.cpu_count() or 2)


def _send(stream: IO[bytes], obj: Any) -> None:
    _write(stream, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def _write(stream: IO[bytes], data: bytes) -> None:
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def _recv(stream: IO[bytes]) -> Any:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError
    n = _HEADER.unpack(head)[0]
    data = stream.read(n)
    if len(data) < n:
        raise EOFError
    return pickle.loads(data)


_ending_registered = False


def _start() -> subprocess.Popen[bytes]:
    global _ending_registered
    if not _ending_registered:        # workers end (and are reaped) with this process
        import atexit
        atexit.register(end_all_workers)
        _ending_registered = True
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))   # the caller's imports
    return subprocess.Popen([sys.executable, "-m", "nodeflow.worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)


def _take() -> subprocess.Popen[bytes]:
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


def _give_back(proc: subprocess.Popen[bytes], reusable: bool) -> None:
    with _lock:
        _busy.discard(proc)
        if reusable and proc.poll() is None and len(_idle) < _MAX_IDLE:
            _idle.append(proc)
            return
    _end(proc)


def _end(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    _close_pipes(proc)
    try:
        proc.wait(5.0)
    except subprocess.TimeoutExpired:
        pass


def _close_pipes(proc: subprocess.Popen[bytes]) -> None:
    for s in (proc.stdin, proc.stdout):
        if s is None:
            continue
        try:
            s.close()
        except OSError:
            pass


def call_in_worker(fn: Callable[..., Any], args: tuple[Any, ...] = (), *, check: Callable[[], None] | None = None,
                   poll_s: float = 0.02, what: str | None = None,
                   on_progress: Callable[[float, float, str], None] | None = None,
                   on_warning: Callable[[str], None] | None = None) -> Any:
    """``fn(*args)`` computed in a worker process; ``check()`` (e.g. ``ctx.check_cancelled``) runs
    every ``poll_s`` while it works, and whatever it raises ends the worker and propagates.

    ``fn`` must be importable by name (a module-level function).  An exception raised by ``fn`` is
    re-raised here; a worker that dies without answering (killed, out of memory) is a
    :class:`NodeflowError` naming ``what`` and its exit code.  What ``fn`` reports through
    :func:`report_progress` reaches ``on_progress(done, total, message)`` (on a reader thread), and
    a node's ``ctx.warn(message)`` there ``on_warning(message)``.
    """
    if check is not None:
        check()
    call = pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)    # what cannot be sent is raised here
    proc = _take()
    to_worker, from_worker = proc.stdin, proc.stdout
    assert to_worker is not None and from_worker is not None    # _start() opens both as pipes
    reply: list[Any] = []
    done = threading.Event()

    def talk() -> None:
        """Send the call, then read until the answer.  On this thread, not the caller's: a large
        argument fills the pipe until the worker reads it, seconds after a fresh worker starts on a
        busy machine, and ``check()`` must still end it (a stop took 1.02 s, bound 1 s)."""
        try:
            _write(to_worker, call)
        except (OSError, ValueError):
            pass                       # it died, or was ended by check(): reported below, or check() raised
        try:
            while True:
                message = _recv(from_worker)
                if len(message) == 4 and message[0] == "progress":
                    if on_progress is not None:
                        try:
                            on_progress(*message[1:])
                        except Exception:  # noqa: BLE001 - Stop raised by the listener: the poll ends it
                            pass
                    continue
                if len(message) == 2 and message[0] == "warning":
                    if on_warning is not None:
                        on_warning(message[1])
                    continue
                reply.append(message)
                break
        except (EOFError, OSError, pickle.UnpicklingError, ValueError):
            pass
        done.set()

    reusable = False
    try:
        threading.Thread(target=talk, name="nodeflow-worker-call", daemon=True).start()
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


def run_node(spec: NodeSpec, inputs: dict[str, Any], params: dict[str, Any],
             ctx: Context | None = None) -> dict[str, Any]:
    """Run a node declared with ``process=True`` in a worker: ``spec.call_here`` there, with a
    context that knows the run's folders, device and item; its progress comes back to ``ctx``, and
    Stop (``ctx.check_cancelled``) ends the worker."""
    from .node import not_importable
    if why := not_importable(spec.fn):        # a spec made by hand: said before a worker starts
        raise NodeflowError(f"{spec.id}: runs in a worker process, but {why}")
    lite = None
    if ctx is not None:
        lite = dict(node_id=ctx.node_id, base_dir=ctx.base_dir, output_dir=ctx.output_dir, device=ctx.device,
                    protected_files=ctx.protected_files, allow_outside=ctx.allow_outside)
    module = getattr(spec.fn, "__module__", None)
    outputs: dict[str, Any] = call_in_worker(_node_in_worker, (module, spec.id, inputs, params, lite, spec.code),
                          check=ctx.check_cancelled if ctx is not None else None, what=spec.id,
                          on_progress=(lambda d, t, m: ctx.progress(d, t, m)) if ctx is not None else None,
                          on_warning=ctx.warn if ctx is not None else None)
    return outputs


_specs: dict[tuple[str, str], Any] = {}


def _node_in_worker(module: str, type_id: str, inputs: dict[str, Any], params: dict[str, Any],
                    lite: dict[str, Any] | None, code: str = "") -> dict[str, Any]:
    """Worker side of :func:`run_node`: find the node type in its module and call it here, where the code
    it runs is the ``code`` the caller keys its cache by (:attr:`NodeSpec.code`)."""
    import importlib

    from .node import Context, NodeSpec
    spec = _specs.get((module, type_id))
    if spec is None:
        mod = importlib.import_module(module)
        spec = next((v for v in vars(mod).values() if isinstance(v, NodeSpec) and v.id == type_id), None)
        if spec is None:
            raise NodeflowError(f"{type_id}: the worker found no such node in module {module}; a node declared "
                                "with process=True must be a module-level name")
        _specs[(module, type_id)] = spec
    if code and spec.code != code:     # (QA85 D1: edited code's audio was cached under the code before the edit)
        whose = "AudioChain's code" if module.split(".")[0] in ("nodes", "nodeflow") else f"the code of {module}"
        raise NodeflowError(f"{type_id}: {whose} changed since this session started: a new worker process "
                            "runs the edited code, while this session keys its cache by the code it started with; "
                            "restart the session (Python, notebook or editor) to run the edited code")
    ctx = None
    if lite is not None:
        def forward(kind: str, node_id: str, done: float = 0.0, total: float = 0.0, message: str = "", **_: Any) -> None:
            if kind == "progress":      # pieces (ctx.chunk) stay here: the whole output comes back at the end
                report_progress(done, total, message)
            elif kind == "warning" and _reply_to is not None:
                with _reply_lock:
                    _send(_reply_to, ("warning", str(message)))

        ctx = Context(emit=forward, **lite)
    return spec.call_here(inputs, params, ctx)


_reply_to: IO[bytes] | None = None   # the worker's answer stream while a call runs
_reply_lock = threading.Lock()


def report_progress(done: float, total: float, message: str = "") -> None:
    """In a worker: send progress to the caller's ``on_progress`` (elsewhere: nothing)."""
    if _reply_to is not None:
        with _reply_lock:
            _send(_reply_to, ("progress", float(done), float(total), str(message)))


def end_all_workers() -> None:
    """Kill every worker, busy or idle (before ``os._exit``), and reap them, so their CPU time
    counts as this process's children's (what ``time`` and ``RUSAGE_CHILDREN`` report)."""
    with _lock:
        procs = list(_busy) + _idle
        _idle.clear()
    for p in procs:
        try:
            if p.poll() is None:
                p.kill()
        except OSError:
            pass
    for p in procs:
        try:
            p.wait(1.0)
        except (subprocess.TimeoutExpired, OSError):
            pass
        _close_pipes(p)     # (QA47: left open, an interpreter with warnings on said so at exit)


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
    from nodeflow import worker as this   # the module pickled functions name (this file runs as __main__)
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr           # a stray print() must not corrupt the replies
    this._reply_to = out
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
        with this._reply_lock:
            try:
                _send(out, reply)
            except (pickle.PicklingError, TypeError, AttributeError) as e:
                _send(out, (False, NodeflowError(f"{type(reply[1]).__name__}: {reply[1]}" if not reply[0] else
                                                 f"the result does not pickle: {e}")))


if __name__ == "__main__":
    _serve()
