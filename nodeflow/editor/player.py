"""A non-blocking sound player: one clip at a time on a sounddevice output stream.

Usage (this module never imports dearpygui; :mod:`nodeflow.editor.audition` re-exports its names)
-------------------------------------------------------------------------------------------------
>>> from nodeflow.editor.player import AudioDeviceError, Player, default_player
>>> player = default_player()                    # one per process: a new play() stops the old one
>>> try:                                         # doctest: +SKIP
...     player.play(audio, on_done=lambda: ...)  # returns at once
... except AudioDeviceError as e:                # no sound device/server: show str(e), no crash
...     show_message(str(e))
>>> player.playing, player.position_s, player.duration_s, player.error   # doctest: +SKIP
>>> player.stop()                                # doctest: +SKIP

Poll ``position_s`` once per frame to draw the playhead; ``error`` is ``None`` unless something went
wrong (underflows, the device went away).

**Steady on a busy machine.**  The buffer is chosen from the device (``latency="auto"``, the default:
three times the device's own high-latency figure, at least 200 ms, at most 500 ms; the buffer is
filled from the clip before the stream starts, so a larger buffer does not delay the first sound).
When the device runs dry anyway (an underflow reported by PortAudio, or a callback that came later
than the whole buffer lasts) the stream is reopened with twice the buffer, up to 1 s, at the same
place in the clip, by a helper thread (never the UI's); the next clips start with the grown buffer.
The audio callback takes no lock the UI holds and only copies samples; it asks the OS for a higher
priority for its thread where that is allowed.  A fixed ``latency`` (``"low"``, ``"high"`` or
seconds) is kept as set.  ``on_done`` runs once per ``play()`` when that playback
ends for any reason (played to the end, ``stop()``, replaced by another ``play()``, device failure),
on a short-lived background thread: neither the UI thread nor PortAudio's.

The player talks to the device with a sounddevice ``OutputStream`` and a callback, float32, at the
clip's rate (resampled with soxr to the device's default rate only if the device refuses the clip's
rate), mono/stereo mapped onto the device's channels.  Missing PortAudio, no device, no sound server
or a refused stream are one :class:`AudioDeviceError` saying how to fix it.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from types import ModuleType
from typing import Any, Callable, Protocol

import numpy as np

from ..audio import Audio
from ..errors import AudioError, NodeflowError, ParameterError

__all__ = ["AudioDeviceError", "Player", "default_player", "check_latency", "LATENCY_NAMES"]

log = logging.getLogger(__name__)


class AudioDeviceError(NodeflowError):
    """No usable sound output (no PortAudio library, no device, no sound server, stream refused)."""


class Clip(Protocol):
    """What the player plays: an :class:`~nodeflow.Audio`, or a clip that grows as it is generated
    (:class:`.live.LiveClip`, which also has ``make_reader``)."""

    @property
    def sample_rate(self) -> int: ...
    @property
    def channels(self) -> int: ...
    @property
    def samples(self) -> np.ndarray: ...
    @property
    def duration_s(self) -> float: ...


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


# ---------------------------------------------------------------------------------------- sounddevice
def _sounddevice() -> ModuleType:
    """Import sounddevice, turning a missing library into one clear AudioDeviceError."""
    try:
        import sounddevice
    except OSError as e:   # sounddevice is installed but libportaudio is not
        raise AudioDeviceError(
            f"cannot play sound: the PortAudio library is missing ({e}); install it "
            "(Debian/Ubuntu: apt-get install libportaudio2; macOS: brew install portaudio)") from None
    except ImportError as e:
        if e.name != "sounddevice":   # macOS/Windows: its bundled PortAudio binaries are missing
            raise AudioDeviceError(f"cannot play sound: the PortAudio library is missing ({e}); "
                                   "reinstall sounddevice or install PortAudio") from None
        raise AudioDeviceError("cannot play sound: the sounddevice package is not installed; "
                               "install the editor extra: pip install 'audiochain[editor]'") from None
    global _atexit_hooked
    if not _atexit_hooked:   # registered after sounddevice's own hook, so it runs before PortAudio ends
        atexit.register(_close_all)
        _atexit_hooked = True
    sd: ModuleType = sounddevice      # (untyped: attributes are Any)
    return sd


_live: "weakref.WeakSet[_Session]" = weakref.WeakSet()   # sessions whose stream may still be open
_live_lock = threading.Lock()
_atexit_hooked = False


def _close_all() -> None:
    """At exit: close every open stream ourselves rather than racing PortAudio's own teardown."""
    with _live_lock:
        sessions = list(_live)
    for s in sessions:
        s.stopped = True
        s.close()


