"""A PulseAudio output for :mod:`nodeflow.editor.player`, on libpulse through ctypes: the one thing
PortAudio cannot do, **rewrite the audio already queued**, so that a seek or an A/B switch is heard
a few tens of milliseconds after the click instead of after the whole buffer (QA70 D1: 0.33-0.40 s).

:data:`BACKEND` stands in for the sounddevice module wherever the player uses it (``OutputStream``,
``query_devices``, ``query_hostapis``, ``CallbackStop``, ``CallbackAbort``, ``PortAudioError``), so
one player drives either; :meth:`PulseStream.rewrite` is the extra.  The player picks this output
when it plays on the default device and a PulseAudio server (or PipeWire's) answers; otherwise
PortAudio as before.  libpulse missing or no server: :func:`connection` returns None, never raises.

How a stream works: one process-wide context on a threaded main loop (:class:`_Connection`); each
stream asks the server for a buffer of ``latency`` seconds, is filled from the player's callback
before it is uncorked (the first sound is not delayed by a larger buffer), then refilled whenever
the server asks.  Every write goes at an absolute place in the stream; what was written is kept for
a while, so a rewrite knows what the listener hears up to the point where the new audio starts
(the player crossfades from it).  A rewrite starts :data:`REWRITE_LEAD_S` after what is heard now:
the server takes the rewritten part back from its sink ("requesting rewind due to rewrite").
This module never imports dearpygui; libpulse is loaded on first use.
"""
from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import threading
import time
from typing import Any, Callable

import numpy as np

__all__ = ["BACKEND", "PulseStream", "PulseError", "connection", "REWRITE_LEAD_S"]

REWRITE_LEAD_S = 0.03       # a rewrite starts this long after what is heard now (the request's way to the sink)
CONNECT_TIMEOUT_S = 3.0     # a server that does not answer within this is no server
HISTORY_S = 3.0             # what was written is kept this long (a buffer is at most 2 s)
LATENCIES = {"low": 0.02, "high": 0.06}     # the buffers "low" and "high" ask for, seconds

_CONTEXT_READY, _CONTEXT_FAILED, _CONTEXT_TERMINATED = 4, 5, 6
_STREAM_READY, _STREAM_FAILED, _STREAM_TERMINATED = 2, 3, 4
_START_CORKED, _INTERPOLATE_TIMING, _NOT_MONOTONIC, _AUTO_TIMING_UPDATE = 0x1, 0x2, 0x4, 0x8
_ADJUST_LATENCY = 0x2000
_NOAUTOSPAWN = 0x1
_SEEK_ABSOLUTE = 1
_FLOAT32LE = 5
_NONE = 0xFFFFFFFF          # (uint32_t) -1: "the server's default" in pa_buffer_attr


class PulseError(Exception):
    """libpulse refused something (a stream, a write); the text is the server's reason."""


class CallbackStop(Exception):
    """Raised by the callback: play what is queued, then end (as sounddevice's)."""


class CallbackAbort(Exception):
    """Raised by the callback: end now (as sounddevice's)."""


class _SampleSpec(ctypes.Structure):
    _fields_ = [("format", ctypes.c_int), ("rate", ctypes.c_uint32), ("channels", ctypes.c_uint8)]


class _BufferAttr(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint32) for name in ("maxlength", "tlength", "prebuf", "minreq", "fragsize")]


class _ServerInfo(ctypes.Structure):
    _fields_ = [("user_name", ctypes.c_char_p), ("host_name", ctypes.c_char_p), ("server_version", ctypes.c_char_p),
                ("server_name", ctypes.c_char_p), ("sample_spec", _SampleSpec),
                ("default_sink_name", ctypes.c_char_p)]       # (more fields follow; not read)


class _SinkInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("index", ctypes.c_uint32), ("description", ctypes.c_char_p),
                ("sample_spec", _SampleSpec)]                 # (more fields follow; not read)


