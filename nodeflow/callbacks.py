"""Callback handlers: the run's events as methods, the way LangChain's handlers work.

A handler is any callable taking an :class:`~nodeflow.executor.Event`; :class:`CallbackHandler`
turns each kind into a method (``on_started``, ``on_progress``, ``on_failed``...) so a subclass
overrides only what it needs.  Two are ready: :class:`LoggingHandler` (through :mod:`logging`) and
:class:`TraceHandler`, which writes a trace file a user can attach to a bug report: one JSON line
per event with its time, plus what the machine runs, and no private paths.

>>> from nodeflow.callbacks import CallbackHandler
>>> class Finished(CallbackHandler):
...     def __init__(self):
...         self.nodes = []
...     def on_finished(self, event):
...         self.nodes.append(event.node_id)
>>> done = Finished()
>>> Executor().run(graph, on_event=done)        # doctest: +SKIP
>>> Executor().run(graph, on_event=handlers(done, LoggingHandler()))   # several at once  # doctest: +SKIP
"""
from __future__ import annotations

import json
import logging
import os
import platform
import re
import sys
import threading
import time
import traceback
import weakref
from pathlib import Path
from typing import IO, Any, Callable, Iterable

__all__ = ["CallbackHandler", "LoggingHandler", "TraceHandler", "handlers", "scrub"]

KINDS = ("queued", "started", "progress", "chunk", "warning", "cached", "finished", "failed", "cancelled", "skipped")


class CallbackHandler:
    """Base class: ``handler(event)`` calls ``on_<kind>(event)``; every method does nothing here."""

    def __call__(self, event: Any) -> None:
        getattr(self, f"on_{event.kind}", self.on_event)(event)

    def on_event(self, event: Any) -> None:
        """An event of a kind this class has no method for (future kinds land here)."""

    def on_queued(self, event: Any) -> None: ...
    def on_started(self, event: Any) -> None: ...
    def on_progress(self, event: Any) -> None: ...
    def on_chunk(self, event: Any) -> None: ...
    def on_warning(self, event: Any) -> None: ...
    def on_cached(self, event: Any) -> None: ...
    def on_finished(self, event: Any) -> None: ...
    def on_failed(self, event: Any) -> None: ...
    def on_cancelled(self, event: Any) -> None: ...
    def on_skipped(self, event: Any) -> None: ...


def handlers(*items: Callable[[Any], None] | None) -> Callable[[Any], None]:
    """One ``on_event`` that calls each handler in turn (``None`` entries are skipped); a handler
    that raises is logged and the others still run."""
    chosen = [h for h in items if h is not None]

    def each(event: Any) -> None:
        for h in chosen:
            try:
                h(event)
            except Exception:  # noqa: BLE001 - one broken handler must not silence the others
                logging.getLogger(__name__).exception("callback handler %r failed on %s", h, event.kind)
    return each


class LoggingHandler(CallbackHandler):
    """Logs the run on ``logger`` (default ``audiochain.run``): failures as errors, starts, ends and
    cache hits as info, progress as debug."""

    def __init__(self, logger: logging.Logger | str = "audiochain.run"):
        self.log = logging.getLogger(logger) if isinstance(logger, str) else logger

    def on_started(self, event: Any) -> None:
        self.log.info("run    %s", event.node_id)

    def on_cached(self, event: Any) -> None:
        self.log.info("cached %s", event.node_id)

    def on_finished(self, event: Any) -> None:
        self.log.info("done   %s (%.2f s)", event.node_id, event.elapsed_s or 0.0)

    def on_progress(self, event: Any) -> None:
        if event.total:
            self.log.debug("       %s %.0f%% %s", event.node_id, 100.0 * (event.done or 0) / event.total, event.message)

    def on_warning(self, event: Any) -> None:
        self.log.warning("warning %s: %s", event.node_id, event.message)

    def on_failed(self, event: Any) -> None:
        self.log.error("failed %s: %s", event.node_id, event.message)

    def on_cancelled(self, event: Any) -> None:
        self.log.warning("stopped %s", event.node_id)


_HOME = os.path.expanduser("~")


def scrub(text: str, folders: Iterable[str | os.PathLike[str]] = ()) -> str:
    """``text`` without private paths: the given folders become ``<folder 1>``..., the home folder
    ``~`` and the user name ``<user>``."""
    out = str(text)
    for i, folder in enumerate(sorted({os.fspath(f) for f in folders if f}, key=len, reverse=True), 1):
        out = _path_at(folder).sub(f"<folder {i}>", out)
    if _HOME and _HOME != "/":
        out = _path_at(_HOME).sub("~", out)
    user = os.environ.get("USER") or os.environ.get("USERNAME")
    if user and len(user) > 2:
        out = re.sub(rf"\b{re.escape(user)}\b", "<user>", out)
    return out


