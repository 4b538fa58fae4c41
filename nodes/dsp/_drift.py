"""Keep a time-stretch on its grid: measure how far the music in Rubber Band's output drifts from where the
asked-for ratio puts it, and take that drift out.

Rubber Band's R3 engine (``pedalboard.time_stretch``, offline) gives exactly the length asked for, but the music
inside runs at a slightly different ratio, and the error grows with time: a kick on beat 93 of a 61 s clip came
65 ms late after a transposition of 7 semitones, 41 ms early after a 0.8 stretch, 89 ms early after 0.5 (QA102
D1; the engine rounds each output hop to a whole frame and corrects the sum as it goes, but not the frames its
pitch resampler writes).  The drift is a straight line in time, and its slope is the engine's and the ratio's.

:func:`drift` finds it on the material itself: each few seconds of the output's onset envelope are matched to the
input's, placed where the ratio puts them, and a line through the offsets gives the slope.  Music with no onsets
to match (a held pad) is left as it comes: its time has nothing to be heard off.
"""
from __future__ import annotations

import numpy as np

__all__ = ["drift", "MAX_DRIFT"]

MAX_DRIFT = 0.005      # the largest slope looked for (measured: 0.31% at a 0.5 stretch)
_HOP_S = 0.002         # onset envelope resolution
_BLOCK_S = 2.0         # output matched block by block
_MIN_BLOCKS = 3        # blocks that match clearly, at least, for a slope
_CLEAR = 0.2           # a block matches clearly where its normalised correlation peaks over this
_STRAIGHT = 2.0        # and the blocks' offsets lie on a line within this many hops (RMS), or no slope is told
_RANGE_DB = 30.0       # onsets are rises in level within this of the loudest
_HEARD_S = 0.001       # a drift that moves nothing by this much over the clip is left


def drift(x: np.ndarray, y: np.ndarray, rate: int, ratio: float) -> float:
    """The slope ``d`` of the drift of ``y`` (``x`` ``[channels, frames]`` stretched ``ratio`` times as long): the
    music ``x`` has at frame ``f`` lies in ``y`` at ``f * ratio * (1 + d)``; 0.0 where it cannot be told (too
    short, no onsets) or moves nothing by a millisecond.

    >>> rate = 8000
    >>> x = np.zeros((1, 30 * rate), np.float32)
    >>> x[0, ::rate // 2] = 1.0                               # a click every half second
    >>> y = np.zeros((1, 30 * rate), np.float32)
    >>> y[0, np.round(np.arange(0, 30 * rate, rate // 2) * 1.002).astype(int)[:-1]] = 1.0
    >>> round(drift(x, y, rate, 1.0), 4), drift(x, x, rate, 1.0)
    (0.002, 0.0)
    """
    hop = max(1, round(_HOP_S * rate))
    into = max(1, round(hop / ratio))                       # the input's envelope at as many hops as the output's
    ex, ey = _onsets(x, into), _onsets(y, hop)
    block = round(_BLOCK_S * rate / hop)
    if ey.size < _MIN_BLOCKS * block or not ex.any():
        return 0.0
    at = np.arange(ey.size) * hop / (ratio * into)          # where each output hop's music is in the input's
    mapped = np.interp(at, np.arange(ex.size), ex, right=0.0)
    times, lags, weights = [], [], []
    for b0 in range(0, ey.size - block + 1, block):
        reach = int(np.ceil(MAX_DRIFT * (b0 + block))) + 4
        lag, strength = _lag(mapped[b0:b0 + block], ey, b0, reach)
        if strength > _CLEAR:
            times.append(b0 + block / 2)
            lags.append(lag)
            weights.append(strength)
    if len(times) < _MIN_BLOCKS:
        return 0.0
    t, lag, w = np.asarray(times), np.asarray(lags), np.asarray(weights)
    # the slope the most blocks agree on (a block can match the hit before or after its own: QA103 D1, an
    # off-beat hat 117 hops off, and a plain fit gave up on the clip), then a line through those near it
    guess = float(np.median(lag / np.maximum(t, 1.0)))
    keep = np.abs(lag - guess * t) <= _STRAIGHT * 2
    if keep.sum() < max(_MIN_BLOCKS, keep.size // 2):
        return 0.0                                          # (offsets all over: matches by chance)
    line = np.polyfit(t[keep], lag[keep], 1, w=w[keep])
    if np.sqrt(np.average((lag[keep] - np.polyval(line, t[keep])) ** 2, weights=w[keep])) > _STRAIGHT:
        return 0.0
    slope = float(line[0])
    return slope if abs(slope) * y.shape[1] > _HEARD_S * rate else 0.0


def _onsets(x: np.ndarray, hop: int) -> np.ndarray:
    """An onset envelope of ``x`` per ``hop`` frames: the rise in level of its first difference (its high end,
    where hits start), in dB, where it rises."""
    mono = np.asarray(x, np.float64).mean(axis=0)
    edge = np.diff(mono, prepend=mono[:1])
    n = edge.size // hop
    if n < 2:
        return np.zeros(0)
    level = 10 * np.log10(np.mean(edge[:n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    level = np.maximum(level, level.max() - _RANGE_DB)      # (what moves far below the hits is no onset)
    return np.maximum(np.diff(level, prepend=level[:1]), 0.0)


def _lag(a: np.ndarray, ey: np.ndarray, b0: int, reach: int) -> tuple[float, float]:
    """Where block ``a`` (the input's onsets placed at output hops ``b0...``) best matches ``ey``, within
    ``reach`` hops, to a fraction of a hop, and how clearly (normalised correlation)."""
    lo, hi = max(0, b0 - reach), min(ey.size, b0 + a.size + reach)
    seg = ey[lo:hi]
    if seg.size < a.size or not a.any() or not seg.any():
        return 0.0, 0.0
    a0 = a - a.mean()
    c = np.correlate(seg - seg.mean(), a0, "valid")
    k = int(np.argmax(c))
    norms = np.sqrt(np.convolve((seg - seg.mean()) ** 2, np.ones(a.size), "valid") * (a0 ** 2).sum()) + 1e-12
    strength = float(c[k] / norms[k])
    frac = 0.0
    if 0 < k < c.size - 1:                                  # the peak between hops (a parabola through three)
        den = c[k - 1] - 2 * c[k] + c[k + 1]
        frac = 0.5 * (c[k - 1] - c[k + 1]) / den if den < 0 else 0.0
    return lo + k + frac - b0, strength