_STATE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
_WRITE_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
_SUCCESS_CB = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p)
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
    "pa_stream_new": (_P, [_P, ctypes.c_char_p, ctypes.POINTER(_SampleSpec), _P]),
    "pa_stream_set_state_callback": (None, [_P, _STATE_CB, _P]),
    "pa_stream_set_write_callback": (None, [_P, _WRITE_CB, _P]),
    "pa_stream_set_underflow_callback": (None, [_P, _STATE_CB, _P]),
    "pa_stream_connect_playback": (_I, [_P, ctypes.c_char_p, ctypes.POINTER(_BufferAttr), _I, _P, _P]),
    "pa_stream_get_state": (_I, [_P]),
    "pa_stream_write": (_I, [_P, _P, ctypes.c_size_t, _P, ctypes.c_int64, _I]),
    "pa_stream_writable_size": (ctypes.c_size_t, [_P]),
    "pa_stream_cork": (_P, [_P, _I, _SUCCESS_CB, _P]),
    "pa_stream_drain": (_P, [_P, _SUCCESS_CB, _P]),
    "pa_stream_get_time": (_I, [_P, ctypes.POINTER(_U64)]),
    "pa_stream_get_buffer_attr": (ctypes.POINTER(_BufferAttr), [_P]),
    "pa_stream_set_buffer_attr": (_P, [_P, ctypes.POINTER(_BufferAttr), _SUCCESS_CB, _P]),
    "pa_stream_disconnect": (_I, [_P]),
    "pa_stream_unref": (None, [_P]),
    "pa_operation_unref": (None, [_P]),
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
        self.streams: set[PulseStream] = set()
        if lib.pa_context_connect(self.context, None, _NOAUTOSPAWN, None) < 0 \
                or lib.pa_threaded_mainloop_start(self.loop) < 0:
            self._free()
            raise PulseError(self._error())
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
            with self.locked():
                self.lib.pa_operation_unref(op)

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


class _Status:
    output_underflow = False


class _NoTimes:
    """PortAudio's time info, which this output does not give (zeros: lateness alone counts)."""
    outputBufferDacTime = currentTime = 0.0


