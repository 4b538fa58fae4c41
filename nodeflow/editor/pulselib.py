"""libpulse through ctypes, for :mod:`.pulseout`: the structures and functions used, the process's
one connection to a PulseAudio (or PipeWire) server on libpulse's threaded main loop, made on first
use and closed at exit (:func:`connection`, :func:`close_connection`), and what the default sink
plays at.  libpulse missing or no server: :func:`connection` returns None, never raises.  This module
never imports dearpygui.
"""
from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:   # (pulseout imports this module)
    from .pulseout import PulseStream

__all__ = ["PulseError", "connection", "close_connection", "CONNECT_TIMEOUT_S"]

CONNECT_TIMEOUT_S = 3.0     # a server that does not answer within this is no server

_CONTEXT_READY, _CONTEXT_FAILED, _CONTEXT_TERMINATED = 4, 5, 6
STREAM_READY, STREAM_FAILED, STREAM_TERMINATED = 2, 3, 4
START_CORKED, INTERPOLATE_TIMING, NOT_MONOTONIC, AUTO_TIMING_UPDATE = 0x1, 0x2, 0x4, 0x8
EARLY_REQUESTS = 0x4000
_NOAUTOSPAWN = 0x1
SEEK_ABSOLUTE = 1
FLOAT32LE = 5
NONE = 0xFFFFFFFF          # (uint32_t) -1: "the server's default" in pa_buffer_attr


class PulseError(Exception):
    """libpulse refused something (a stream, a write); the text is the server's reason."""


class SampleSpec(ctypes.Structure):
    _fields_ = [("format", ctypes.c_int), ("rate", ctypes.c_uint32), ("channels", ctypes.c_uint8)]


class BufferAttr(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint32) for name in ("maxlength", "tlength", "prebuf", "minreq", "fragsize")]


class _ServerInfo(ctypes.Structure):
    _fields_ = [("user_name", ctypes.c_char_p), ("host_name", ctypes.c_char_p), ("server_version", ctypes.c_char_p),
                ("server_name", ctypes.c_char_p), ("sample_spec", SampleSpec),
                ("default_sink_name", ctypes.c_char_p)]       # (more fields follow; not read)


class _SinkInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("index", ctypes.c_uint32), ("description", ctypes.c_char_p),
                ("sample_spec", SampleSpec)]                 # (more fields follow; not read)


STATE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
WRITE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
SUCCESS_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)
_INFO_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(_ServerInfo), ctypes.c_void_p)
_SINK_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(_SinkInfo), ctypes.c_int, ctypes.c_void_p)

_P, _I, _U64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "pa_threaded_mainloop_new": (_P, []),
    "pa_threaded_mainloop_get_api": (_P, [_P]),
    "pa_threaded_mainloop_start": (_I, [_P]),
    "pa_threaded_mainloop_stop": (None, [_P]),
    "pa_threaded_mainloop_free": (None, [_P]),
    "pa_threaded_mainloop_lock": (None, [_P]),
    "pa_threaded_mainloop_unlock": (None, [_P]),
    "pa_threaded_mainloop_in_thread": (_I, [_P]),
    "pa_context_new": (_P, [_P, ctypes.c_char_p]),
    "pa_context_connect": (_I, [_P, ctypes.c_char_p, _I, _P]),
    "pa_context_get_state": (_I, [_P]),
    "pa_context_errno": (_I, [_P]),
    "pa_context_disconnect": (None, [_P]),
    "pa_context_unref": (None, [_P]),
    "pa_context_get_server_info": (_P, [_P, _INFO_CB, _P]),
    "pa_context_get_sink_info_by_name": (_P, [_P, ctypes.c_char_p, _SINK_CB, _P]),
    "pa_strerror": (ctypes.c_char_p, [_I]),
    "pa_stream_new": (_P, [_P, ctypes.c_char_p, ctypes.POINTER(SampleSpec), _P]),
    "pa_stream_set_state_callback": (None, [_P, STATE_CB, _P]),
    "pa_stream_set_write_callback": (None, [_P, WRITE_CB, _P]),
    "pa_stream_set_underflow_callback": (None, [_P, STATE_CB, _P]),
    "pa_stream_connect_playback": (_I, [_P, ctypes.c_char_p, ctypes.POINTER(BufferAttr), _I, _P, _P]),
    "pa_stream_get_state": (_I, [_P]),
    "pa_stream_write": (_I, [_P, _P, ctypes.c_size_t, _P, ctypes.c_int64, _I]),
    "pa_stream_writable_size": (ctypes.c_size_t, [_P]),
    "pa_stream_cork": (_P, [_P, _I, SUCCESS_CB, _P]),
    "pa_stream_drain": (_P, [_P, SUCCESS_CB, _P]),
    "pa_stream_get_time": (_I, [_P, ctypes.POINTER(_U64)]),
    "pa_stream_get_buffer_attr": (ctypes.POINTER(BufferAttr), [_P]),
    "pa_stream_set_buffer_attr": (_P, [_P, ctypes.POINTER(BufferAttr), SUCCESS_CB, _P]),
    "pa_stream_disconnect": (_I, [_P]),
    "pa_stream_unref": (None, [_P]),
    "pa_operation_unref": (None, [_P]),
    "pa_operation_cancel": (None, [_P]),
}


def _load() -> Any:
    """libpulse with its signatures set, or None where it is not installed."""
    name = ctypes.util.find_library("pulse") or "libpulse.so.0"
    try:
        lib = ctypes.CDLL(name)
        for fn, (res, args) in _SIGNATURES.items():
            f = getattr(lib, fn)
            f.restype, f.argtypes = res, args
    except (OSError, AttributeError):
        return None
    return lib


