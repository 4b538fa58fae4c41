"""Auditioning node outputs from the editor: compute what a node needs, then play it.

Pressing *play* on an audio output plays the value from the last run when it still matches the
graph (no engine work at all); otherwise the :class:`~.runner.Runner` runs the graph with
``targets=[node]`` on its background thread (upstream results come from the cache) and playback
starts when that finishes.  The sound goes through :mod:`nodeflow.editor.audition`'s process-wide
player, so starting one preview stops the other.  A missing sound device is a message in the status
bar, never a crash.  What an output value plays as (one clip), and how that clip reads on its
waveform, are plain functions of the value: :mod:`.clips`.  This module does not import dearpygui.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..audio import Audio
from ..errors import NodeflowError
from ..executor import RunResult
from ..graph import Graph
from .clipreader import LOOP_FADE_S, seamless_loop
from .clips import Clip, as_audio, peak_dbfs
from .clips import preview_envelope, tempo_info, time_ticks  # noqa: F401  (re-exported: see __all__)
from .filedecode import DecodedFiles, file_stamp, written_files
from .levels import Meter, export_target, note
from .live import LiveClip
from .player import Player
from .runner import Runner

__all__ = ["Auditioner", "as_audio", "peak_dbfs", "preview_envelope", "tempo_info", "time_ticks"]

LOOP_MIN_S = 0.05             # a shorter loop region is a slip of the mouse


def _louder(audio: Audio, gain_db: float) -> Audio:
    """``audio`` ``gain_db`` louder (a level-matched A/B take)."""
    if not gain_db:
        return audio
    return Audio(audio.samples * np.float32(10 ** (gain_db / 20)), audio.sample_rate, info=audio.info)


def _from(audio: Audio, start_s: float) -> Audio:
    """``audio`` from ``start_s`` on (at least its last frame): what a stream started there plays."""
    skip = min(int(start_s * audio.sample_rate), max(audio.samples.shape[1] - 1, 0))
    return audio if skip <= 0 else Audio(np.ascontiguousarray(audio.samples[:, skip:]), audio.sample_rate)


def _not_audio(nid: str, port: str, value: Any) -> str:
    """Why output ``nid.port`` (``value``) cannot be played, in one line: a path to a file gone since the run
    (QA108: an export's file deleted said "no file written yet" while its node showed it written), or not
    audio at all."""
    if isinstance(value, str) and value and (Path(value).suffix or "/" in value):
        if Path(value).exists():
            return f"{nid}.{port} is not audio: {Path(value).name} is not a file AudioChain can play"
        return (f"cannot play {nid}.{port}: {Path(value).name} is not there any more (moved or deleted since the "
                f"run); Run (F5) writes it again")
    return f"{nid}.{port} is not audio" + (" (no file written yet)" if isinstance(value, str) else "")


class Auditioner:
    """Play/stop for audio outputs, with a status message for everything that happens.

    Parameters
    ----------
    runner
        The editor's runner (its executor cache serves auditions).
    player
        A callable returning the player (default: ``audition.default_player``).
    """

    def __init__(self, runner: Runner, player: Callable[[], Player] | None = None):
        self.runner = runner
        self._player_fn = player
        self.messages: list[tuple[str, bool]] = []      # (text, is_error) for the status bar
        self.now: tuple[str, str] | None = None         # the (node, port) playing or about to play
        self.pending: tuple[str, str] | None = None     # waiting for its computation
        self.last_press: float | None = None            # perf_counter when play was pressed
        self.last_call: float | None = None             # perf_counter just before player.play()
        self.offset_s = 0.0                             # where in the clip playback started
        self._warned: str | None = None
        self._now_said = ""                             # the last "playing ..." message
        self.latency: str | float | None = None         # the preference; None: the player's default
        self.clip: Clip | None = None                   # the whole clip playing or paused (gain applied)
        self.paused: tuple[tuple[str, str], float] | None = None   # (node, port), seconds: resume there
        self.loop: tuple[tuple[str, str], float, float] | None = None   # (node, port), start, end: the loop
        #   region, kept until cleared (a click on its waveform, Stop pressed again), looping whenever it plays
        self.loop_mark: tuple[tuple[str, str], float] | None = None     # the first shift+click of a loop
        self._graph: Graph | None = None                # the graph of the last play()
        self.files = DecodedFiles()                     # written files (exports) decoded off the UI thread
        self.levels = Meter()                           # previews' loudness, for the note on their export

    def warm_up(self) -> None:
        """Connect to the sound server (or start PortAudio) and find the output on a background thread, so the first press of play
        does not pay for it (tens of ms, far more on a busy machine).  Errors wait for that press."""
        import threading

        def go() -> None:
            try:
                from .player import _output_device
                p = self.player()
                _output_device(p.backend(), p.device)
            except Exception:  # noqa: BLE001 - reported when the user presses play
                pass
        self._warming = threading.Thread(target=go, name="nodeflow-audio-warmup", daemon=True)
        self._warming.start()

    def settle(self, timeout_s: float = 10.0) -> None:
        """Wait for :meth:`warm_up` to finish (the window closing): a process that exits while
        PortAudio is still starting crashed as it tore down (QA50: rc 139 when an editor script
        failed at once)."""
        warming = getattr(self, "_warming", None)
        if warming is not None:
            warming.join(timeout_s)

    def player(self) -> Player:
        if self._player_fn is None:
            from .player import default_player
            self._player_fn = default_player
        p = self._player_fn()
        if self.latency is not None and getattr(p, "latency", self.latency) != self.latency:
            p.latency = self.latency
        return p

    def _say(self, text: str, error: bool = False) -> None:
        from .audiodevice import in_editor_words
        text = in_editor_words(text)
        self.messages.append((text, error))
        if text.startswith(("playing ", "looping ")) and not error:
            self._now_said = text           # what a warning while it plays keeps in front of it (the
            #                                 warning itself is not kept: a second one replaces it)

    def play(self, graph: Graph, nid: str, port: str, start_s: float = 0.0) -> None:
        """Play ``nid.port`` from ``start_s``: now from the last run's value, or after computing what
        it needs.  An output that is a written file (an export's path) plays that file, decoded."""
        self.last_press = time.perf_counter()
        self.stop()
        self.last_call = None
        self._graph = graph
        value = self.runner.output(graph, nid, port)
        if value is not None:
            self._start(nid, port, value, start_s)
            return
        live = self.runner.live.get(nid, port, (self.runner.current_keys(graph) or {}).get(nid))
        if live is not None:                 # running and streaming: play what has arrived, and on
            self._play_clip(nid, port, live, start_s)
            return
        try:
            self.runner.run(graph, [nid], kind="audition",
                            on_done=lambda res, err: self._computed(nid, port, res, err, start_s))
        except NodeflowError as e:
            self._say(f"cannot audition {nid}.{port}: " + str(e).splitlines()[0]
                      + (" (and more; see Graph > Validate)" if "\n" in str(e) else ""), True)
            return
        self.pending = (nid, port)
        self._say(f"computing {nid} to audition it...")

    def tick(self) -> None:
        """Per frame: a preview waiting for its node starts as soon as the node streams pieces; a
        growing clip that is complete becomes the clip (pause, seek and the meter use it)."""
        if self.pending is not None and self._graph is not None:
            nid, port = self.pending
            key = (self.runner.current_keys(self._graph) or {}).get(nid)
            live = self.runner.live.get(nid, port, key)
            if live is not None:
                self.pending = None
                self._play_clip(nid, port, live, 0.0)
        if isinstance(self.clip, LiveClip) and self.clip.final:
            self.clip = self.clip.snapshot()
        self.files.poll()
        self.levels.poll()

    def toggle(self, graph: Graph, nid: str, port: str) -> None:
        """The play button: play, pause while this output plays, resume where it was paused."""
        key = (nid, port)
        if self.now == key:
            self.pause()
        elif self.paused is not None and self.paused[0] == key:
            self.resume()
        else:
            self.play(graph, nid, port)

    def pause(self) -> None:
        """Stop the sound and keep the place: :meth:`resume` goes on from there."""
        if self.now is None:
            return
        head = self.playhead()
        key, clip, loop = self.now, self.clip, self.loop
        self.stop()
        if head is not None and clip is not None:
            self.paused, self.clip, self.loop = (key, head[2]), clip, loop     # resume goes on looping
            self._say(f"paused {key[0]}.{key[1]} at {head[2]:.2f} s")

    def resume(self) -> None:
        if self.paused is None or self.clip is None:
            return
        (nid, port), at = self.paused
        self.last_press = time.perf_counter()
        loop = self.loop
        if loop is not None and loop[0] == (nid, port) and loop[1] <= at < loop[2]:
            self._play_loop(nid, port, self.clip, loop[1], loop[2], at)
        else:
            self._play_clip(nid, port, self.clip, at)

    def loop_point(self, graph: Graph, nid: str, port: str, seconds: float) -> None:
        """A shift+click on a waveform: the first marks where a loop starts, the second where it
        ends; the region then plays round and round whenever this output plays (at once if it is
        playing; a stopped transport stays stopped, as in a DAW), until a plain click on the waveform
        or a second Stop clears it."""
        key = (nid, port)
        if self.loop_mark is None or self.loop_mark[0] != key:
            self.loop, self.loop_mark = None, (key, float(seconds))
            self._say(f"loop from {seconds:.2f} s: shift+click where it ends")
            return
        a, b = sorted((self.loop_mark[1], float(seconds)))
        self.loop_mark = None
        if b - a < LOOP_MIN_S:
            self._say(f"a loop needs at least {LOOP_MIN_S * 1e3:.0f} ms; shift+click its start again", True)
            return
        if self.now != key:          # (QA: setting a loop started the transport; play then paused it)
            self.loop = (key, a, b)
            if self.paused is not None and self.paused[0] == key:
                self.paused = (key, a)             # resume plays the loop from its start
            return self._say(f"loop {nid}.{port} from {a:.2f} to {b:.2f} s: play loops it (a click on the "
                             "waveform or Stop pressed twice clears it)")
        clip = self.clip if self.clip is not None and (self.now == key or (self.paused or (None,))[0] == key) \
            else None
        if clip is None:
            try:
                clip = self.playable(self.runner.output(graph, nid, port))
            except OSError as e:
                return self._say(f"cannot play {nid}.{port}: {e}", True)
        if clip is None:
            return self._say(f"run the graph first: {nid}.{port} has no audio to loop yet", True)
        self.last_press = time.perf_counter()
        self.stop()
        self._play_loop(nid, port, clip, a, min(b, clip.duration_s), a)

    def _play_loop(self, nid: str, port: str, clip: Clip, a: float, b: float, at: float) -> None:
        rate = clip.sample_rate
        region = Audio(seamless_loop(clip.samples, int(a * rate), int(b * rate), round(LOOP_FADE_S * rate)), rate)
        self.offset_s = a
        self._play_clip(nid, port, clip, at - a, region=region)
        if self.now == (nid, port):
            self.loop = ((nid, port), a, b)
            self._say(f"looping {nid}.{port} from {a:.2f} to {b:.2f} s (a click on the waveform or Stop pressed "
                      "twice clears the loop)")

    def seek(self, graph: Graph, nid: str, port: str, seconds: float) -> None:
        """Play ``nid.port`` from ``seconds`` (a click on its waveform), whether or not it was playing:
        while it plays, in the same stream (no gap, a short crossfade)."""
        key = (nid, port)
        looping = self.loop is not None and self.loop[0] == key
        self.loop = None                         # a plain click on the waveform clears the loop
        if self.now == key and not looping and isinstance(self.clip, Audio):
            seconds = min(max(float(seconds), 0.0), self.clip.duration_s)
            try:
                moved = self.player().switch(self.clip, at_s=seconds, rebase_s=self.offset_s)
            except Exception:  # noqa: BLE001 - a new stream below instead
                moved = False
            if moved:
                self.last_press, self.offset_s = time.perf_counter(), 0.0
                return self._say(f"playing {nid}.{port} ({self.clip.duration_s:.1f} s) from {seconds:.2f} s")
        if self.clip is not None and (self.now == key or (self.paused is not None and self.paused[0] == key)):
            self.last_press = time.perf_counter()
            clip = self.clip
            self.stop()
            self._play_clip(nid, port, clip, seconds)
        else:
            self.play(graph, nid, port, seconds)

    def _computed(self, nid: str, port: str, result: RunResult | None, err: BaseException | None,
                  start_s: float = 0.0) -> None:
        if self.pending != (nid, port):
            return       # stopped, or another preview was asked for meanwhile
        self.pending = None
        if err is not None:
            self._say(f"cannot audition {nid}.{port}: {str(err).splitlines()[0]}", True)
            return
        if result is not None:          # (always, when the run raised nothing)
            self._start(nid, port, result[nid][port], start_s)

    def play_value(self, key: tuple[str, str], value: Any, start_s: float = 0.0, gain_db: float = 0.0) -> None:
        """Play a value that is not a node's current output (a sweep variant), from ``start_s``,
        ``gain_db`` louder (level-matched A/B)."""
        self.last_press = time.perf_counter()
        self.stop()
        self._start(key[0], key[1], value, start_s, gain_db)

    def switch(self, key: tuple[str, str], value: Any, gain_db: float = 0.0) -> bool:
        """A/B: go on with ``value`` (another take) where the take playing now is, in the same
        stream: no gap, no skip, a short crossfade (see :meth:`.player.Player.switch`).  False when
        that cannot be (nothing plays, a loop, a clip still generating, a file not decoded yet,
        the take ends before this point): :meth:`play_value` it then."""
        if self.now is None or self.loop is not None or not isinstance(self.clip, Audio):
            return False
        audio = as_audio(value)
        if audio is None and file_stamp(value) is not None:
            audio = self.files.ready(value)
        head = self.playhead()
        if audio is None or head is None or head[2] >= audio.duration_s:
            return False
        audio = _louder(audio, gain_db)
        played = _from(audio, self.offset_s)       # the take on the time base of the clip the stream plays
        self.last_press = time.perf_counter()
        try:
            if not self.player().switch(played):
                return False
        except Exception:  # noqa: BLE001 - the caller starts the take on its own stream instead
            return False
        self.now, self.clip, self.paused = key, audio, None
        self._say(f"playing {key[0]}.{key[1]} ({audio.duration_s:.1f} s) from {head[2]:.2f} s")
        return True

    def playable(self, value: Any) -> Audio | None:
        """The clip an output value plays: audio as is, a written file's path decoded from the file
        (at once when :attr:`files` has decoded this version of it)."""
        audio = as_audio(value)
        if audio is None and file_stamp(value) is not None:
            audio = self.files.get(value)
        return audio

    def _start(self, nid: str, port: str, value: Any, start_s: float = 0.0, gain_db: float = 0.0) -> None:
        if isinstance(value, (list, tuple)) and (files := written_files(value)):
            value = files[0]                     # a mapped export: its first file, as its node shows it
        if as_audio(value) is None and file_stamp(value) is not None and self.files.ready(value) is None:
            if (err := self.files.error(value)) is not None:
                return self._say(f"cannot play {nid}.{port}: {err}", True)
            self.pending = (nid, port)           # a written file not decoded yet: plays once it is
            self.files.request(value, lambda clip, err: self._decoded(nid, port, value, start_s, gain_db))
            self._say(f"decoding {Path(str(value)).name} to play it...")
            return
        try:
            audio = self.playable(value)
        except OSError as e:
            self._say(f"cannot play {nid}.{port}: {e}", True)
            return
        if audio is None:
            self._say(_not_audio(nid, port, value), True)
            return
        clip, loop = _louder(audio, gain_db), self.loop
        if loop is not None and loop[0] == (nid, port) and not start_s and loop[1] < clip.duration_s:
            return self._play_loop(nid, port, clip, loop[1], min(loop[2], clip.duration_s), loop[1])
        self._play_clip(nid, port, clip, start_s)

    def _decoded(self, nid: str, port: str, value: Any, start_s: float, gain_db: float) -> None:
        if self.pending == (nid, port):          # not stopped, and no other preview asked for meanwhile
            self.pending = None
            self._start(nid, port, value, start_s, gain_db)

    def _play_clip(self, nid: str, port: str, audio: Clip, start_s: float, region: Audio | None = None) -> None:
        """Play ``audio`` from ``start_s``; with ``region`` (a loop), play that round and round instead,
        ``start_s`` into it (the playhead is then ``offset_s`` + the loop's position)."""
        self.paused = None
        self.clip = audio
        if region is not None:
            return self._send(nid, port, audio, region, start_s, loop=True)
        if isinstance(audio, LiveClip):              # a node still generating it (.live)
            self.offset_s = min(max(float(start_s), 0.0), audio.duration_s)
            self._send(nid, port, audio, audio, self.offset_s)
            if self.now == (nid, port):
                # no figure of what has arrived: said once, it went stale while the node generated on
                # and finished (QA70 D4: "7.2 s so far" stayed up); the growing waveform shows it
                self._say(f"playing {nid}.{port} as it is generated (the waveform grows as it arrives)")
            return
        start_s = min(max(float(start_s), 0.0), audio.duration_s)
        self.offset_s = start_s
        self._send(nid, port, audio, _from(audio, start_s), 0.0)
        if self.now == (nid, port):
            where = f" from {start_s:.2f} s" if start_s > 0 else ""
            self._say_playing(nid, port, audio, f"playing {nid}.{port} ({audio.duration_s:.1f} s){where}")

    def _say_playing(self, nid: str, port: str, audio: Audio, text: str) -> None:
        """Say ``text``, with how much louder or quieter an export this output feeds writes it (it
        normalises to its ``loudness_lufs``, or without one its true-peak limiter may lower it; the preview
        plays at the node's own level): at once for a short clip, else once a thread has measured it (QA:
        past 2 minutes it said nothing; the limiter's always on a thread)."""
        target = export_target(self._graph, nid, port, audio) if self._graph is not None else None
        said: list[bool] = []

        def then(lufs: float, written: tuple[float, float] | None = None) -> None:
            extra = note(target, lufs, written) if target is not None else ""
            if extra and self.now == (nid, port) and self.clip is audio:
                self._say(text + extra)
                said.append(True)
        if target is not None and target.heard is None and target.peak_db is not None:
            self.levels.limited(audio, target, then)          # said once measured, on a later frame
        elif target is not None:
            self.levels.measure(audio, then)
        if not said:
            self._say(text)

    def _send(self, nid: str, port: str, audio: Clip, played: Clip, start_s: float, loop: bool = False) -> None:
        try:
            from .player import AudioDeviceError
        except ImportError as e:
            self._say(f"audio playback is unavailable: {e}", True)
            return
        try:
            player = self.player()
            self.last_call = time.perf_counter()
            player.play(played, loop=loop, start_s=start_s)
        except AudioDeviceError as e:
            self._say(str(e), True)
            return
        except (NodeflowError, OSError) as e:
            self._say(f"cannot play {nid}.{port}: {e}", True)
            return
        self.now = (nid, port)

    def level_dbfs(self) -> float | None:
        """The level meter: sample peak (dBFS) of the last 50 ms the listener heard, read at the
        player's position (frames handed to the device less its buffer); None when nothing plays."""
        if self.now is None or self.clip is None:
            return None
        p = self.player()
        if not p.playing:
            return None
        return peak_dbfs(self.clip, self.offset_s + float(p.position_s))

    def press_to_first_buffer_s(self) -> float | None:
        """Seconds from the last press of play to the first buffer handed to the sound device."""
        if self.last_call is None or self.last_press is None:
            return None
        fb = self.player().first_buffer_s
        return None if fb is None else (self.last_call - self.last_press) + fb

    def stop(self) -> None:
        """Stop the sound (a loop region stays: :meth:`stop_pressed` clears it when nothing plays)."""
        self.pending = None
        self.paused = None
        if self.now is not None:
            try:
                self.player().stop()
            except Exception:  # noqa: BLE001 - stopping must never fail the UI
                pass
        self.now = None

    def stop_pressed(self) -> None:
        """The Stop button: stop; pressed again with nothing playing, clear the loop region too."""
        if self.now is None and self.pending is None and self.paused is None and self.loop is not None:
            (nid, port), self.loop, self.loop_mark = self.loop[0], None, None
            return self._say(f"loop of {nid}.{port} cleared")
        self.stop()

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
            self._warned = p.error          # e.g. an underflow on a busy machine: say so, keep playing;
            said = self._now_said           # what the play said stays (QA: the export's loudness hint
            self._say(f"{said}; {p.error}" if said else p.error, True)   # was gone within 60 ms)
        return self.now[0], self.now[1], self.offset_s + float(p.position_s)