def _no_device_hint() -> str:
    server = os.environ.get("PULSE_SERVER")
    where = (f" (PULSE_SERVER={server} is set: is a PulseAudio server listening there?)" if server else "")
    return ("start a sound server (PulseAudio or PipeWire, e.g. `pulseaudio --start`)" + where +
            ", connect a sound card, or choose an output with Player(device=...)")


def _outputs(sd: ModuleType) -> list[str]:
    try:
        return [f"{i}: {d['name']}" for i, d in enumerate(sd.query_devices()) if d["max_output_channels"] > 0]
    except Exception:  # noqa: BLE001 - only used to enrich a message
        return []


def _output_device(sd: ModuleType, device: int | str | None) -> dict[str, Any]:
    """The output device's info dict; re-scans devices once if none is found (a server started since)."""
    for attempt in (0, 1):
        try:
            info: dict[str, Any] = sd.query_devices(device, kind="output")
            return info
        except sd.PortAudioError as e:
            err: Exception = e
        except ValueError as e:   # a name or index that matches no output
            outs = _outputs(sd)
            raise AudioDeviceError(f"audio output device {device!r} not found ({e}); available outputs: "
                                   f"{', '.join(outs) if outs else 'none'}") from None
        with _live_lock:
            busy = any(s.stream_open for s in _live)
        if attempt or busy:
            break
        try:   # PortAudio lists devices once at start-up: look again (never while a stream is open)
            sd._terminate()
            sd._initialize()
        except Exception:  # noqa: BLE001
            break
    raise AudioDeviceError(f"no audio output device (PortAudio: {err}); {_no_device_hint()}") from None


def _mix_matrix(inputs: int, outputs: int) -> np.ndarray | None:
    """``[inputs, outputs]`` gains mapping clip channels onto device channels (None: identity)."""
    if inputs == outputs:
        return None
    m = np.zeros((inputs, outputs), np.float32)
    if inputs == 1:
        m[0, :] = 1.0                        # mono on every speaker
    elif outputs == 1:
        m[:, 0] = 1.0 / inputs               # average to mono
    elif inputs < outputs:
        m[np.arange(inputs), np.arange(inputs)] = 1.0   # stereo on the first two of many
    else:
        for i in range(inputs):              # fold extra channels onto the outputs, level kept
            m[i, i % outputs] = 1.0
        m /= np.maximum(m.sum(axis=0, keepdims=True), 1.0)
    return m


class _Reader:
    """Hands out device-ready blocks ``[frames, out_channels]`` of a clip, resampling on the fly."""

    waiting = False          # a growing clip's reader waits for more (silence that is not the end: see .live)

    def __init__(self, samples: np.ndarray, in_rate: int, out_rate: int, mix: np.ndarray | None,
                 loop: bool = False, start: int = 0):
        self.x, self.n, self.mix = samples, samples.shape[1], mix
        self.in_rate, self.out_rate = in_rate, out_rate
        self.loop = loop and self.n > 0      # wrap around at the end, for ever (until stopped)
        self.pos = min(max(int(start), 0), self.n)
        self.rs = None
        if in_rate != out_rate:
            import soxr
            self.rs = soxr.ResampleStream(in_rate, out_rate, samples.shape[0], dtype="float32", quality="HQ")
            self.pending = np.empty((0, samples.shape[0]), np.float32)
            self.eof = self.n == 0

    def _next(self, frames: int) -> np.ndarray:
        if self.rs is None:
            if self.loop and self.pos + frames > self.n:
                parts, want = [], frames
                while want:
                    if self.pos >= self.n:
                        self.pos = 0
                    a, b = self.pos, min(self.pos + want, self.n)
                    parts.append(self.x[:, a:b].T)
                    self.pos, want = b, want - (b - a)
                return np.concatenate(parts)
            a, b = self.pos, min(self.pos + frames, self.n)
            self.pos = b
            return self.x[:, a:b].T
        while len(self.pending) < frames and not self.eof:
            step = int(frames * self.in_rate / self.out_rate) + 64
            if self.loop and self.pos >= self.n:
                self.pos = 0
            a, b = self.pos, min(self.pos + step, self.n)
            self.pos = b
            self.eof = b >= self.n and not self.loop
            y = self.rs.resample_chunk(np.ascontiguousarray(self.x[:, a:b].T), last=self.eof)
            self.pending = np.concatenate([self.pending, y]) if len(self.pending) else y
        block, self.pending = self.pending[:frames], self.pending[frames:]
        return block

    def read(self, out: np.ndarray) -> int:
        """Fill ``out`` (zeros after the clip's end); returns how many frames came from the clip."""
        block = self._next(len(out))
        k = len(block)
        if self.mix is None:
            out[:k] = block
        elif k:
            np.matmul(block, self.mix, out=out[:k])
        out[k:] = 0.0
        return k


