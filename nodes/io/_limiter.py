"""The true-peak limiter of exports: a two-stage look-ahead limiter holding a TRUE-peak ceiling,
computed in blocks so that an hour of audio costs no full-length float64 copies (the loudness
search that sets its make-up gain is :mod:`._master`).


Why not ``pedalboard.Limiter``: it is JUCE's limiter, whose first stage compresses everything
above -10 dBFS (4:1) whatever the threshold, then adds make-up gain and hard-clips.  A file
already under the ceiling would still be changed.  The limiter here touches only the frames
that need it, and its gain is provably at or below the gain each frame needs.  With ``tp[n]`` the
per-frame true-peak envelope (4x oversampled, the instants around frame ``n``, all channels):

    need[n]  = min(1, c / (g * tp[n]))
    slow[n]  = mean over RAMP1 of min(1, c * KNEE / (g * M1[k]))   M1 = sliding max of tp
                                                                   (hold HOLD1, look-ahead RAMP1)
    fast[n]  = mean over RAMP2 of min(1, c / M2[k])                M2 = sliding max of
                                                                   g * slow * tp (HOLD2, RAMP2)
    gain[n]  = min(slow[n] * fast[n], need[n])

The slow stage rides the level with a 10 ms ramp and a 50 ms hold and leaves peaks up to KNEE dB
above the ceiling to the fast stage (1.5 ms ramp, 4 ms hold), which therefore never takes more than
KNEE dB.  The knee is program-dependent: 0 dB (the slow stage does everything, the fast stage only
mops up) unless the target needs more, then 3 and 6 dB (:data:`._master.KNEES_DB`).  Loud targets come from many short, shallow reductions instead of one long dip per
transient, so loudness keeps rising with gain (a limiter with only the slow stage saturates).
Every ``hold`` averaged into a gain covers the frame it is applied to, so ``gain[n] <= need[n]``
without the final ``min`` (which only absorbs rounding).  The true peak of the gain-modulated
output can still differ from ``g * gain * tp`` by a little: :func:`._master.master` measures the result
and lowers its internal target by the overshoot (:data:`._master.TP_PASSES` at most).
``M1`` and ``tp`` do not depend on the make-up gain ``g``; the loudness search re-runs the rest.
"""
from __future__ import annotations

import bisect
import functools
from typing import Callable, Iterator

import numpy as np

from nodeflow.errors import ParameterError

from . import _energies
from ._loudness import (BLOCK as METER_BLOCK, SIDE_MIN_FRAMES, LoudnessMeter, Measurement, SosFilter, block_energies,
                        channel_weights, gated_loudness, k_weighting, measure_blocks, side)
from ._truepeak import TP_TAPS_PER_PHASE, TruePeakMeter

__all__ = ["Mastered", "db_to_gain", "true_peak_envelope"]

SLOW_RAMP_S, SLOW_HOLD_S = 0.010, 0.050    # gain riding: attack (look-ahead) = release ramp, hold
FAST_RAMP_S, FAST_HOLD_S = 0.0015, 0.004   # brickwall on what the slow stage leaves
MIN_LOUDNESS_S = 0.4      # one BS.1770 gating block
BLOCK = 1 << 18           # frames processed at a time
MEMO_BYTES = 128 << 20    # the limiter's per-frame gain (float32) is kept for the write up to this size
FILTERED_BYTES = 256 << 20   # the K-weighted input (float32) is kept for the gain search up to this size
ACTIVE_GAP = 1 << 12      # frames: limiter ranges closer than this are taken as one (at least)
HOT_BLOCK = 64            # frames: where the limiter acts is found at this resolution
FILTER_TAIL_S = 0.1       # the K-weighting's response has decayed below 1e-10 after this (38 Hz high-pass)
TP_CONTEXT = TP_TAPS_PER_PHASE // 2 + 1   # frames each side of a range that its interpolation reads


