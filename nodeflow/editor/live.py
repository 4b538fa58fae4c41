"""Playing a node while it is still being generated: its streamed pieces as one growing clip.

A node that makes audio in steps hands each finished piece on with ``ctx.chunk`` (a model's
window, a spoken sentence, a quarter second of speech, a mapped list's item); the engine turns them
into ``chunk`` events.  :class:`LivePieces` (one per :class:`~.runner.Runner`, fed on the engine's
worker thread, so a piece reaches the sound device without waiting for a UI frame) appends the
pieces of each audio output to a :class:`LiveClip`: a buffer that grows, tied to the node's
content key.  Pressing play on a running node plays that clip: the player's :class:`LiveReader`
reads what has arrived so far and keeps reading as pieces arrive.  When playback catches up with
generation it fades the last 5 ms out, waits (silence) until a lead of :data:`RESUME_LEAD_S` has
arrived, and goes on from 5 ms before where it faded, fading in: a pause, never a click.  When the
node finishes, the clip is complete (the pieces concatenate to the result, sample for sample; a
result that differs replaces the buffer's samples) and the player plays on to its end.  The
waveform shows the clip as it grows (:meth:`LiveClip.snapshot`).  This module does not import
dearpygui.
"""
from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ..audio import Audio
from ..executor import Event
from .player import _Reader

__all__ = ["LiveClip", "LivePieces", "LiveReader", "FADE_S", "RESUME_LEAD_S"]

FADE_S = 0.005            # fade out where playback catches up with generation, fade in where it goes on
RESUME_LEAD_S = 0.25      # after a wait, go on once this much more has arrived (or the node ended)


class LiveClip:
    """A clip that grows as pieces arrive; quacks like :class:`~nodeflow.Audio` for the player.

    Appending (one thread) never moves samples a reader already sees: the frame count is published
    after the samples are written, and a larger buffer replaces the array before the count grows.
    """

    growing = True

    def __init__(self, key: str | None, sample_rate: int, channels: int):
        self.key, self.sample_rate, self.channels = key, int(sample_rate), int(channels)
        self.x = np.zeros((self.channels, max(self.sample_rate, 1)), np.float32)
        self.n = 0                      # frames that have arrived
        self.final = False              # the node ended: no more frames will come
        self.pieces = 0
        self.info: tuple[tuple[str, str], ...] = ()
        self._lock = threading.Lock()
        self._snap: Audio | None = None
        self._starts: list[int] = []    # the pieces' places in their source (windows: each where it starts)

    # -- the engine's side
    def append(self, piece: Audio) -> None:
        if piece.sample_rate != self.sample_rate or self.final:
            return
        y = piece.samples
        if y.shape[0] != self.channels:
            y = np.broadcast_to(y[:1], (self.channels, y.shape[1])) if y.shape[0] == 1 else y[:self.channels]
        with self._lock:
            starts = self._starts
            at = self.n
            if starts and starts[-1] is not None and piece.start_frame > starts[-1] and \
                    all(a < b for a, b in zip(starts, starts[1:])):
                at = min(self.n, piece.start_frame - starts[0])     # windows as their source has them (as_audio)
            self._starts.append(piece.start_frame)
            self._put(at, y)
            self.pieces += 1
            self.info = piece.info or self.info

    def _put(self, at: int, y: np.ndarray) -> None:
        end = at + y.shape[1]
        if end > self.x.shape[1]:
            grown = np.zeros((self.channels, max(end, 2 * self.x.shape[1])), np.float32)
            grown[:, :self.n] = self.x[:, :self.n]
            self.x = grown                           # readers holding the old array still see its frames
        self.x[:, at:end] = y
        self.n = max(self.n, end)

    def finish(self, result: Audio | None = None) -> None:
        """The node ended.  With its ``result``: the frames the pieces did not bring are added, and
        samples that differ from the pieces are replaced (the pieces should already be the result)."""
        with self._lock:
            if result is not None and result.sample_rate == self.sample_rate and result.channels == self.channels:
                y = result.samples
                have = min(self.n, y.shape[1])
                if not np.array_equal(self.x[:, :have], y[:, :have]):
                    self.x[:, :have] = y[:, :have]
                if y.shape[1] > self.n:
                    self._put(self.n, y[:, self.n:])
            self.final = True

    # -- what the editor reads
    @property
    def frames(self) -> int:
        return self.n

    @property
    def samples(self) -> np.ndarray:
        n = self.n
        return self.x[:, :n]

    @property
    def duration_s(self) -> float:
        return self.n / self.sample_rate

    def snapshot(self) -> Audio:
        """The frames so far as an :class:`Audio` (the same object until more arrive)."""
        n = self.n
        if self._snap is None or self._snap.frames != n:
            self._snap = Audio(self.x[:, :n].copy(), self.sample_rate, info=self.info)
        return self._snap

    def make_reader(self, out_rate: int, mix: np.ndarray | None, loop: bool = False, start: int = 0) -> "LiveReader":
        return LiveReader(self, out_rate, mix, start)