class PulseStream:
    """An output stream with sounddevice's ``OutputStream`` shape (``start``, ``abort``, ``close``,
    ``samplerate``, ``channels``, ``blocksize``, ``latency``, ``device``), float32, fed by
    ``callback(outdata, frames, time_info, status)``, plus :meth:`rewrite`."""

    blocksize = 0

    def __init__(self, *, samplerate: int, channels: int, latency: float | str,
                 callback: Callable[..., None], finished_callback: Callable[[], None] | None = None,
                 device: Any = None, dtype: str = "float32", **_: Any):
        conn = connection()
        if conn is None:
            raise PulseError("no PulseAudio server answers")
        self.conn, lib = conn, conn.lib
        self.samplerate, self.channels, self.device = float(samplerate), int(channels), device
        self._rate, self._fb = int(samplerate), 4 * int(channels)
        self._callback, self._finished = callback, finished_callback
        self.latency = float(LATENCIES.get(latency, 0.2) if isinstance(latency, str) else latency)
        self._target = max(int(round(self.latency * self._rate)), 256)        # frames kept queued
        self._history = np.zeros((int(HISTORY_S * self._rate) + self._target, self.channels), np.float32)
        self._written = 0          # the stream's write index, frames
        self._ended = False        # the callback raised CallbackStop / CallbackAbort
        self._done = False         # finished_callback was called
        self._status = _Status()
        self._cbs = (_WRITE_CB(self._on_write), _STATE_CB(self._on_state), _STATE_CB(self._on_underflow),
                     _SUCCESS_CB(self._on_drained), _SUCCESS_CB(lambda *_: None), _SUCCESS_CB(self._on_attr))
        spec = _SampleSpec(_FLOAT32LE, self._rate, self.channels)
        attr = _BufferAttr(_NONE, self._target * self._fb, _NONE, _NONE, _NONE)
        with conn.locked():
            self.stream = lib.pa_stream_new(conn.context, b"AudioChain preview", ctypes.byref(spec), None)
            if not self.stream:
                raise PulseError(conn._error())
            lib.pa_stream_set_state_callback(self.stream, self._cbs[1], None)
            lib.pa_stream_set_underflow_callback(self.stream, self._cbs[2], None)
            flags = _START_CORKED | _INTERPOLATE_TIMING | _AUTO_TIMING_UPDATE | _ADJUST_LATENCY | _NOT_MONOTONIC
            if lib.pa_stream_connect_playback(self.stream, None, ctypes.byref(attr), flags, None, None) < 0:
                why = conn._error()
                lib.pa_stream_unref(self.stream)
                raise PulseError(why)
        end = time.monotonic() + CONNECT_TIMEOUT_S
        while (state := lib.pa_stream_get_state(self.stream)) != _STREAM_READY:
            if state in (_STREAM_FAILED, _STREAM_TERMINATED) or time.monotonic() > end:
                why = conn._error()
                self.close()
                raise PulseError(why)
            time.sleep(0.001)
        with conn.locked():
            got = lib.pa_stream_get_buffer_attr(self.stream)
            if got:     # the server splits the latency asked for between this buffer and the sink's
                self._target = max(int(got.contents.tlength) // self._fb, 256)
        conn.streams.add(self)

    # -- control (any thread but libpulse's)
    def start(self) -> None:
        """Fill the buffer from the callback, then let the server play it."""
        lib = self.conn.lib
        with self.conn.locked():
            self._fill(self._target)
            lib.pa_stream_set_write_callback(self.stream, self._cbs[0], None)
            op = lib.pa_stream_cork(self.stream, 0, self._cbs[4], None)
            if op:
                lib.pa_operation_unref(op)

    def abort(self, ignore_errors: bool = True) -> None:
        """End now, dropping what is queued."""
        self.close(ignore_errors)

    def close(self, ignore_errors: bool = True) -> None:
        """Disconnect (what is queued is dropped) and report the end once."""
        lib = self.conn.lib
        with self.conn.locked():
            s, self.stream = getattr(self, "stream", None), None
            if s and self.conn.loop:
                lib.pa_stream_set_write_callback(s, _WRITE_CB(), None)
                lib.pa_stream_disconnect(s)
                lib.pa_stream_unref(s)
        self.conn.streams.discard(self)
        self._end()

    def set_latency(self, seconds: float) -> bool:
        """Ask the server for a buffer of ``seconds`` (after an underflow), in place: nothing queued
        is dropped, as reopening the stream would.  False when the stream has ended."""
        lib = self.conn.lib
        with self.conn.locked():
            if not self.stream or self._ended:
                return False
            attr = _BufferAttr(_NONE, int(seconds * self._rate) * self._fb, _NONE, _NONE, _NONE)
            op = lib.pa_stream_set_buffer_attr(self.stream, ctypes.byref(attr), self._cbs[5], None)
            if not op:
                return False
            lib.pa_operation_unref(op)
            self.latency = float(seconds)
            return True

    def _on_attr(self, _s: Any, ok: int, _u: Any) -> None:
        got = self.conn.lib.pa_stream_get_buffer_attr(self.stream) if ok and self.stream else None
        if got:
            self._target = max(int(got.contents.tlength) // self._fb, 256)

    def rewrite(self, prepare: Callable[[int, np.ndarray], None], lead_s: float = REWRITE_LEAD_S) -> bool:
        """Take back the audio queued from ``lead_s`` after what is heard now and write it again.

        Under libpulse's lock (the callback cannot run meanwhile), ``prepare(back, old)`` is called
        with how many frames were taken back and what they were (the player moves its reader back
        by ``back`` frames and crossfades out of ``old``); then the callback refills the buffer from
        that place.  False, with nothing called, when nothing can be taken back (the stream ends,
        or the server does not say yet where it plays)."""
        lib = self.conn.lib
        with self.conn.locked():
            if not self.stream or self._ended:
                return False
            usec = ctypes.c_uint64(0)
            if lib.pa_stream_get_time(self.stream, ctypes.byref(usec)) < 0:
                return False
            heard = int(usec.value * self._rate // 1_000_000)
            at = min(max(heard + int(lead_s * self._rate), 0), self._written)
            back = self._written - at
            if back <= 0 or back > len(self._history):
                return False
            prepare(back, self._past(at, back))
            self._written = at
            self._fill(max(self._target - (at - heard), 0))
            return True

    # -- libpulse's thread (the lock held)
    def _on_write(self, _s: Any, nbytes: int, _u: Any) -> None:
        if not self._ended:
            self._fill(int(nbytes) // self._fb)

    def _fill(self, frames: int) -> None:
        if frames <= 0:
            return
        out = np.zeros((frames, self.channels), np.float32)
        status, self._status = self._status, _Status()
        stop = False
        try:
            self._callback(out, frames, _NoTimes, status)
        except CallbackStop:
            stop = True
        except CallbackAbort:
            self._ended = True
            self._finish_later()
            return
        except Exception:  # noqa: BLE001 - the player reports it; the stream ends
            self._ended = True
            self._finish_later()
            return
        self._write(out)
        if stop:
            self._ended = True
            op = self.conn.lib.pa_stream_drain(self.stream, self._cbs[3], None)
            if op:
                self.conn.lib.pa_operation_unref(op)
            else:
                self._finish_later()

    def _write(self, out: np.ndarray) -> None:
        n = len(out)
        if self.conn.lib.pa_stream_write(self.stream, out.ctypes.data, n * self._fb, None,
                                         self._written * self._fb, _SEEK_ABSOLUTE) < 0:
            self._ended = True
            self._finish_later()
            return
        h = len(self._history)
        idx = (self._written + np.arange(n)) % h
        self._history[idx] = out
        self._written += n

    def _past(self, at: int, n: int) -> np.ndarray:
        h = len(self._history)
        return self._history[(at + np.arange(min(n, h))) % h].copy()

    def _on_state(self, _s: Any, _u: Any) -> None:
        if self.stream and self.conn.lib.pa_stream_get_state(self.stream) in (_STREAM_FAILED, _STREAM_TERMINATED):
            self._ended = True
            self._finish_later()

    def _on_underflow(self, _s: Any, _u: Any) -> None:
        if not self._ended:
            self._status.output_underflow = True

    def _on_drained(self, _s: Any, _ok: int, _u: Any) -> None:
        self._finish_later()

    def _finish_later(self) -> None:
        """Tell the player the stream ended, from a thread of its own (not libpulse's)."""
        if not self._done:
            threading.Thread(target=self._end, name="nodeflow-pulse-end", daemon=True).start()

    def _end(self) -> None:
        if self._done:
            return
        self._done = True
        if self._finished is not None:
            self._finished()


class _Backend:
    """What the player uses of the sounddevice module, on :class:`PulseStream`."""

    OutputStream = PulseStream
    CallbackStop, CallbackAbort, PortAudioError = CallbackStop, CallbackAbort, PulseError

    def query_devices(self, device: Any = None, kind: str = "output") -> dict[str, Any]:
        conn = connection()
        if conn is None:
            raise PulseError("no PulseAudio server answers")
        sink, rate, channels = conn.output()
        return {"name": f"{sink or 'default'} ({conn.server_name or 'PulseAudio'})", "index": None,
                "hostapi": 0, "max_output_channels": max(channels, 2), "default_samplerate": rate or 48000,
                "default_high_output_latency": LATENCIES["high"], "default_low_output_latency": LATENCIES["low"]}

    def query_hostapis(self, index: int = 0) -> dict[str, Any]:
        return {"name": "PulseAudio"}


BACKEND = _Backend()
