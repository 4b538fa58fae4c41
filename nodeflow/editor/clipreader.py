"""What the player plays and how it is read out: a clip (:class:`Clip`: an Audio, or a clip that grows
as it is generated) handed to the device in blocks ``[frames, device channels]``, its channels
mapped onto the device's, resampled on the fly when the device refuses the clip's rate, looped on
request.  The audio callback (:mod:`.playstream`) only copies what :class:`_Reader` hands it.  This
module never imports dearpygui.
"""
from __future__ import annotations

from typing import Callable, Protocol

import numpy as np

__all__ = ["Clip", "seamless_loop", "LOOP_FADE_S"]

LOOP_FADE_S = 0.02     # a loop's wrap crossfades over this, as an A/B switch and a seek do


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


class _Source(Protocol):
    """What the audio callback reads from: :class:`_Reader`, :class:`_Switch`, a growing clip's reader."""

    waiting: bool

    def read(self, out: np.ndarray) -> int: ...


def seamless_loop(samples: np.ndarray, start: int, end: int, fade: int) -> np.ndarray:
    """Frames ``start:end`` of ``samples`` (``[channels, frames]``) to play round and round, each wrap going on
    as the clip does: their last ``fade`` frames crossfade (raised cosine) into the ``fade`` frames before
    ``start``, so the frame played before ``start`` at a wrap is the clip's own (QA95: a hard splice at every
    wrap of a sustained pad, a step 130 times the pad's largest).  With fewer frames before ``start`` the
    crossfade is that short; with none, the region's first frames crossfade from those after ``end``; with
    neither (the whole clip), its ends fade out and in.

    >>> x = np.sin(np.arange(1000) * 0.05)[None, :].astype(np.float32)    # a steady tone, looped over 300 frames
    >>> round(float(np.abs(np.diff(x)).max()), 3)                 # its largest step from frame to frame
    0.05
    >>> hard = x[:, 100:400]
    >>> round(float(np.abs(hard[0, 0] - hard[0, -1])), 3)         # the splice at the wrap
    1.85
    >>> y = seamless_loop(x, 100, 400, 64)
    >>> round(float(np.abs(y[0, 0] - y[0, -1])), 3), bool(np.array_equal(y[:, :236], hard[:, :236]))
    (0.013, True)
    """
    x = np.array(samples[:, start:end], dtype=np.float32)
    n = x.shape[1]
    f = max(min(int(fade), n // 2), 0)

    def rise(k: int) -> np.ndarray:
        return (0.5 - 0.5 * np.cos(np.pi * (np.arange(k, dtype=np.float32) + 0.5) / k))[None, :]
    if (pre := min(f, start)) > 0:
        w = rise(pre)
        x[:, n - pre:] = x[:, n - pre:] * (1.0 - w) + samples[:, start - pre:start] * w
    elif (post := min(f, samples.shape[1] - end)) > 0:
        w = rise(post)
        x[:, :post] = samples[:, end:end + post] * (1.0 - w) + x[:, :post] * w
    elif f > 0:
        w = rise(f)
        x[:, :f] *= w
        x[:, n - f:] *= w[:, ::-1]
    return x


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


class _Played:
    """Device-ready frames ``[frames, out_channels]`` read out as they are: the audio a rewrite took
    back from the device (:meth:`.pulseout.PulseStream.rewrite`), which a switch fades out of."""

    waiting = False

    def __init__(self, frames: np.ndarray):
        self.x, self.pos = frames, 0

    def read(self, out: np.ndarray) -> int:
        k = min(len(out), len(self.x) - self.pos)
        out[:k] = self.x[self.pos:self.pos + k]
        out[k:] = 0.0
        self.pos += k
        return k


class _Switch:
    """Another take from where the reader playing now is: the new take's reader is made by
    ``make(frames_so_far)`` at the first block it is asked for (in the audio callback, so the
    position is exact), and the first ``fade`` frames go from the old take to the new along a
    raised cosine: one stream, no gap, no click."""

    waiting = False

    def __init__(self, old: _Source, make: Callable[[int], _Source], fade: int,
                 frames_so_far: Callable[[], int]) -> None:
        self.old: _Source | None = old
        self.make, self.fade, self.done = make, max(int(fade), 0), 0
        self.frames_so_far = frames_so_far
        self.new: _Source | None = None

    def read(self, out: np.ndarray) -> int:
        if self.new is None:
            self.new = self.make(self.frames_so_far())
        if self.done >= self.fade or self.old is None:
            self.old = None                       # faded out: let the old take go
            return self.new.read(out)
        old = np.empty_like(out)
        self.old.read(old)
        k = self.new.read(out)
        n = min(len(out), self.fade - self.done)
        w = (0.5 - 0.5 * np.cos(np.pi * (self.done + np.arange(n, dtype=np.float32) + 0.5) / self.fade))[:, None]
        out[:n] = old[:n] * (1.0 - w) + out[:n] * w
        self.done += n
        return max(k, n)