class LiveReader(_Reader):
    """The player's reader of a :class:`LiveClip`: waits (silence, with fades) when it catches up."""

    def __init__(self, clip: LiveClip, out_rate: int, mix: np.ndarray | None, start: int = 0):
        super().__init__(np.zeros((clip.channels, 0), np.float32), clip.sample_rate, out_rate, mix)
        self.clip = clip
        self.pos = max(int(start), 0)
        self.waiting = True             # silence until a lead has arrived (at the start, and after catching up)
        self._fade_in = False           # the first start needs no fade: nothing was cut
        self.waits = 0
        self.fade = max(int(FADE_S * clip.sample_rate), 1)
        self.lead = int(RESUME_LEAD_S * clip.sample_rate)

    def _take(self, frames: int) -> np.ndarray:
        """Up to ``frames`` frames ``[frames, channels]`` at the clip's rate; fewer only while waiting
        or at the end.  Until the clip is final its last :data:`FADE_S` are a reserve: a block that
        reaches into it is the one that catches up, and it ends with them faded out."""
        clip = self.clip
        final = clip.final              # read before the count: a final clip's count is complete
        n = clip.n
        x = clip.x
        fade_in = False
        if self.waiting:
            if not final and n - self.pos < max(self.lead, self.fade):
                return np.empty((0, clip.channels), np.float32)
            self.waiting, fade_in = False, self._fade_in
        caught_up = not final and self.pos + frames > n - self.fade
        a, b = min(self.pos, n), min(self.pos + frames, n)
        block = x[:, a:b].T
        self.pos = b
        if fade_in or caught_up:
            block = block.copy()
        if fade_in:
            k = min(self.fade, len(block))
            block[:k] *= np.linspace(0.0, 1.0, k, endpoint=False, dtype=np.float32)[:, None]
        if caught_up:                   # fade out, wait for a lead, then replay the faded part fading in
            k = min(self.fade, len(block))
            if k:
                block[len(block) - k:] *= np.linspace(1.0, 0.0, k, endpoint=False, dtype=np.float32)[:, None]
            self.pos = b - k
            self.waiting, self._fade_in = True, True
            self.waits += 1
        return block

    def _next(self, frames: int) -> np.ndarray:
        if self.rs is None:
            return self._take(frames)
        while len(self.pending) < frames:
            step = int(frames * self.in_rate / self.out_rate) + 64
            block = self._take(step)
            last = self.clip.final and not self.waiting and self.pos >= self.clip.n
            if not len(block) and not last:
                break
            y = self.rs.resample_chunk(np.ascontiguousarray(block), last=last)
            self.pending = np.concatenate([self.pending, y]) if len(self.pending) else y
            if last:
                break
        block, self.pending = self.pending[:frames], self.pending[frames:]
        return block


class LivePieces:
    """The growing clips of the nodes running now, by ``(node, port)``; fed with executor events."""

    def __init__(self) -> None:
        self.clips: dict[tuple[str, str], LiveClip] = {}
        self._lock = threading.Lock()

    def on_event(self, ev: Event, key: str | None) -> None:
        """Any thread: a node that starts drops its old pieces, a chunk's audio is appended, a node
        that ends marks its clips complete (the result, when it lands, is checked by :meth:`settle`)."""
        if ev.kind == "started":
            with self._lock:
                for k in [k for k in self.clips if k[0] == ev.node_id]:
                    self.clips[k].finish()
                    del self.clips[k]
        elif ev.kind == "chunk" and ev.value:
            for port, value in ev.value.items():
                for piece in value if isinstance(value, (list, tuple)) else (value,):
                    if isinstance(piece, Audio):
                        self._clip(ev.node_id, port, key, piece).append(piece)
        elif ev.kind in ("finished", "failed", "cancelled"):
            with self._lock:               # what plays goes on to the end of what arrived
                for k in [k for k in self.clips if k[0] == ev.node_id]:
                    self.clips[k].finish()
                    if ev.kind != "finished":
                        del self.clips[k]      # no result will come: its waveform goes

    def _clip(self, nid: str, port: str, key: str | None, piece: Audio) -> LiveClip:
        with self._lock:
            c = self.clips.get((nid, port))
            if c is None or c.key != key or c.final:
                c = self.clips[(nid, port)] = LiveClip(key, piece.sample_rate, piece.channels)
            return c

    def get(self, nid: str, port: str, key: str | None) -> LiveClip | None:
        """The clip of ``nid.port`` made for content ``key``, if pieces of it arrived."""
        c = self.clips.get((nid, port))
        return c if c is not None and c.key == key and c.frames else None

    def settle(self, nid: str, outputs: dict[str, Any]) -> None:
        """The node's result landed: complete its clips with it and forget them (the result is the
        value from now on)."""
        from .clips import as_audio
        with self._lock:
            for k in [k for k in self.clips if k[0] == nid]:
                self.clips.pop(k).finish(as_audio(outputs.get(k[1])))
