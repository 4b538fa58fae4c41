"""A PulseAudio output for :mod:`nodeflow.editor.player`, on libpulse through ctypes: the one thing
PortAudio cannot do, **rewrite the audio already queued**, so that a seek or an A/B switch is heard
a few tens of milliseconds after the click instead of after the whole buffer (QA70 D1: 0.33-0.40 s).

:data:`BACKEND` stands in for the sounddevice module wherever the player uses it (``OutputStream``,
``query_devices``, ``query_hostapis``, ``CallbackStop``, ``CallbackAbort``, ``PortAudioError``), so
one player drives either; :meth:`PulseStream.rewrite` is the extra.  The player picks this output
when it plays on the default device and a PulseAudio server (or PipeWire's) answers
(:func:`.pulselib.connection`); otherwise PortAudio as before.

How a stream works: one process-wide context on a threaded main loop (:mod:`.pulselib`); each
stream asks the server for a buffer of ``latency`` seconds, all of it its own (the sink holds one
request, 20 ms at 200 ms), is filled from the player's callback before it is uncorked (the first sound
is not delayed by a larger buffer), then refilled whenever the server asks.  A stall of the audio
thread shorter than the buffer is not heard; after a longer one the server drops what its sink had
taken of the first audio written after it (one request), then the player grows the buffer.  Every write goes at an absolute place in the stream; what was written is kept for
a while, so a rewrite knows what the listener hears up to the point where the new audio starts
(the player crossfades from it).  A rewrite starts :data:`REWRITE_LEAD_S` after what is heard now:
the server takes the rewritten part back from its sink ("requesting rewind due to rewrite").
This module never imports dearpygui; libpulse is loaded on first use.
"""
from __future__ import annotations

import ctypes
import itertools
import threading
import time
from typing import Any, Callable

import numpy as np

from .pulselib import (AUTO_TIMING_UPDATE, EARLY_REQUESTS, CONNECT_TIMEOUT_S, FLOAT32LE, INTERPOLATE_TIMING,
                       NONE, NOT_MONOTONIC, SEEK_ABSOLUTE, START_CORKED, STATE_CB, STREAM_FAILED, STREAM_READY,
                       STREAM_TERMINATED, SUCCESS_CB, WRITE_CB, BufferAttr, PulseError, SampleSpec, connection)

__all__ = ["BACKEND", "PulseStream", "PulseError", "connection", "REWRITE_LEAD_S"]

REWRITE_LEAD_S = 0.03       # a rewrite starts this long after what is heard now (the request's way to the sink)
HISTORY_S = 3.0             # what was written is kept this long (a buffer is at most 2 s)
LATENCIES = {"low": 0.02, "high": 0.06}     # the buffers "low" and "high" ask for, seconds


class CallbackStop(Exception):
    """Raised by the callback: play what is queued, then end (as sounddevice's)."""