class _Session:
    """One play(): its stream, its counters and its end, reported exactly once."""

    def __init__(self, sd: ModuleType, audio: Clip, on_done: Callable[[], None] | None, t0: float,
                 loop: bool = False, start_s: float = 0.0):
        self._sd = sd                  # the sounddevice module
        self.audio, self.on_done, self.t0 = audio, on_done, t0
        self.loop, self.start_s = loop, start_s     # a loop plays the clip round and round from start_s
        self.rate = audio.sample_rate
        self.reader: _Reader | None = None
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
        self._growing = False
        self.priority: int | None = None
        self.on_grow: Callable[[float], None] | None = None

    # -- PortAudio's thread
    def callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        sd, reader = self._sd, self.reader
        try:
            if reader is None:
                raise RuntimeError("the stream started before its reader was set")
            now = time.perf_counter()
            starved = bool(status.output_underflow)
            if self.last_callback is not None and now - self.last_callback > self.latency_s > 0:
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
        """Reopen the stream with twice the buffer, where the clip is now (a helper thread)."""
        sd = self._sd
        try:
            with self._stream_lock:
                if self.stopped or self.ended or not self.stream_open or self.finished.is_set() \
                        or self.stream is None:
                    return
                new = min(max(self.latency_s * 2, 0.05), MAX_LATENCY_S)
                old = self.stream
                self.generation += 1
                try:
                    stream = sd.OutputStream(latency=new, callback=self.callback,
                                             finished_callback=self.finished_callback_for(self.generation),
                                             prime_output_buffers_using_stream_callback=True, **self.open_kw)
                except sd.PortAudioError:
                    self.generation -= 1          # keep playing on the stream we have
                    return
                old.abort(ignore_errors=True)
                old.close(ignore_errors=True)
                self.stream, self.latency_s = stream, float(stream.latency)
                self.latency_history.append(self.latency_s)
                self.last_callback = None
                stream.start()
            if self.on_grow is not None:
                self.on_grow(self.latency_s)
        except Exception as e:  # noqa: BLE001 - the old stream is gone: report and end
            self.failure = f"playback failed while enlarging the buffer: {type(e).__name__}: {e}"
            self.stream_open = False
            self._finish_soon()
        finally:
            self._growing = False

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
        self.stopped = True
        self.close()
        self._finish_soon()
        self.finished.wait(wait)

    @property
    def position_s(self) -> float:
        """What is heard now: the frames handed over, less the ones still in the device's buffer."""
        if self.ended and self.finished.is_set():
            return self.audio.duration_s
        ahead = self.latency_s if not self.finished.is_set() else 0.0
        if self.loop:
            heard = self.frames_out / self.rate - ahead
            return (self.start_s + max(heard, 0.0)) % self.audio.duration_s if self.audio.duration_s else 0.0
        pos = min(max(self.frames_out / self.rate - ahead, 0.0), self.audio.duration_s)
        self._shown = max(pos, getattr(self, "_shown", 0.0))   # a grown buffer does not move it back
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