def _path_at(folder: str) -> re.Pattern[str]:
    """``folder`` where it stands as a path: not inside a longer name (QA: with ``-o o`` a trace read
    ``"pyth<folder 4>n"``), followed by a separator or the end of the name."""
    folder = folder.rstrip("/\\") or folder
    return re.compile(rf"(?<![\w.~-]){re.escape(folder)}(?=[/\\]|$|[^\w.-])")


class TraceHandler(CallbackHandler):
    """Writes every event of a run (or several) to ``path`` as JSON lines, flushed as they come (a
    crash keeps what happened before it): a first line with AudioChain's, Python's and the main
    packages' versions and the platform, then ``{"t": seconds since the start, "kind", "node",
    ...}`` per event, failures with their error type, message and traceback.  Paths under
    ``private`` folders (and the home folder) are replaced, so the file can be shared.  Use it as a
    context manager, or call :meth:`close` (the file is closed anyway when the handler is dropped or
    Python exits).  An existing file is never replaced: ``append=True`` adds this trace after an
    earlier one (a script run again), and refuses a file that is not a trace."""

    def __init__(self, path: str | os.PathLike[str], *, private: Iterable[str | os.PathLike[str]] = (),
                 progress: bool = True, append: bool = False):
        self.path = Path(path)
        self.private = [os.path.realpath(p) for p in private] + [os.fspath(p) for p in private]
        self.progress = progress
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self._file: IO[str] | None = _open_trace(self.path, append)
        self._closer = weakref.finalize(self, self._file.close)     # (QA54: "ResourceWarning: unclosed file")
        self._write({"trace": "audiochain", **_environment()})

    def _write(self, doc: dict[str, Any]) -> None:
        line = scrub(json.dumps(doc, default=str, ensure_ascii=False), self.private)
        with self._lock:
            if self._file is not None:
                self._file.write(line + "\n")
                self._file.flush()

    def __call__(self, event: Any) -> None:
        if event.kind == "progress" and not self.progress:
            return
        doc: dict[str, Any] = {"t": round(time.monotonic() - self._t0, 6), "kind": event.kind, "node": event.node_id}
        if event.done is not None:
            doc["done"], doc["total"] = event.done, event.total
        if event.message:
            doc["message"] = event.message
        if event.elapsed_s is not None:
            doc["elapsed_s"] = round(event.elapsed_s, 6)
        if event.kind == "chunk" and event.value:
            doc["pieces"] = {k: type(v).__name__ for k, v in event.value.items()}
        if event.error is not None:
            err = event.error
            cause = err.__cause__ or err
            doc["error"] = {"type": type(err).__name__, "message": str(err), "cause": type(cause).__name__,
                            "traceback": "".join(traceback.format_exception(type(cause), cause,
                                                                            cause.__traceback__))[-8000:]}
        self._write(doc)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._closer()
                self._file = None

    def __enter__(self) -> "TraceHandler":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _open_trace(path: Path, append: bool) -> IO[str]:
    """``path`` opened for a new trace, or after the trace it holds with ``append``; one clear line
    (a :class:`~nodeflow.errors.ParameterError`) for a file that exists, or is not a trace."""
    from .errors import ParameterError
    if not append:
        try:
            return open(path, "x", encoding="utf-8")      # never replaces a file
        except FileExistsError:
            raise ParameterError(f"{path}: the file exists, and a trace never replaces a file; give a new name, or "
                                 "TraceHandler(..., append=True) to add this run's trace after it") from None
    f = open(path, "a+", encoding="utf-8")
    f.seek(0)
    head = f.read(len(_HEAD))
    if head and head != _HEAD:
        f.close()
        raise ParameterError(f"{path}: is not an AudioChain trace, so append=True does not add to it; give a new "
                             "name")
    return f


_HEAD = '{"trace": "audiochain"'


def _environment() -> dict[str, Any]:
    import importlib.metadata

    from . import __version__
    versions = {}
    for name in ("numpy", "soundfile", "soxr", "msgpack", "torch", "transformers", "pedalboard", "dearpygui"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return {"audiochain": __version__, "python": sys.version.split()[0], "platform": platform.platform(),
            "machine": platform.machine(), "cpus": os.cpu_count(), "packages": versions}
