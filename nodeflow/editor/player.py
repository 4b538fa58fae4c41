"""A non-blocking sound player: one clip at a time on an output stream (PulseAudio's or PortAudio's).

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

On the default device with a PulseAudio (or PipeWire) server, the player talks to it through
PulseAudio's own API (:mod:`.pulseout`, ``output="auto"``): a seek or an A/B switch rewrites the audio
already queued, and is heard a few tens of milliseconds after the request instead of after the whole
buffer.  Elsewhere (``output="portaudio"``, another device, no such server), the player talks to the
device with a sounddevice ``OutputStream`` and a callback, float32, at the
device's own rate (:func:`~.audiodevice.device_rate`; a clip at another rate is resampled by soxr as
it plays, as a DAW does; at the clip's rate if the device refuses its own), mono/stereo mapped onto
the device's channels.  Missing PortAudio, no device, no sound server
or a refused stream are one :class:`AudioDeviceError` saying how to fix it.

This module holds :class:`Player` (the one-clip-at-a-time control, its buffer choice and what it
learned after underflows), :func:`check_latency` and :func:`default_player`; the rest of the player
is :mod:`.audiodevice` (sounddevice and the output device), :mod:`.playstream` (one play()'s
stream: the audio callback, the buffer grown after underflows, the end) and :mod:`.clipreader`
(the clip handed to the device in blocks).  Their names used elsewhere are importable from here.
"""
from __future__ import annotations

import threading
import time
from types import ModuleType
from typing import Any, Callable

from ..audio import Audio
from ..errors import AudioError, ParameterError
from .audiodevice import AudioDeviceError, _live, _live_lock, _no_device_hint, _outputs, device_rate
from .audiodevice import _output_device as _output_device
from .audiodevice import _sounddevice as _sounddevice
from .clipreader import Clip, _mix_matrix
from .clipreader import _Reader as _Reader
from .playstream import _Session, _Stream

__all__ = ["AudioDeviceError", "Player", "default_player", "check_latency", "LATENCY_NAMES"]

SWITCH_FADE_S = 0.02          # an A/B switch crossfades from one take to the other over this


class Player:
    """Plays one clip at a time on an output stream, without blocking the caller.

    Parameters
    ----------
    device : int, str or None
        PortAudio output device (index or name substring); None: the default output.
    samplerate : int or None
        Play at this device rate (the clip is resampled with soxr); None: the device's own rate
        (:func:`~.audiodevice.device_rate`), or the clip's if the device refuses its own.
    latency : str or float
        The output buffer: ``"auto"`` (default: chosen from the device, grown after an underflow),
        ``"low"`` / ``"high"`` (the device's own figures) or seconds.
    output : str
        ``"auto"`` (default): on the default device, PulseAudio's own API where a PulseAudio (or
        PipeWire) server answers, which lets a seek or an A/B switch rewrite the audio already
        queued (:mod:`.pulseout`); PortAudio otherwise.  ``"portaudio"``: PortAudio always.

    All methods may be called from any thread; the audio callback runs on PortAudio's thread.
    """

    def __init__(self, device: int | str | None = None, *, samplerate: int | None = None,
                 latency: str | float = "auto", output: str = "auto"):
        if samplerate is not None and (isinstance(samplerate, bool) or not isinstance(samplerate, int)
                                       or samplerate <= 0):
            raise ParameterError(f"Player: samplerate={samplerate!r} must be a positive whole number of Hz "
                                 "(e.g. 48000) or None")
        if output not in OUTPUTS:
            raise ParameterError(f"Player: output={output!r} must be one of {', '.join(map(repr, OUTPUTS))}")
        self.device, self.samplerate, self.output = device, samplerate, output
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

    def switch(self, audio: Clip, fade_s: float = SWITCH_FADE_S, *, at_s: float | None = None,
               rebase_s: float = 0.0) -> bool:
        """Go on playing ``audio`` instead of the clip playing now, in the same stream: no gap and,
        over ``fade_s``, a crossfade instead of a click.  From the same place (the next frame handed
        to the device; ``audio`` shares the playing clip's time base, or the clip playing started
        ``rebase_s`` into ``audio``), or from ``at_s`` seconds into ``audio`` (a seek:
        :attr:`position_s` goes there once the device's buffer has played).  False when nothing
        plays, or the playback cannot switch (a loop, a clip still being generated): :meth:`play`
        it then."""
        if not isinstance(audio, Audio):
            return False
        with self._lock:
            return self._session is not None and self._session.switch(audio, fade_s, at_s, rebase_s)

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
                "api": "PulseAudio" if hasattr(st, "rewrite") else "PortAudio",
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
        sd = self.backend()
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

    def backend(self) -> Any:
        """What plays: :mod:`.pulseout`'s stand-in for sounddevice where ``output="auto"``, the
        device is the default and a PulseAudio server answers; the sounddevice module otherwise."""
        if self.output == "auto" and self.device is None:
            from . import pulselib
            if pulselib.connection() is not None:
                from .pulseout import BACKEND
                return BACKEND                 # (the sounddevice module's shape)
        return _sounddevice()

    def _open(self, sd: ModuleType, info: dict[str, Any], session: _Session) -> _Stream:
        """Open ``session``'s stream (not started yet) at the first rate and channel count the device takes."""
        audio, max_out = session.audio, info["max_output_channels"]
        if self.samplerate is not None:
            rates = [self.samplerate]
        else:
            rates = list(dict.fromkeys([device_rate(sd, info), audio.sample_rate]))
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


AUTO_MIN_S, AUTO_MAX_S = 0.2, 0.5     # the "auto" buffer's bounds (it may grow past them: .playstream)
LATENCY_NAMES = ("auto", "low", "high")
OUTPUTS = ("auto", "portaudio")


def check_latency(value: Any) -> None:
    """Refuse a latency setting PortAudio would not take, naming the choices."""
    if isinstance(value, str) and value in LATENCY_NAMES:
        return
    if not isinstance(value, bool) and isinstance(value, (int, float)) and 0 < value <= 2.0:
        return
    raise ParameterError(f"Player: latency={value!r} must be 'auto', 'low', 'high' or seconds in (0, 2] "
                         "(e.g. 0.1)")


_default: Player | None = None
_default_lock = threading.Lock()


def default_player() -> Player:
    """The process-wide player: starting one preview through it stops the other."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Player()
        return _default