# ---------------------------------------------------------------------------------------- player
class Player:
    """Plays one clip at a time on a sounddevice output stream, without blocking the caller.

    Parameters
    ----------
    device : int, str or None
        PortAudio output device (index or name substring); None: the default output.
    samplerate : int or None
        Play at this device rate (the clip is resampled with soxr); None: the clip's own rate,
        or the device's default rate if the device refuses it.
    latency : str or float
        The output buffer: ``"auto"`` (default: chosen from the device, grown after an underflow),
        ``"low"`` / ``"high"`` (the device's own figures) or seconds.

    All methods may be called from any thread; the audio callback runs on PortAudio's thread.
    """

    def __init__(self, device: int | str | None = None, *, samplerate: int | None = None,
                 latency: str | float = "auto"):
        if samplerate is not None and (isinstance(samplerate, bool) or not isinstance(samplerate, int)
                                       or samplerate <= 0):
            raise ParameterError(f"Player: samplerate={samplerate!r} must be a positive whole number of Hz "
                                 "(e.g. 48000) or None")
        self.device, self.samplerate = device, samplerate
        self.latency = latency
        self._lock = threading.RLock()
        self._session: _Session | None = None
        self._ticket = 0

    # -- control
    def play(self, audio: Clip, on_done: Callable[[], None] | None = None, *, loop: bool = False,
             start_s: float = 0.0) -> None:
        """Start playing ``audio`` (stopping what plays now) and return at once.

        Raises :class:`AudioDeviceError` when there is no usable output (the message says how to fix
        it).  ``on_done`` runs once when this playback ends for any reason, on a background thread.
        ``loop=True`` plays the clip round and round, from ``start_s`` into it, until stopped
        (``position_s`` then wraps).
        """
        t0 = time.perf_counter()
        if not isinstance(audio, Audio) and not hasattr(audio, "make_reader"):   # (a growing clip: .live)
            raise AudioError(f"play() needs an Audio clip; got {type(audio).__name__}")
        with self._lock:
            self._ticket += 1
            self._play_locked(audio, on_done, t0, loop, start_s)

    def stop(self) -> None:
        """Stop playback (and cancel a pending :func:`audition`); the position stays where it stopped."""
        with self._lock:
            self._ticket += 1
            if self._session is not None:
                self._session.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current playback has ended; False if ``timeout`` seconds passed first."""
        s = self._session
        return True if s is None else s.finished.wait(timeout)

    @property
    def latency(self) -> str | float:
        """The latency setting (``"auto"``, ``"low"``, ``"high"`` or seconds); applies from the next play."""
        return self._latency

    @latency.setter
    def latency(self, value: str | float) -> None:
        check_latency(value)
        self._latency = value
        self._learned: float | None = None      # "auto": the buffer grown on this machine so far

    # -- state
    @property
    def underflows(self) -> int:
        """Underflows of the current (or last) playback."""
        s = self._session
        return 0 if s is None else s.underflows

    @property
    def latency_s(self) -> float | None:
        """The buffer of the current (or last) stream, seconds."""
        s = self._session
        return None if s is None or not s.latency_s else s.latency_s

    @property
    def latency_history(self) -> list[float]:
        """The buffers the current (or last) playback used, in order (more than one: it grew)."""
        s = self._session
        return [] if s is None else list(s.latency_history)

    @property
    def playing(self) -> bool:
        s = self._session
        return s is not None and not s.finished.is_set()

    @property
    def position_s(self) -> float:
        """Playhead in seconds of the clip, from the frames handed to the device so far."""
        s = self._session
        return 0.0 if s is None else s.position_s

    @property
    def duration_s(self) -> float:
        s = self._session
        return 0.0 if s is None else s.audio.duration_s

    @property
    def error(self) -> str | None:
        """What went wrong with the current (or last) playback, or None."""
        s = self._session
        return None if s is None else s.error

    @property
    def first_buffer_s(self) -> float | None:
        """Seconds from ``play()`` to the first buffer handed to the device (None until then)."""
        s = self._session
        return None if s is None or s.first_buffer_at is None else s.first_buffer_at - s.t0

    @property
    def stream_info(self) -> dict[str, Any] | None:
        """Rate, channels, blocksize and latency of the open (or last) stream."""
        s = self._session
        if s is None or s.stream is None:
            return None
        st = s.stream
        return {"samplerate": st.samplerate, "channels": st.channels, "blocksize": st.blocksize,
                "latency_s": st.latency, "device": st.device, "setting": self._latency,
                "underflows": s.underflows, "grown": len(s.latency_history) > 1, "nice": s.priority}

    # -- used by audition(): the latest press wins
    def _reserve(self) -> int:
        with self._lock:
            self._ticket += 1
            if self._session is not None:
                self._session.stop()
            return self._ticket

    def _play_if_current(self, ticket: int, audio: Clip, on_done: Callable[[], None] | None) -> bool:
        with self._lock:
            if ticket != self._ticket:
                return False
            self._play_locked(audio, on_done, time.perf_counter())
            return True

    def _play_locked(self, audio: Clip, on_done: Callable[[], None] | None, t0: float, loop: bool = False,
                     start_s: float = 0.0) -> None:
        if self._session is not None:
            self._session.stop()
        sd = _sounddevice()
        info = _output_device(sd, self.device)
        if info["max_output_channels"] < 1:
            raise AudioDeviceError(f"audio device {info['name']!r} has no output channels; {_no_device_hint()}")
        session = _Session(sd, audio, on_done, t0, loop, start_s)
        stream = self._open(sd, info, session)
        with _live_lock:
            _live.add(session)
        self._session = session
        try:
            stream.start()
        except sd.PortAudioError as e:
            session.close()
            self._session = None
            raise AudioDeviceError(f"cannot start audio output {info['name']!r}: {e}; {_no_device_hint()}") from None

    def _open(self, sd: ModuleType, info: dict[str, Any], session: _Session) -> _Stream:
        """Open ``session``'s stream (not started yet) at the first rate and channel count the device takes."""
        audio, max_out = session.audio, info["max_output_channels"]
        if self.samplerate is not None:
            rates = [self.samplerate]
        else:
            rates = list(dict.fromkeys([audio.sample_rate, int(info["default_samplerate"])]))
        want = max(audio.channels, 2)
        chans = list(dict.fromkeys(c for c in (min(want, max_out), 2, 1, max_out) if 1 <= c <= max_out))
        last: Exception | None = None
        latency = self._buffer_s(info)
        for rate in rates:
            for ch in chans:
                kw = dict(device=info["index"], samplerate=rate, channels=ch, dtype="float32")
                try:
                    stream: _Stream = sd.OutputStream(latency=latency, callback=session.callback,
                                             finished_callback=session.finished_callback_for(0),
                                             prime_output_buffers_using_stream_callback=True, **kw)
                except sd.PortAudioError as e:
                    last = e
                    continue
                make = getattr(audio, "make_reader", None)       # a growing clip reads itself (.live)
                how = (rate, _mix_matrix(audio.channels, ch), session.loop, int(session.start_s * audio.sample_rate))
                session.reader = make(*how) if make else _Reader(audio.samples, audio.sample_rate, *how)
                session.rate, session.stream, session.stream_open = rate, stream, True
                session.open_kw, session.latency_s = kw, float(stream.latency)
                session.latency_history = [session.latency_s]
                session.adaptive = self._latency == "auto"
                session.on_grow = self._grown
                return stream
        raise AudioDeviceError(f"audio output {info['name']!r} refuses {audio.sample_rate} Hz x {audio.channels} "
                               f"ch float32 ({last}); pick another output with Player(device=...) (outputs: "
                               f"{', '.join(_outputs(sd)) or 'none'})")


    def _buffer_s(self, info: dict[str, Any]) -> float | str:
        """The buffer to open a stream with: the setting, or for "auto" the device's high-latency
        figure times three (200-500 ms), or what this player grew to after underflows."""
        if self._latency != "auto":
            return self._latency
        if self._learned is not None:
            return self._learned
        high = float(info.get("default_high_output_latency") or 0.0)
        return min(max(3 * high, AUTO_MIN_S), AUTO_MAX_S)

    def _grown(self, latency_s: float) -> None:
        if self._latency == "auto":
            self._learned = latency_s


AUTO_MIN_S, AUTO_MAX_S, MAX_LATENCY_S = 0.2, 0.5, 1.0
TAIL_MARGIN_S = 0.05
LATENCY_NAMES = ("auto", "low", "high")


def check_latency(value: Any) -> None:
    """Refuse a latency setting PortAudio would not take, naming the choices."""
    if isinstance(value, str) and value in LATENCY_NAMES:
        return
    if not isinstance(value, bool) and isinstance(value, (int, float)) and 0 < value <= 2.0:
        return
    raise ParameterError(f"Player: latency={value!r} must be 'auto', 'low', 'high' or seconds in (0, 2] "
                         "(e.g. 0.1)")


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


_default: Player | None = None
_default_lock = threading.Lock()


def default_player() -> Player:
    """The process-wide player: starting one preview through it stops the other."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Player()
        return _default
