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
wrong (underflows, the device went away).  ``on_done`` runs once per ``play()`` when that playback
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
from typing import Any, Callable

import numpy as np

from ..audio import Audio
from ..errors import AudioError, NodeflowError, ParameterError

__all__ = ["AudioDeviceError", "Player", "default_player"]

log = logging.getLogger(__name__)


class AudioDeviceError(NodeflowError):
    """No usable sound output (no PortAudio library, no device, no sound server, stream refused)."""


# ---------------------------------------------------------------------------------------- sounddevice
def _sounddevice():
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
    return sounddevice


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


def _outputs(sd) -> list[str]:
    try:
        return [f"{i}: {d['name']}" for i, d in enumerate(sd.query_devices()) if d["max_output_channels"] > 0]
    except Exception:  # noqa: BLE001 - only used to enrich a message
        return []


def _output_device(sd, device: int | str | None) -> dict:
    """The output device's info dict; re-scans devices once if none is found (a server started since)."""
    for attempt in (0, 1):
        try:
            return sd.query_devices(device, kind="output")
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

    def __init__(self, samples: np.ndarray, in_rate: int, out_rate: int, mix: np.ndarray | None):
        self.x, self.n, self.mix = samples, samples.shape[1], mix
        self.in_rate, self.out_rate = in_rate, out_rate
        self.pos = 0
        self.rs = None
        if in_rate != out_rate:
            import soxr
            self.rs = soxr.ResampleStream(in_rate, out_rate, samples.shape[0], dtype="float32", quality="HQ")
            self.pending = np.empty((0, samples.shape[0]), np.float32)
            self.eof = self.n == 0

    def _next(self, frames: int) -> np.ndarray:
        if self.rs is None:
            a, b = self.pos, min(self.pos + frames, self.n)
            self.pos = b
            return self.x[:, a:b].T
        while len(self.pending) < frames and not self.eof:
            step = int(frames * self.in_rate / self.out_rate) + 64
            a, b = self.pos, min(self.pos + step, self.n)
            self.pos = b
            self.eof = b >= self.n
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

    def __init__(self, audio: Audio, on_done: Callable[[], None] | None, t0: float):
        self.audio, self.on_done, self.t0 = audio, on_done, t0
        self.rate = audio.sample_rate
        self.reader: _Reader | None = None
        self.stream = None
        self.stream_open = False
        self.frames_out = 0            # frames (at the stream's rate) handed to the device
        self.first_buffer_at: float | None = None
        self.underflows = 0
        self.ended = False             # the whole clip was handed over
        self.stopped = False           # stop() or a newer play()
        self.failure: str | None = None
        self.finished = threading.Event()
        self._stream_lock = threading.Lock()   # serialises abort/close of the stream
        self._state_lock = threading.Lock()
        self._finishing = False

    # -- PortAudio's thread
    def callback(self, outdata, frames, time_info, status) -> None:
        sd = self._sd
        try:
            if status.output_underflow:
                self.underflows += 1
            k = self.reader.read(outdata)
            self.frames_out += k
            if self.first_buffer_at is None:
                self.first_buffer_at = time.perf_counter()
        except Exception as e:  # noqa: BLE001 - reported through Player.error
            outdata.fill(0)
            self.failure = f"playback failed in the audio callback: {type(e).__name__}: {e}"
            raise sd.CallbackAbort from None
        if k < frames:
            self.ended = True
            raise sd.CallbackStop

    def finished_callback(self) -> None:
        self._finish_soon()

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
        if self.ended and self.finished.is_set():
            return self.audio.duration_s
        return min(self.frames_out / self.rate, self.audio.duration_s)

    @property
    def error(self) -> str | None:
        if self.failure:
            return self.failure
        if self.finished.is_set() and not self.ended and not self.stopped:
            return (f"playback stopped at {self.position_s:.2f} of {self.audio.duration_s:.2f} s: the audio "
                    f"device stopped the stream (sound server gone or device unplugged?); {_no_device_hint()}")
        if self.underflows:
            return (f"{self.underflows} output underflow(s): the audio device ran out of samples and you "
                    "heard gaps; close busy programs or use Player(latency='high')")
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
        PortAudio latency, ``"low"``, ``"high"`` (default: fewer underflows on a busy machine) or seconds.

    All methods may be called from any thread; the audio callback runs on PortAudio's thread.
    """

    def __init__(self, device: int | str | None = None, *, samplerate: int | None = None,
                 latency: str | float = "high"):
        if samplerate is not None and (isinstance(samplerate, bool) or not isinstance(samplerate, int)
                                       or samplerate <= 0):
            raise ParameterError(f"Player: samplerate={samplerate!r} must be a positive whole number of Hz "
                                 "(e.g. 48000) or None")
        self.device, self.samplerate, self.latency = device, samplerate, latency
        self._lock = threading.RLock()
        self._session: _Session | None = None
        self._ticket = 0

    # -- control
    def play(self, audio: Audio, on_done: Callable[[], None] | None = None) -> None:
        """Start playing ``audio`` (stopping what plays now) and return at once.

        Raises :class:`AudioDeviceError` when there is no usable output (the message says how to fix
        it).  ``on_done`` runs once when this playback ends for any reason, on a background thread.
        """
        t0 = time.perf_counter()
        if not isinstance(audio, Audio):
            raise AudioError(f"play() needs an Audio clip; got {type(audio).__name__}")
        with self._lock:
            self._ticket += 1
            self._play_locked(audio, on_done, t0)

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

    # -- state
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
                "latency_s": st.latency, "device": st.device}

    # -- used by audition(): the latest press wins
    def _reserve(self) -> int:
        with self._lock:
            self._ticket += 1
            if self._session is not None:
                self._session.stop()
            return self._ticket

    def _play_if_current(self, ticket: int, audio: Audio, on_done: Callable[[], None] | None) -> bool:
        with self._lock:
            if ticket != self._ticket:
                return False
            self._play_locked(audio, on_done, time.perf_counter())
            return True

    def _play_locked(self, audio: Audio, on_done, t0: float) -> None:
        if self._session is not None:
            self._session.stop()
        sd = _sounddevice()
        info = _output_device(sd, self.device)
        if info["max_output_channels"] < 1:
            raise AudioDeviceError(f"audio device {info['name']!r} has no output channels; {_no_device_hint()}")
        session = _Session(audio, on_done, t0)
        session._sd = sd
        self._open(sd, info, session)
        with _live_lock:
            _live.add(session)
        self._session = session
        try:
            session.stream.start()
        except sd.PortAudioError as e:
            session.close()
            self._session = None
            raise AudioDeviceError(f"cannot start audio output {info['name']!r}: {e}; {_no_device_hint()}") from None

    def _open(self, sd, info: dict, session: _Session) -> None:
        audio, max_out = session.audio, info["max_output_channels"]
        if self.samplerate is not None:
            rates = [self.samplerate]
        else:
            rates = list(dict.fromkeys([audio.sample_rate, int(info["default_samplerate"])]))
        want = max(audio.channels, 2)
        chans = list(dict.fromkeys(c for c in (min(want, max_out), 2, 1, max_out) if 1 <= c <= max_out))
        last: Exception | None = None
        for rate in rates:
            for ch in chans:
                try:
                    stream = sd.OutputStream(device=info["index"], samplerate=rate, channels=ch, dtype="float32",
                                             latency=self.latency, callback=session.callback,
                                             finished_callback=session.finished_callback)
                except sd.PortAudioError as e:
                    last = e
                    continue
                session.reader = _Reader(audio.samples, audio.sample_rate, rate, _mix_matrix(audio.channels, ch))
                session.rate, session.stream, session.stream_open = rate, stream, True
                return
        raise AudioDeviceError(f"audio output {info['name']!r} refuses {audio.sample_rate} Hz x {audio.channels} "
                               f"ch float32 ({last}); pick another output with Player(device=...) (outputs: "
                               f"{', '.join(_outputs(sd)) or 'none'})")


_default: Player | None = None
_default_lock = threading.Lock()


def default_player() -> Player:
    """The process-wide player: starting one preview through it stops the other."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Player()
        return _default