def too_short_to_measure(frames: int, rate: int) -> str | None:
    """Why a loudness target cannot be met on ``frames`` frames (shorter than one gating block), or None."""
    if frames < round(MIN_LOUDNESS_S * rate):
        return (f"loudness_lufs needs at least {MIN_LOUDNESS_S} s of audio to measure (got {frames / rate:.3f} s); "
                "clear loudness_lufs for short clips")
    return None


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def _sliding_max(x: np.ndarray, before: int, after: int) -> np.ndarray:
    """``out[n] = max(x[n - before .. n + after])``, out-of-range frames counting as 0, in blocks of
    :data:`BLOCK` frames; float32 out.  Maxima over windows of 1, 2, 4 ... frames by doubling, then
    two overlapping ones cover the window (``log2(window)`` contiguous passes)."""
    n = len(x)
    out = np.empty(n, np.float32)
    w = before + after + 1
    for a in range(0, n, BLOCK):
        b = min(n, a + BLOCK)
        m, k = _slice(x, a - before, b + after), 1
        while 2 * k <= w:
            m, k = np.maximum(m[:-k], m[k:]), 2 * k
        np.maximum(m[:b - a], m[w - k:w - k + b - a], out=out[a:b])
    return out


def _slice(x: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """``x[lo:hi]`` with zeros where the range leaves ``x``."""
    n = len(x)
    seg = x[max(lo, 0):max(min(hi, n), 0)]
    if lo >= 0 and hi <= n:
        return seg
    return np.concatenate([np.zeros(max(0, min(-lo, hi - lo)), x.dtype), seg, np.zeros(max(0, hi - max(lo, n)), x.dtype)])


def _moving_mean(held: np.ndarray, ramp: int) -> np.ndarray:
    """``out[i] = mean(held[i .. i + ramp - 1])`` for ``len(held) - ramp + 1`` outputs."""
    csum = np.concatenate([[0.0], np.cumsum(held, dtype=np.float64)])
    return (csum[ramp:] - csum[:-ramp]) / ramp


def true_peak_envelope(x: np.ndarray, rate: int, check: Callable[[], None] | None = None) -> np.ndarray:
    """Per-frame true-peak envelope of ``x[channels, frames]`` (float32, see ``TruePeakMeter``)."""
    meter = TruePeakMeter(rate, x.shape[0])
    env = np.empty(x.shape[1], np.float32)
    done = 0
    for a in range(0, x.shape[1], METER_BLOCK):
        if check is not None:
            check()
        for part in (meter.add(x[:, a:a + METER_BLOCK]), meter.finish() if a + METER_BLOCK >= x.shape[1] else None):
            if part is not None:
                take = min(len(part), len(env) - done)
                env[done:done + take] = part[:take]
                done += take
    return env


class Mastered:
    """``x[channels, frames]`` times a make-up ``gain``, limited to the true-peak ``ceiling``
    (linear), produced block by block (:meth:`blocks`) so that long audio is never copied whole."""

    def __init__(self, x: np.ndarray, rate: int, ceiling: float, gain: float = 1.0,
                 check: Callable[[], None] | None = None, like: "Mastered | None" = None):
        self.x, self.rate, self.ceiling, self.gain = x, rate, float(ceiling), float(gain)
        self.check = check          # called between blocks (``ctx.check_cancelled``: raises to cancel)
        self.frames = x.shape[1]
        self.r1, self.h1 = max(1, round(SLOW_RAMP_S * rate)), round(SLOW_HOLD_S * rate)
        self.r2, self.h2 = max(1, round(FAST_RAMP_S * rate)), round(FAST_HOLD_S * rate)
        self.knee = 1.0
        self.verify = True          # False: the search's estimated result is not measured (see :func:`master`)
        self.slope = 1.0            # LU per dB near the last estimate: the share of energy the limiter leaves free
        self.short_lu = 0.0         # how far the limiter's best fell short of the loudness it was asked for
        self.source_lufs: float | None = None    # the input's loudness, unlimited at no gain (measured by master)
        self._tp: np.ndarray | None = None
        self._slow_max: np.ndarray | None = None
        self._plain_energies: np.ndarray | None = None
        self._filtered: np.ndarray | None = None
        self._ranges: tuple[tuple[float, float, float], list[tuple[int, int, np.ndarray]]] | None = None  # see _limiter
        self._hot: tuple[np.ndarray, ...] | None = None       # slow-stage maximum and true peak per HOT_BLOCK frames
        self.measurement: Measurement | None = None    # of the written file, set by the caller
        if like is not None and like.x is x and like.rate == rate:   # what depends on the audio alone, shared
            self._tp, self._slow_max, self._hot = like._tp, like._slow_max, like._hot    # (one copy, not one
            if "_frame_energies" in like.__dict__:                                      # per try of an export)
                self.__dict__["_frame_energies"] = like.__dict__["_frame_energies"]

    def forget(self) -> None:
        """Drop the limiter's gains kept from the last pass (a result kept aside, to be written again only
        if it wins, holds no per-frame copy while the next is made); they are made again if needed."""
        self._ranges = None

    @property
    def peak(self) -> float:
        """True peak of the input (linear)."""
        return float(self._envelope().max(initial=0.0))

    def limiting(self, gain: float) -> bool:
        return self.peak * gain > self.ceiling

    def _envelope(self) -> np.ndarray:
        if self._tp is None:
            self._tp = true_peak_envelope(self.x, self.rate, self.check)
        return self._tp

    def _slow(self) -> np.ndarray:
        if self._slow_max is None:
            self._slow_max = _sliding_max(self._envelope(), self.h1, self.r1 - 1)
        return self._slow_max

    def _gain(self, a: int, b: int, g: float) -> np.ndarray:
        """Limiter gain for frames ``[a, b)`` at make-up gain ``g`` (float32: ~1e-7 of a gain, under a
        24-bit step; computed in float64)."""
        c, r1, r2, h2 = self.ceiling, self.r1, self.r2, self.h2
        lo2, hi = a - (r2 - 1) - h2, b + r2 - 1          # frames the fast stage looks at
        lo1 = lo2 - (r1 - 1)                               # ... and the slow holds they average
        with np.errstate(divide="ignore"):
            hold1 = np.minimum(1.0, np.divide(c * self.knee / g, _slice(self._slow(), lo1, hi), dtype=np.float64))
            slow = _moving_mean(hold1, r1)                 # frames [lo2, hi)
            resid = (g * slow * _slice(self._envelope(), lo2, hi)).astype(np.float32)
            held = _sliding_max(resid, h2, r2 - 1)[h2:]    # frames [a - r2 + 1, hi)
            fast = _moving_mean(np.minimum(1.0, np.divide(c, held[:b - a + r2 - 1], dtype=np.float64)), r2)
            need = np.minimum(1.0, np.divide(c / g, self._envelope()[a:b], dtype=np.float64))
        return np.minimum(slow[h2 + r2 - 1:h2 + r2 - 1 + b - a] * fast, need).astype(np.float32)

    @functools.cached_property
    def _k(self) -> SosFilter:
        """A K-weighting filter for :meth:`_limited_energies` (its state is reset per range)."""
        return SosFilter(k_weighting(self.rate), self.x.shape[0])

    def _active(self, g: float) -> tuple[np.ndarray, np.ndarray]:
        """``(starts, ends)`` of the frame ranges outside which the limiter's gain at make-up gain ``g``
        is exactly 1: around the frames whose slow-stage maximum or true peak is over the ceiling (found
        per :data:`HOT_BLOCK` frames), widened by the stages' reach (``slow`` averages ``r1`` holds back,
        ``fast`` looks ``h2 + 2 r2`` around).  Ranges are joined unless a 100 ms chunk and the filters'
        decay (:data:`FILTER_TAIL_S`) fit between them, so chunks re-measured per range never overlap."""
        if self._hot is None:
            pad = -self.frames % HOT_BLOCK
            self._hot = tuple(np.concatenate([v, np.zeros(pad, v.dtype)]).reshape(-1, HOT_BLOCK).max(axis=1)
                              for v in (self._slow(), self._envelope()))
        c = self.ceiling
        hot = (self._hot[0] > c * self.knee / g) | (self._hot[1] > c / g)
        edges = np.flatnonzero(np.diff(hot.view(np.int8), prepend=0, append=0)) * HOT_BLOCK
        pad = self.r1 + self.h2 + 2 * self.r2
        starts, ends = np.maximum(edges[0::2] - pad, 0), np.minimum(edges[1::2] + pad, self.frames)
        gap = max(ACTIVE_GAP, (self.rate + 5) // 10 + round(FILTER_TAIL_S * self.rate))
        new = np.concatenate([[True], starts[1:] > ends[:-1] + gap])
        return starts[new], ends[np.concatenate([new[1:], [True]])]

    def _limiter(self, g: float) -> list[tuple[int, int, np.ndarray]]:
        """``(start, end, gain)`` where the limiter acts at make-up gain ``g`` (1 elsewhere); the last
        gain's are kept for the next pass (the search, the true peak and the write all want them) up to
        :data:`MEMO_BYTES`."""
        key = (g, self.ceiling, self.knee)
        if self._ranges is not None and self._ranges[0] == key:
            return self._ranges[1]
        self._ranges = None         # the last gain's go before this one's are made (not both at once)
        ranges = []
        for a, b in zip(*self._active(g)):
            a, b = int(a), int(b)
            if self.check is not None:
                self.check()
            if b - a < 2 * SIDE_MIN_FRAMES:
                ranges.append((a, b, self._gain(a, b, g)))
                continue
            # a long range in pieces of at most BLOCK frames, two side by side (the gain of any stretch is
            # computed from its own context, so the pieces join exactly but for the moving means' rounding,
            # ~1e-16; QA78 D1: a hot master's one range, all of it, took float64 temporaries of the whole)
            cuts = list(range(a, b, min(BLOCK, -(-(b - a) // 2)))) + [b]
            gain = np.empty(b - a, np.float32)
            for i in range(0, len(cuts) - 1, 2):
                pair = cuts[i:i + 3]
                second = side().submit(self._gain, pair[1], pair[2], g) if len(pair) == 3 else None
                gain[pair[0] - a:pair[1] - a] = self._gain(pair[0], pair[1], g)
                if second is not None:
                    gain[pair[1] - a:pair[2] - a] = second.result()
            ranges.append((a, b, gain))
        if sum(r[1] - r[0] for r in ranges) * 4 <= MEMO_BYTES:
            self._ranges = (key, ranges)
        return ranges

    def _gain_over(self, ranges: list[tuple[int, int, np.ndarray]], lo: int, hi: int) -> np.ndarray:
        """The limiter's gain for frames ``[lo, hi)`` from its ranges."""
        out = np.ones(hi - lo)
        k = bisect.bisect_right([r[1] for r in ranges], lo)   # ranges are sorted and disjoint
        for a, b, lim in ranges[k:]:
            if a >= hi:
                break
            x0, x1 = max(a, lo), min(b, hi)
            out[x0 - lo:x1 - lo] = lim[x0 - a:x1 - a]
        return out

    def _limited(self, a: int, b: int, g: float, lim: np.ndarray) -> np.ndarray:
        """Frames ``[a, b)`` at make-up gain ``g`` times the limiter's gain ``lim`` over them, clipped to
        the ceiling (float64 ``[channels, b - a]``)."""
        y = np.multiply(self.x[:, a:b], g, dtype=np.float64)
        y *= lim
        np.clip(y, -self.ceiling, self.ceiling, out=y)
        return y

    def blocks(self, gain: float | None = None, limit: bool = True) -> Iterator[tuple[int, np.ndarray]]:
        """``(start_frame, float64 [channels, block])`` of the mastered audio, in order."""
        g = self.gain if gain is None else float(gain)
        limit = limit and self.limiting(g)
        ranges = self._limiter(g) if limit and self.frames * 4 <= MEMO_BYTES else None
        for a in range(0, self.frames, BLOCK):
            if self.check is not None:
                self.check()
            b = min(self.frames, a + BLOCK)
            if limit:
                lim = self._gain(a, b, g) if ranges is None else self._gain_over(ranges, a, b)
                yield a, self._limited(a, b, g, lim)
            else:
                yield a, np.multiply(self.x[:, a:b], g, dtype=np.float64)

    def array(self) -> np.ndarray:
        """The whole mastered audio, float64 ``[channels, frames]`` (short clips and tests)."""
        out = np.empty(self.x.shape, np.float64)
        for a, y in self.blocks():
            out[:, a:a + y.shape[1]] = y
        return out

    def loudness(self, gain: float | None = None, limit: bool = True) -> float:
        """Integrated loudness in LUFS of the audio :meth:`blocks` would give (``-inf``: all gated).

        The K-weighting filters are linear: without limiting, chunk energies scale with ``gain**2``
        (measured once, re-gated for each gain); limited, ``K(y) = g K(x) + K(y - g x)`` where the
        difference is zero outside the limiter's ranges, so only those ranges (and the filters' decay
        after them, :data:`FILTER_TAIL_S`) are filtered again (:meth:`_limited_energies`).
        """
        g = self.gain if gain is None else float(gain)
        chunk = (self.rate + 5) // 10
        if limit and self.limiting(g):
            if self._plain()[1] is None:           # long audio: meter the limited result
                meter = _metered(self.blocks(g, True), self.frames, self.x.shape[0], self.rate)
                return gated_loudness(block_energies(meter.energies(), chunk))
            return gated_loudness(block_energies(self._limited_energies(g, exact=True), chunk), g * g)
        return gated_loudness(block_energies(self._plain()[0], chunk), g * g)

    def estimate(self, gain: float) -> float:
        """:meth:`loudness` for the gain search's tries, without filtering again.

        The limiter's gain ``l[n]`` moves slowly next to the K-weighting filters (ramps of 1.5 ms and
        more against a 1.7 kHz shelf and a 38 Hz high-pass), so K-weighting the limited audio gives,
        within a few thousandths of an LU on music, ``l[n]`` times the K-weighted input.  Deep limiting
        can move it further; the search checks its result with :meth:`loudness`.
        """
        g = float(gain)
        if self._plain()[1] is None or not self.limiting(g):
            return self.loudness(g)
        return gated_loudness(block_energies(self._limited_energies(g, exact=False), (self.rate + 5) // 10), g * g)

    @property
    def estimated(self) -> bool:
        """Whether :meth:`estimate` differs from :meth:`loudness` (else the search checks nothing)."""
        return self._plain()[1] is not None

    def _plain(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The input's K-weighting at gain 1: the energy per 100 ms chunk, and the filtered input
        (``[frames, channels]`` float32, up to :data:`FILTERED_BYTES`; else None).  Measured once per
        array (see :mod:`._energies`)."""
        if self._plain_energies is None:
            remembered = _energies.remembered(self.x, self.rate)
            if remembered is None:
                keep = self.x.size * 4 <= FILTERED_BYTES
                meter = _metered(self.blocks(1.0, False), self.frames, self.x.shape[0], self.rate, keep)
                remembered = meter.energies(), meter.filtered
                _energies.remember(self.x, self.rate, remembered)
            self._plain_energies, self._filtered = remembered
        return self._plain_energies, self._filtered

    def _limited_energies(self, g: float, exact: bool) -> np.ndarray:
        """Chunk energies (at gain 1: scale by ``g**2``) of the audio limited at make-up gain ``g``:
        the input's, re-computed over the chunks the limiter touches.  ``exact``: the limited audio's own
        K-weighting there (the difference from ``g x`` filtered, plus its decay); else the input's
        K-weighted frames times the limiter's gain (see :meth:`estimate`)."""
        chunks, kx = self._plain()
        assert kx is not None
        size, weights = (self.rate + 5) // 10, channel_weights(self.x.shape[0])
        chunks, end = chunks.copy(), len(chunks) * size
        tail = round(FILTER_TAIL_S * self.rate) if exact else 0
        held = 0.0                                 # energy of the frames the limiter holds down
        for a, b, lim in self._limiter(g):
            lo, b = a - a % size, min(b, end)
            hi = min(end, -(-(b + tail) // size) * size)
            if lo >= b:
                continue
            if exact:
                chunks[lo // size:hi // size] = self._difference_energies(g, a, b, lim, lo, hi, size)
                continue
            step = max(1, BLOCK // size) * size     # whole chunks a block (temporaries of a block, not of the
            for s0 in range(lo, hi, step):          # range: QA78 D1; nor a copy of the range's energies)
                s1 = min(s0 + step, hi)
                part = self._frame_energies[s0:s1].astype(np.float64)
                u0, u1 = max(a, s0), min(b, s1)
                if u0 < u1:
                    touched, kept = part[u0 - s0:u1 - s0], lim[u0 - a:u1 - a]
                    touched *= np.square(kept)
                    held += float(touched[kept < 0.999].sum())
                chunks[s0 // size:s1 // size] = part.reshape(-1, size).sum(axis=1)
        if not exact:
            self.slope = 1.0 - held / max(float(chunks.sum()), 1e-300)
        return chunks

    def _difference_energies(self, g: float, a: int, b: int, lim: np.ndarray, lo: int, hi: int,
                             size: int) -> np.ndarray:
        """The limited audio's K-weighted energy per chunk of ``size`` frames over ``[lo, hi)`` (at gain 1),
        where the limiter acts over ``[a, b)`` with gain ``lim``: the input's K-weighting plus the
        difference's, filtered a block of whole chunks at a time (QA78 D1: a hot master's one range, the
        whole clip, was filtered in one call, its float64 copies and the filter's runs of all of it at once:
        20 times the clip; nor are its energies per frame kept whole)."""
        kx, weights = self._plain()[1], channel_weights(self.x.shape[0])
        assert kx is not None
        energy = np.empty((hi - lo) // size)
        self._k.x[:] = 0.0                          # the difference starts from silence
        step = max(1, BLOCK // size) * size
        for s0 in range(lo, hi, step):
            s1 = min(s0 + step, hi)
            u0, u1 = max(a, s0), min(b, s1)
            diff = np.zeros((s1 - s0, self.x.shape[0]))
            if u0 < u1:
                diff[u0 - s0:u1 - s0] = (self._limited(u0, u1, g, lim[u0 - a:u1 - a]) / g - self.x[:, u0:u1]).T
            energy[(s0 - lo) // size:(s1 - lo) // size] = (np.square(kx[s0:s1] + self._k(diff)) @ weights).reshape(
                -1, size).sum(axis=1)
        return energy

    @functools.cached_property
    def _frame_energies(self) -> np.ndarray:
        """The K-weighted input's channel-weighted energy per frame (for :meth:`estimate`)."""
        kx = self._plain()[1]
        assert kx is not None
        out, weights = np.empty(len(kx), np.float32), channel_weights(self.x.shape[0])
        for a in range(0, len(kx), BLOCK):        # float64 squares of a block at a time, not of the whole;
            out[a:a + BLOCK] = np.square(kx[a:a + BLOCK], dtype=np.float64) @ weights    # kept as float32
        return out

    def true_peak(self, gain: float | None = None) -> float:
        """True peak (linear) of the audio :meth:`blocks` would give.

        Limited, only the ranges where the limiter acts (:meth:`_active`, with the interpolator's
        context) are metered: elsewhere the output is ``g`` times the input, whose envelope is known,
        and no interpolation window there reaches a frame the limiter changed.
        """
        g = self.gain if gain is None else float(gain)
        if not self.limiting(g):
            meter = TruePeakMeter(self.rate, self.x.shape[0])
            for _, y in self.blocks(g):
                meter.add(y)
            meter.finish()
            return meter.true_peak()
        ranges = self._limiter(g)
        env, ends = self._envelope(), [0] + [b for _, b, _ in ranges]
        starts = [a for a, _, _ in ranges] + [self.frames]
        peaks = [g * float(env[b:a].max(initial=0.0)) for b, a in zip(ends, starts)]    # outside the ranges
        # the ranges with their context, one after another, through one meter a block at a time (QA78
        # D1: joined whole, in float64, a hot master's ranges, all of it, took 10 times the clip)
        meter, inside, offset, got = TruePeakMeter(self.rate, self.x.shape[0]), [], 0, 0

        def take(env: np.ndarray | None) -> None:       # the envelope's frames [got, got + len) so far
            nonlocal got
            if env is not None:
                peaks.extend(float(env[max(a, got) - got:min(b, got + len(env)) - got].max())
                             for a, b in inside if a < got + len(env) and b > got)
                got += len(env)
        for a, b, _ in ranges:
            lo, hi = max(0, a - TP_CONTEXT), min(self.frames, b + TP_CONTEXT)
            inside.append((offset + a - lo, offset + b - lo))
            offset += hi - lo
            for s in range(lo, hi, BLOCK):
                if self.check is not None:
                    self.check()
                e = min(s + BLOCK, hi)
                take(meter.add(self._limited(s, e, g, self._gain_over(ranges, s, e))))
        take(meter.finish())
        return max(peaks)

    def measure(self) -> Measurement:
        """Loudness, LRA and peaks of the mastered audio (before any codec)."""
        return measure_blocks((y for _, y in self.blocks()), self.rate, self.x.shape[0])


def _metered(blocks: Iterator[tuple[int, np.ndarray]], frames: int, channels: int, rate: int,
             keep_filtered: bool = False) -> LoudnessMeter:
    """A loudness meter fed the streamed audio (its 100 ms chunk energies, and the filtered audio if kept)."""
    if (why := too_short_to_measure(frames, rate)) is not None:
        raise ParameterError(why)
    meter = LoudnessMeter(rate, channels, frames if keep_filtered else 0)
    for _, y in blocks:
        meter.add(y)
    return meter
