"""Auditioning node outputs from the editor: compute what a node needs, then play it.

Pressing *play* on an audio output plays the value from the last run when it still matches the
graph (no engine work at all); otherwise the :class:`~.runner.Runner` runs the graph with
``targets=[node]`` on its background thread (upstream results come from the cache) and playback
starts when that finishes.  The sound goes through :mod:`nodeflow.editor.audition`'s process-wide
player, so starting one preview stops the other.  A missing sound device is a message in the status
bar, never a crash.  This module does not import dearpygui.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from ..audio import Audio
from ..errors import NodeflowError
from ..graph import Graph
from .runner import Runner

__all__ = ["Auditioner", "as_audio", "preview_envelope"]


def as_audio(value: Any) -> Audio | None:
    """An output value as one playable clip: ``Audio`` as is, a list of clips one after another."""
    if isinstance(value, Audio):
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Audio) for v in value):
        rate = value[0].sample_rate
        clips = [v for v in value if v.sample_rate == rate]
        ch = max(v.samples.shape[0] for v in clips)
        parts = [np.broadcast_to(v.samples, (ch, v.samples.shape[1])) if v.samples.shape[0] != ch else v.samples
                 for v in clips]
        return Audio(np.ascontiguousarray(np.concatenate(parts, axis=1), dtype=np.float32), rate)
    return None


def preview_envelope(value: Any, points: int = 600):
    """``(times_s, mins, maxs)`` for a waveform preview, or None for a value that is not audio."""
    audio = as_audio(value)
    if audio is None or audio.samples.shape[1] == 0:
        return None
    from .audition import envelope
    return envelope(audio, points=points)


class Auditioner:
    """Play/stop for audio outputs, with a status message for everything that happens.

    Parameters
    ----------
    runner
        The editor's runner (its executor cache serves auditions).
    player
        A callable returning the player (default: ``audition.default_player``).
    """

    def __init__(self, runner: Runner, player: Callable[[], Any] | None = None):
        self.runner = runner
        self._player_fn = player
        self.messages: list[tuple[str, bool]] = []      # (text, is_error) for the status bar
        self.now: tuple[str, str] | None = None         # the (node, port) playing or about to play
        self.pending: tuple[str, str] | None = None     # waiting for its computation
        self.last_press: float | None = None            # perf_counter when play was pressed
        self.last_call: float | None = None             # perf_counter just before player.play()
        self.offset_s = 0.0                             # where in the clip playback started
        self._warned: str | None = None
        self.latency: Any = None                        # the preference; None: the player's default

    def warm_up(self) -> None:
        """Start PortAudio and find the output on a background thread, so the first press of play
        does not pay for it (tens of ms, far more on a busy machine).  Errors wait for that press."""
        import threading

        def go():
            try:
                from .player import _output_device, _sounddevice
                p = self.player()
                _output_device(_sounddevice(), p.device)
            except Exception:  # noqa: BLE001 - reported when the user presses play
                pass
        threading.Thread(target=go, name="nodeflow-audio-warmup", daemon=True).start()

    def player(self):
        if self._player_fn is None:
            from .player import default_player
            self._player_fn = default_player
        p = self._player_fn()
        if self.latency is not None and getattr(p, "latency", self.latency) != self.latency:
            p.latency = self.latency
        return p

    def _say(self, text: str, error: bool = False) -> None:
        self.messages.append((text, error))

    def play(self, graph: Graph, nid: str, port: str) -> None:
        """Play ``nid.port``: now from the last run's value, or after computing what it needs."""
        self.last_press = time.perf_counter()
        self.stop()
        self.last_call = None
        value = self.runner.output(graph, nid, port)
        if value is not None:
            self._start(nid, port, value)
            return
        try:
            self.runner.run(graph, [nid], kind="audition",
                            on_done=lambda res, err: self._computed(nid, port, res, err))
        except NodeflowError as e:
            self._say(f"cannot audition {nid}.{port}: " + str(e).splitlines()[0]
                      + (" (and more; see Graph > Validate)" if "\n" in str(e) else ""), True)
            return
        self.pending = (nid, port)
        self._say(f"computing {nid} to audition it...")

    def _computed(self, nid: str, port: str, result: Any, err: BaseException | None) -> None:
        if self.pending != (nid, port):
            return       # stopped, or another preview was asked for meanwhile
        self.pending = None
        if err is not None:
            self._say(f"cannot audition {nid}.{port}: {str(err).splitlines()[0]}", True)
            return
        self._start(nid, port, result[nid][port])

    def play_value(self, key: tuple[str, str], value: Any, start_s: float = 0.0) -> None:
        """Play a value that is not a node's current output (a sweep variant), from ``start_s``."""
        self.last_press = time.perf_counter()
        self.stop()
        self._start(key[0], key[1], value, start_s)

    def _start(self, nid: str, port: str, value: Any, start_s: float = 0.0) -> None:
        audio = as_audio(value)
        if audio is not None and start_s > 0:
            skip = min(int(start_s * audio.sample_rate), max(audio.samples.shape[1] - 1, 0))
            audio = Audio(np.ascontiguousarray(audio.samples[:, skip:]), audio.sample_rate)
        self.offset_s = start_s if audio is not None else 0.0
        if audio is None:
            self._say(f"{nid}.{port} is not audio", True)
            return
        try:
            from .player import AudioDeviceError
        except ImportError as e:
            self._say(f"audio playback is unavailable: {e}", True)
            return
        try:
            player = self.player()
            self.last_call = time.perf_counter()
            player.play(audio)
        except AudioDeviceError as e:
            self._say(str(e), True)
            return
        except (NodeflowError, OSError) as e:
            self._say(f"cannot play {nid}.{port}: {e}", True)
            return
        self.now = (nid, port)
        self._say(f"playing {nid}.{port} ({audio.samples.shape[1] / audio.sample_rate:.1f} s)")

    def press_to_first_buffer_s(self) -> float | None:
        """Seconds from the last press of play to the first buffer handed to the sound device."""
        fb = self.player().first_buffer_s if self.last_call is not None else None
        return None if fb is None else (self.last_call - self.last_press) + fb

    def stop(self) -> None:
        self.pending = None
        if self.now is not None:
            try:
                self.player().stop()
            except Exception:  # noqa: BLE001 - stopping must never fail the UI
                pass
        self.now = None

    def playhead(self) -> tuple[str, str, float] | None:
        """``(node, port, seconds)`` while something plays; clears ``now`` when it ended."""
        if self.now is None:
            return None
        p = self.player()
        if not p.playing:
            if p.error and p.error != self._warned and not getattr(p, "underflows", 0):
                self._say(f"playback stopped: {p.error}", True)
            self.now = None
            return None
        if p.error and p.error != self._warned:
            self._warned = p.error          # e.g. an underflow on a busy machine: say so, keep playing
            self._say(p.error, True)
        return self.now[0], self.now[1], self.offset_s + float(p.position_s)