class _Connection:
    """The process's one context with a PulseAudio server, on libpulse's threaded main loop."""

    def __init__(self, lib: Any):
        self.lib = lib
        self.loop = lib.pa_threaded_mainloop_new()
        self.context = lib.pa_context_new(lib.pa_threaded_mainloop_get_api(self.loop), b"AudioChain")
        self.server_name, self.rate, self.channels, self.sink = "", 0, 2, ""
        self.streams: set["PulseStream"] = set()
        if lib.pa_context_connect(self.context, None, _NOAUTOSPAWN, None) < 0 \
                or lib.pa_threaded_mainloop_start(self.loop) < 0:
            why = self._error()            # (read before the context is freed)
            self._free()
            raise PulseError(why)
        end = time.monotonic() + CONNECT_TIMEOUT_S
        while (state := lib.pa_context_get_state(self.context)) != _CONTEXT_READY:
            if state in (_CONTEXT_FAILED, _CONTEXT_TERMINATED) or time.monotonic() > end:
                why = self._error() if state != _CONTEXT_READY and time.monotonic() <= end else "no answer"
                self.close()
                raise PulseError(why)
            time.sleep(0.002)
        self.output()

    def output(self) -> tuple[str, int, int]:
        """The default sink now: its name, rate and channels (the server's defaults where it has none)."""
        self._ask(self.lib.pa_context_get_server_info, _INFO_CB, self._got_server)
        if self.sink:
            self._ask(lambda c, cb, u: self.lib.pa_context_get_sink_info_by_name(c, self.sink.encode(), cb, u),
                      _SINK_CB, self._got_sink)
        return self.sink, self.rate, self.channels

    def _error(self) -> str:
        return str(self.lib.pa_strerror(self.lib.pa_context_errno(self.context)).decode(errors="replace"))

    def _ask(self, call: Callable[..., Any], kind: Any, got: Callable[..., None]) -> None:
        """One introspection round trip: ``got`` is called with the answer, on libpulse's thread."""
        done = threading.Event()

        def answer(*args: Any) -> None:
            got(*args)
            done.set()
        cb = kind(answer)
        with self.locked():
            op = call(self.context, cb, None)
        if op:
            done.wait(CONNECT_TIMEOUT_S)
            with self.locked():       # no call after this one returns: ``cb`` is freed with it (a sink's
                self.lib.pa_operation_cancel(op)    # answer ends with a second call, end of list, that
                self.lib.pa_operation_unref(op)     # PipeWire's server sent later: a crash)

    def _got_server(self, _c: Any, info: Any, _u: Any) -> None:
        if info:
            i = info.contents
            self.server_name = (i.server_name or b"").decode(errors="replace")
            self.sink = (i.default_sink_name or b"").decode(errors="replace")
            self.rate, self.channels = int(i.sample_spec.rate), int(i.sample_spec.channels) or 2

    def _got_sink(self, _c: Any, info: Any, eol: int, _u: Any) -> None:
        if info and not eol:
            spec = info.contents.sample_spec
            self.rate, self.channels = int(spec.rate) or self.rate, int(spec.channels) or self.channels

    def locked(self) -> "_Locked":
        """Hold the main loop's lock (nothing, once the connection is closed)."""
        return _Locked(self.lib, self.loop)

    @property
    def alive(self) -> bool:
        return bool(self.context) and self.lib.pa_context_get_state(self.context) == _CONTEXT_READY

    def close(self) -> None:
        for s in list(self.streams):
            s.close()
        lib = self.lib
        if self.context:
            with self.locked():
                lib.pa_context_disconnect(self.context)
        self._free()

    def _free(self) -> None:
        lib, loop = self.lib, self.loop
        if loop:
            lib.pa_threaded_mainloop_stop(loop)
        if self.context:
            lib.pa_context_unref(self.context)
            self.context = None
        if loop:
            self.loop = None
            lib.pa_threaded_mainloop_free(loop)


class _Locked:
    """``with conn.locked():`` holds libpulse's main-loop lock (not taken twice on its own thread)."""

    def __init__(self, lib: Any, loop: Any):
        self.lib, self.loop = lib, loop
        self.held = False

    def __enter__(self) -> None:
        if self.loop and not self.lib.pa_threaded_mainloop_in_thread(self.loop):
            self.lib.pa_threaded_mainloop_lock(self.loop)
            self.held = True

    def __exit__(self, *exc: Any) -> None:
        if self.held:
            self.lib.pa_threaded_mainloop_unlock(self.loop)


_conn: _Connection | None = None
_conn_lock = threading.Lock()
_tried_at = -1e9
_hooked = False


def connection() -> _Connection | None:
    """The process's connection to a PulseAudio server, made on first use; None when libpulse is
    not installed or no server answers (looked for again at most every 5 s)."""
    global _conn, _tried_at
    with _conn_lock:
        if _conn is not None and _conn.alive:
            return _conn
        if _conn is not None:
            _conn.close()
            _conn = None
        if time.monotonic() - _tried_at < 5.0:
            return None
        _tried_at = time.monotonic()
        lib = _load()
        if lib is None:
            return None
        try:
            _conn = _Connection(lib)
        except PulseError:
            return None
        global _hooked
        if not _hooked:            # streams end before the interpreter does (libpulse calls into Python)
            atexit.register(close_connection)
            _hooked = True
        return _conn


def close_connection() -> None:
    """Close every stream and the connection (at exit, before the interpreter tears down)."""
    global _conn
    with _conn_lock:
        if _conn is not None:
            _conn.close()
            _conn = None