class CallbackAbort(Exception):
    """Raised by the callback: end now (as sounddevice's)."""


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
    reports_underflows = True       # the server says when it ran dry: a late callback alone is not counted

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
        self._token = next(_TOKENS)        # libpulse calls back with it: a late call finds no stream
        _LIVE[self._token] = self
        me = ctypes.c_void_p(self._token)
        spec = SampleSpec(FLOAT32LE, self._rate, self.channels)
        attr = BufferAttr(NONE, self._target * self._fb, NONE, NONE, NONE)
        with conn.locked():
            self.stream = lib.pa_stream_new(conn.context, b"AudioChain preview", ctypes.byref(spec), None)
            if not self.stream:
                _LIVE.pop(self._token, None)
                raise PulseError(conn._error())
            lib.pa_stream_set_state_callback(self.stream, _CALLS["state"], me)
            lib.pa_stream_set_underflow_callback(self.stream, _CALLS["underflow"], me)
            # EARLY_REQUESTS: the whole latency is this stream's own buffer and the sink holds one request;
            # ADJUST_LATENCY split it with the sink, and a 150 ms stall ran the stream dry (QA75 D2)
            flags = START_CORKED | INTERPOLATE_TIMING | AUTO_TIMING_UPDATE | NOT_MONOTONIC | EARLY_REQUESTS
            if lib.pa_stream_connect_playback(self.stream, None, ctypes.byref(attr), flags, None, None) < 0:
                why = conn._error()
                lib.pa_stream_unref(self.stream)
                _LIVE.pop(self._token, None)
                raise PulseError(why)
        end = time.monotonic() + CONNECT_TIMEOUT_S
        while (state := lib.pa_stream_get_state(self.stream)) != STREAM_READY:
            if state in (STREAM_FAILED, STREAM_TERMINATED) or time.monotonic() > end:
                why = conn._error()
                self._done = True          # never started: nothing to report to the player
                self.close()
                raise PulseError(why)
            time.sleep(0.001)
        with conn.locked():
            self._granted()
        conn.streams.add(self)

    # -- control (any thread but libpulse's)
    def start(self) -> None:
        """Fill the buffer from the callback, then let the server play it."""
        lib = self.conn.lib
        with self.conn.locked():
            self._fill(self._target)
            lib.pa_stream_set_write_callback(self.stream, _CALLS["write"], ctypes.c_void_p(self._token))
            op = lib.pa_stream_cork(self.stream, 0, _CALLS["none"], None)
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
                lib.pa_stream_set_write_callback(s, WRITE_CB(), None)       # (null: no more calls)
                lib.pa_stream_set_state_callback(s, STATE_CB(), None)
                lib.pa_stream_set_underflow_callback(s, STATE_CB(), None)
                lib.pa_stream_disconnect(s)
                lib.pa_stream_unref(s)
        _LIVE.pop(self._token, None)
        self.conn.streams.discard(self)
        self._end()

    def heard_frames(self) -> float | None:
        """The frames played so far, as the server says (interpolated between its reports); None
        before it says, or once the stream is gone."""
        with self.conn.locked():
            if not self.stream:
                return None
            played = self._played()
            return None if played is None else min(played, float(self._written))

    def _played(self) -> float | None:
        """Frames the server says it has played (the lock held); None before it says."""
        usec = ctypes.c_uint64(0)
        if self.conn.lib.pa_stream_get_time(self.stream, ctypes.byref(usec)) < 0:
            return None
        return usec.value * self._rate / 1e6

    def _granted(self) -> None:
        """Keep queued what the server granted (the lock held)."""
        got = self.conn.lib.pa_stream_get_buffer_attr(self.stream) if self.stream else None
        if got:
            self._target = max(int(got.contents.tlength) // self._fb, 256)

    def set_latency(self, seconds: float) -> bool:
        """Ask the server for a buffer of ``seconds`` (after an underflow), in place: nothing queued
        is dropped, as reopening the stream would.  False when the stream has ended."""
        lib = self.conn.lib
        with self.conn.locked():
            if not self.stream or self._ended:
                return False
            attr = BufferAttr(NONE, int(seconds * self._rate) * self._fb, NONE, NONE, NONE)
            op = lib.pa_stream_set_buffer_attr(self.stream, ctypes.byref(attr), _CALLS["attr"],
                                               ctypes.c_void_p(self._token))
            if not op:
                return False
            lib.pa_operation_unref(op)
            self.latency = float(seconds)
            return True

    def _on_attr(self, _s: Any, ok: int, _u: Any) -> None:
        if ok:
            self._granted()

    def rewrite(self, prepare: Callable[[int, np.ndarray], None], lead_s: float = REWRITE_LEAD_S) -> bool:
        """Take back the audio queued from ``lead_s`` after what is heard now and write it again.

        Under libpulse's lock (the callback cannot run meanwhile), ``prepare(back, old)`` is called
        with how many frames were taken back and what they were (the player moves its reader back
        by ``back`` frames and crossfades out of ``old``); then the callback refills the buffer from
        that place.  False, with nothing called, when nothing can be taken back (the stream ends,
        or the server does not say yet where it plays)."""
        with self.conn.locked():
            if not self.stream or self._ended:
                return False
            played = self._played()
            if played is None:
                return False
            heard = int(played)
            at = min(max(heard + int(lead_s * self._rate), 0), self._written)
            back = self._written - at
            if back <= 0 or back > len(self._history):
                return False
            prepare(back, self._past(at, back))
            self._written = at
            # as far ahead of what is heard as before: what the sink held was taken back too
            self._fill(max(int(self.latency * self._rate) - (at - heard), 0))
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
            op = self.conn.lib.pa_stream_drain(self.stream, _CALLS["drained"], ctypes.c_void_p(self._token))
            if op:
                self.conn.lib.pa_operation_unref(op)
            else:
                self._finish_later()

    def _write(self, out: np.ndarray) -> None:
        n = len(out)
        if self.conn.lib.pa_stream_write(self.stream, out.ctypes.data, n * self._fb, None,
                                         self._written * self._fb, SEEK_ABSOLUTE) < 0:
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
        if self.stream and self.conn.lib.pa_stream_get_state(self.stream) in (STREAM_FAILED, STREAM_TERMINATED):
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


_LIVE: dict[int, PulseStream] = {}     # token -> the stream libpulse may still call back about
_TOKENS = itertools.count(1)


def _route(kind: Any, method: str) -> Any:
    """A callback made once for the process, which libpulse may call at any time (an answer that
    comes after its stream was closed, a state change as it ends): it finds the stream by the token
    it was given, and does nothing once the stream is gone.  (A callback made per stream was freed
    with it, and a late call jumped into freed memory: a crash under PipeWire.)"""
    def call(*args: Any) -> None:
        stream = _LIVE.get(args[-1] or 0)
        if stream is not None:
            getattr(stream, method)(*args)
    return kind(call)


_CALLS = {"write": _route(WRITE_CB, "_on_write"), "state": _route(STATE_CB, "_on_state"),
          "underflow": _route(STATE_CB, "_on_underflow"), "drained": _route(SUCCESS_CB, "_on_drained"),
          "attr": _route(SUCCESS_CB, "_on_attr"), "none": SUCCESS_CB(lambda *_: None)}


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
