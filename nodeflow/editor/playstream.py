"""One ``play()`` of :mod:`nodeflow.editor.player`: its output stream (PulseAudio's, :mod:`.pulseout`,
or a sounddevice one) and what happens on it.  The audio callback (the output's own thread, raised in
priority where the OS allows) copies samples from the reader, counts underflows (and callbacks that
came later than the whole buffer lasts) and plays a buffer's length of silence after the clip's end;
after an underflow a helper thread doubles the buffer, up to :data:`MAX_LATENCY_S` (in place on
PulseAudio's stream, else by reopening the stream where the clip is); the session's end
is reported once, on a short-lived thread; its playhead and its error (underflows, device gone) are
read from any thread.  This module never imports dearpygui.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from types import ModuleType
from typing import Any, Callable, Protocol

import numpy as np

from .audiodevice import _no_device_hint
from .clipreader import Clip, _mix_matrix, _Played, _Reader, _Source, _Switch

__all__ = ["MAX_LATENCY_S", "TAIL_MARGIN_S"]

log = logging.getLogger("nodeflow.editor.player")   # the player's logger, named as before the split

MAX_LATENCY_S = 1.0     # the most a buffer grows to after underflows
TAIL_MARGIN_S = 0.05    # silence played after a clip's end beyond the buffer's length
LEAD_MIN_S = 0.01       # a late callback whose buffer still leads the device by more did not run dry


class _Stream(Protocol):
    """The part of a ``sounddevice.OutputStream`` the player uses (sounddevice ships no types)."""

    samplerate: float
    channels: int
    blocksize: int
    latency: float
    device: int

    def start(self) -> None: ...
    def abort(self, ignore_errors: bool = True) -> None: ...
    def close(self, ignore_errors: bool = True) -> None: ...


class _Session:
    """One play(): its stream, its counters and its end, reported exactly once."""

    def __init__(self, sd: ModuleType, audio: Clip, on_done: Callable[[], None] | None, t0: float,
                 loop: bool = False, start_s: float = 0.0):
        self._sd = sd                  # the sounddevice module
        self.audio, self.on_done, self.t0 = audio, on_done, t0
        self.loop, self.start_s = loop, start_s     # a loop plays the clip round and round from start_s
        self.rate = audio.sample_rate
        self.reader: _Source | None = None
        self.stream: _Stream | None = None
        self.stream_open = False       # (then stream is set)
        self.frames_out = 0            # frames (at the stream's rate) handed to the device
        self.first_buffer_at: float | None = None
        self.underflows = 0
        self.ended = False             # the whole clip was handed over
        self.stopped = False           # stop() or a newer play()
        self.failure: str | None = None
        self.finished = threading.Event()
        self._stream_lock = threading.RLock()  # serialises abort/close/reopen of the stream
        self._state_lock = threading.Lock()
        self._finishing = False
        self.latency_s = 0.0           # the buffer of the open stream, seconds
        self.latency_history: list[float] = []
        self.adaptive = False          # reopen with a bigger buffer after an underflow
        self.open_kw: dict[str, Any] = {}
        self.generation = 0            # which stream is current (an old one's end is not the session's end)
        self.last_callback: float | None = None
        self.late = 0                  # callbacks that came after the whole buffer had drained
        self.tail = 0                  # frames of silence handed over after the clip's end
        self.padded = 0                # frames of silence handed over while a growing clip was waited for
        self._growing = False
        self.priority: int | None = None
        self.on_grow: Callable[[float], None] | None = None
        # the parts played: (frames handed over when the part began, its place in the clip in seconds);
        # a switch to another take goes on where the clip is, a seek starts a part elsewhere
        self.parts: list[tuple[int, float]] = [(0, 0.0 if loop else start_s)]
        self._part, self._shown = self.parts[0], 0.0

    # -- PortAudio's thread
    def callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        sd, reader = self._sd, self.reader
        try:
            if reader is None:
                raise RuntimeError("the stream started before its reader was set")
            now = time.perf_counter()
            starved = bool(status.output_underflow)
            if self.last_callback is not None and now - self.last_callback > self.latency_s > 0 \
                    and not _still_ahead(time_info) and not getattr(self.stream, "reports_underflows", False):
                self.late += 1            # the whole buffer drained between two callbacks
                starved = True
            self.last_callback = now
            if starved and not self.ended:       # (silence after the clip's end may run dry)
                self.underflows += 1
                if self.adaptive and not self._growing and self.latency_s < MAX_LATENCY_S:
                    self._growing = True
                    threading.Thread(target=self.grow, name="nodeflow-audition-grow", daemon=True).start()
            k = reader.read(outdata)
            self.frames_out += k
            if k < frames and reader.waiting:
                self.padded += frames - k         # silence while a growing clip catches up
            if self.first_buffer_at is None:
                self.first_buffer_at = now
                self.priority = _raise_priority()
        except Exception as e:  # noqa: BLE001 - reported through Player.error
            outdata.fill(0)
            self.failure = f"playback failed in the audio callback: {type(e).__name__}: {e}"
            raise sd.CallbackAbort from None
        if k < frames and not reader.waiting:
            # the clip is handed over; the device still holds up to a buffer of it, and stopping now
            # would drop that (PortAudio on PulseAudio does): play the buffer's length of silence first
            self.ended = True
            self.tail += frames - k
            if self.tail >= (self.latency_s + TAIL_MARGIN_S) * self.rate:
                raise sd.CallbackStop

    def finished_callback_for(self, generation: int) -> Callable[[], None]:
        def finished() -> None:
            if generation == self.generation:     # not a stream replaced by a bigger one
                self._finish_soon()
        return finished

    def grow(self) -> None:
        """Twice the buffer, where the clip is now (a helper thread): in place on a stream that can
        (:mod:`.pulseout`: nothing queued is dropped), else a new stream replaces the old one."""
        try:
            with self._stream_lock:
                if self.stopped or self.ended or not self.stream_open or self.finished.is_set() \
                        or self.stream is None:
                    return
                new = min(max(self.latency_s * 2, 0.05), MAX_LATENCY_S)
                resize = getattr(self.stream, "set_latency", None)
                if resize is None:
                    if not self._reopen(new):
                        return
                elif not resize(new):
                    return
                self.latency_s = float(self.stream.latency)
                self.latency_history.append(self.latency_s)
                self.last_callback = None
            if self.on_grow is not None:
                self.on_grow(self.latency_s)
        except Exception as e:  # noqa: BLE001 - the old stream is gone: report and end
            self.failure = f"playback failed while enlarging the buffer: {type(e).__name__}: {e}"
            self.stream_open = False
            self._finish_soon()
        finally:
            self._growing = False

    def _reopen(self, latency: float) -> bool:
        """Replace the stream with one of ``latency`` seconds, started; False: keep the one we have."""
        sd, old = self._sd, self.stream
        assert old is not None
        self.generation += 1
        try:
            stream = sd.OutputStream(latency=latency, callback=self.callback,
                                     finished_callback=self.finished_callback_for(self.generation),
                                     prime_output_buffers_using_stream_callback=True, **self.open_kw)
        except sd.PortAudioError:
            self.generation -= 1          # keep playing on the stream we have
            return False
        old.abort(ignore_errors=True)
        old.close(ignore_errors=True)
        self.stream = stream
        stream.start()
        return True

    def switch(self, audio: Clip, fade_s: float, at_s: float | None = None, rebase_s: float = 0.0) -> bool:
        """Go on with ``audio`` from the next frame the device is handed, crossfaded over ``fade_s``:
        where the clip playing is (``audio`` shares its time base, ``rebase_s`` later: the clip
        playing started that far into ``audio``), or from ``at_s`` in ``audio`` (a seek).  False
        when this playback cannot (ended, stopped, a loop, or a clip still being generated).

        On a stream that can rewrite what it has queued (:mod:`.pulseout`), the switch starts a few
        tens of milliseconds after what is heard now, crossfading out of what was queued there.  On
        PortAudio's it starts at the next frame handed over, heard once the device's buffer (200 ms
        at "auto") has played (QA70 D1): a new stream primed with the new take would be heard at
        once, but aborting the old one cuts its sound mid-wave, and PulseAudio drops a new stream's
        first milliseconds, the fade-in with them (measured: steps of 0.15-0.24, 1-6 ms gaps)."""
        with self._stream_lock:
            old = self.reader
            rewrite = getattr(self.stream, "rewrite", None)     # (takes back the tail of the clip too)
            if self.stopped or (self.ended and rewrite is None) or self.loop or not self.stream_open \
                    or self.stream is None or self.finished.is_set() or not isinstance(old, (_Reader, _Switch)) \
                    or old.waiting:
                return False
            rate, mix = self.rate, _mix_matrix(audio.channels, self.stream.channels)
            if rebase_s:
                self.parts = [(f, t + rebase_s) for f, t in self.parts]
                self._part, self._shown = (self._part[0], self._part[1] + rebase_s), self._shown + rebase_s

            def make(frames_out: int) -> _Source:          # in the audio callback: the place is exact
                t = self.clip_time(frames_out) if at_s is None else max(float(at_s), 0.0)
                self.parts.append((frames_out, t))
                return _Reader(audio.samples, audio.sample_rate, rate, mix, start=round(t * audio.sample_rate))
            fade = round(fade_s * rate)

            def taken_back(back: int, queued: np.ndarray) -> None:   # libpulse's lock held: no callback runs
                back -= min(self.tail, back)           # silence after the clip's end: not the clip's frames
                self.frames_out -= back
                self.ended, self.tail = False, 0
                self.parts = [p for p in self.parts if p[0] <= self.frames_out] or self.parts[:1]
                self.reader = _Switch(_Played(queued), make, min(fade, len(queued)), lambda: self.frames_out)
            if rewrite is None or not rewrite(taken_back):
                if self.ended:
                    return False
                self.reader = _Switch(old, make, fade, lambda: self.frames_out)
            self.audio = audio
            return True

    def _part_at(self, frame: float) -> tuple[int, float]:
        """The part (see :attr:`parts`) the frame handed over as number ``frame`` belongs to."""
        return next((p for p in reversed(self.parts) if p[0] <= frame), self.parts[0])

    def clip_time(self, frames_out: float, part: tuple[int, float] | None = None) -> float:
        """Where in the clip the frame handed over as number ``frames_out`` is, in seconds (``part``:
        the one it belongs to, when the caller has it)."""
        f, t = part if part is not None else self._part_at(frames_out)
        return t + (frames_out - f) / self.rate

    # -- any thread
    def _finish_soon(self) -> None:
        with self._state_lock:
            if self._finishing:
                return
            self._finishing = True
        try:
            threading.Thread(target=self._finish, name="nodeflow-audition-done", daemon=True).start()
        except RuntimeError:   # interpreter shutting down: no more threads; the atexit hook closes
            self.finished.set()

    def _finish(self) -> None:
        self.close()
        self.finished.set()
        if self.on_done is not None:
            try:
                self.on_done()
            except Exception:  # noqa: BLE001 - a broken listener must not break playback
                log.exception("audition on_done callback failed")

    def close(self) -> None:
        with self._stream_lock:
            if self.stream is not None and self.stream_open:
                try:
                    self.stream.abort(ignore_errors=True)
                    self.stream.close(ignore_errors=True)
                finally:
                    self.stream_open = False

    def stop(self, wait: float = 2.0) -> None:
        if not self.finished.is_set():
            self._shown = self.position_s      # where it was heard, kept: the server's clock goes with the stream
        self.stopped = True
        self.close()
        self._finish_soon()
        self.finished.wait(wait)

    @property
    def position_s(self) -> float:
        """What is heard now: the frames handed over, less the ones still in the device's buffer, in
        the part of the clip they belong to (see :meth:`switch`)."""
        if self.ended and self.finished.is_set():
            return self.audio.duration_s
        ahead = self.latency_s          # handed over but not heard (also once the device died with it queued)
        told = getattr(self.stream, "heard_frames", None) if not (self.finished.is_set() or self.padded) else None
        played = told() if told is not None else None          # (.pulseout: the server says)
        if self.loop:
            heard = (played if played is not None else self.frames_out - ahead * self.rate) / self.rate
            return (self.start_s + max(heard, 0.0)) % self.audio.duration_s if self.audio.duration_s else 0.0
        heard = min(played, self.frames_out) if played is not None else max(self.frames_out - ahead * self.rate, 0.0)
        part = self._part_at(heard)
        pos = min(max(self.clip_time(heard, part), 0.0), self.audio.duration_s)
        if part != self._part:                 # a seek: the playhead goes where it went
            self._part, self._shown = part, pos
        self._shown = max(pos, self._shown)    # a grown buffer does not move it back
        return self._shown

    @property
    def error(self) -> str | None:
        if self.failure:
            return self.failure
        if self.finished.is_set() and not self.ended and not self.stopped:
            return (f"playback stopped at {self.position_s:.2f} of {self.audio.duration_s:.2f} s: the audio "
                    f"device stopped the stream (sound server gone or device unplugged?); {_no_device_hint()}")
        if self.underflows:
            if self.adaptive:
                return (f"{self.underflows} output underflow(s) on a busy machine: you may have heard a gap; the "
                        f"playback buffer grew to {self.latency_s * 1e3:.0f} ms"
                        + (" (its most)" if self.latency_s >= MAX_LATENCY_S - 1e-3 else ""))
            return (f"{self.underflows} output underflow(s): the audio device ran out of samples and you heard "
                    f"gaps; choose a longer playback latency (now {self.latency_s * 1e3:.0f} ms; in the editor: "
                    "Edit > Preferences) or 'auto', which grows it")
        return None


def _still_ahead(time_info: Any) -> bool:
    """Whether PortAudio says the buffer being filled still plays more than :data:`LEAD_MIN_S` after
    now: a callback that came late then ran nothing dry.  A PulseAudio stream that takes a while to
    start asks for the second part of its buffer late, with the first not played yet (QA: a red
    "underflow" on each session's first play, and no gap in the recording).  Hosts that give no
    times (zeros) say nothing: lateness alone counts there."""
    dac, now = (float(getattr(time_info, name, 0.0) or 0.0) for name in ("outputBufferDacTime", "currentTime"))
    return dac > 0.0 and now > 0.0 and dac - now > LEAD_MIN_S


def _raise_priority() -> int | None:
    """Ask for a higher scheduling priority for the calling (audio) thread; its nice value, or None.

    Linux applies ``setpriority`` to one thread when given its id; without the right to (no root,
    no RLIMIT_NICE) the thread keeps its priority and the larger buffer does the work.
    """
    if not hasattr(os, "setpriority") or not hasattr(threading, "get_native_id"):
        return None
    tid = threading.get_native_id()
    for nice in (-11, -5, -1):
        try:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
            return nice
        except OSError:
            continue
    try:
        return os.getpriority(os.PRIO_PROCESS, tid)
    except OSError:
        return None
