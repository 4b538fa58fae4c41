"""Final level for exports: integrated loudness (ITU-R BS.1770, as pyloudnorm measures it) and a
sample-peak ceiling held by a look-ahead brickwall limiter, computed in blocks so that an hour of
audio costs no full-length float64 copies.

Why not ``pedalboard.Limiter``: it is JUCE's limiter, whose first stage compresses everything
above -10 dBFS (4:1) whatever the threshold, then adds make-up gain and hard-clips.  A file
already under the ceiling would still be changed.  The limiter here touches only the samples
that need it, and its gain is provably at or below the gain each sample needs:

    need[n] = min(1, ceiling / (g * peak[n]))            peak[n] = max_channel |x[n]|
    hold[k] = min(need[k - HOLD .. k + RAMP - 1])        (look ahead RAMP, hold HOLD)
            = min(1, ceiling / (g * M[k]))               M = sliding max of peak (computed once)
    gain[n] = mean(hold[n - RAMP + 1 .. n])              (a linear RAMP-long attack/release)

Every ``hold[k]`` averaged into ``gain[n]`` covers frame ``n``, so ``gain[n] <= need[n]``.
``M`` does not depend on the make-up gain ``g``, so the loudness search re-runs only the cheap
last two lines.
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Iterator

import numpy as np

from nodeflow.errors import AudioError, ParameterError

RAMP_S = 0.005       # attack (look-ahead) and release ramp
HOLD_S = 0.040       # how long the gain stays down after a peak
LOUDNESS_TOL_LU = 0.05   # iterate until this close; the promise is 0.5 LU
MAX_ITER = 12
MIN_LOUDNESS_S = 0.4     # one BS.1770 gating block
MAX_GAIN_DB = 120.0      # past this the limiter's output no longer changes (an unreachable target)
BLOCK = 1 << 18          # frames processed at a time
MEMO_BYTES = 64 << 20    # limited audio up to this size is kept from the loudness search for the write
_CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)   # BS.1770: L, R, C, Ls, Rs


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def _sliding_max(x: np.ndarray, before: int, after: int) -> np.ndarray:
    """``out[n] = max(x[n - before .. n + after])``, out-of-range frames counting as 0 (van Herk),
    in blocks of :data:`BLOCK` frames; float32 out."""
    n = len(x)
    out = np.empty(n, np.float32)
    w = before + after + 1
    for a in range(0, n, BLOCK):
        b = min(n, a + BLOCK)
        lo, hi = a - before, b + after
        seg = x[max(lo, 0):min(hi, n)]
        p = np.concatenate([np.zeros(max(0, -lo), x.dtype), seg, np.zeros(max(0, hi - n) + (-(hi - lo)) % w, x.dtype)])
        blocks = p.reshape(-1, w)
        fwd = np.maximum.accumulate(blocks, axis=1).ravel()
        bwd = np.maximum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
        m = b - a
        out[a:b] = np.maximum(bwd[:m], fwd[w - 1:w - 1 + m])
    return out


class Mastered:
    """``x[channels, frames]`` times a make-up ``gain``, brickwall-limited to ``ceiling`` (linear),
    produced block by block (:meth:`blocks`) so that long audio is never copied whole."""

    def __init__(self, x: np.ndarray, rate: int, ceiling: float, gain: float = 1.0):
        self.x, self.rate, self.ceiling, self.gain = x, rate, float(ceiling), float(gain)
        self.ramp, self.hold = max(1, round(RAMP_S * rate)), round(HOLD_S * rate)
        self.frames = x.shape[1]
        self.peak = max((float(np.abs(x[:, a:a + BLOCK]).max(initial=0.0)) for a in range(0, self.frames, BLOCK)),
                        default=0.0)
        self._frame_peak: np.ndarray | None = None
        self._held_peak: np.ndarray | None = None
        self._plain_energies: np.ndarray | None = None
        self._memo: tuple[float, list[tuple[int, np.ndarray]]] | None = None   # (gain, limited blocks)

    def limiting(self, gain: float) -> bool:
        return self.peak * gain > self.ceiling

    def _peaks(self) -> tuple[np.ndarray, np.ndarray]:
        if self._held_peak is None:
            self._frame_peak = np.empty(self.frames, np.float32)
            for a in range(0, self.frames, BLOCK):
                self._frame_peak[a:a + BLOCK] = np.abs(self.x[:, a:a + BLOCK]).max(axis=0)
            self._held_peak = _sliding_max(self._frame_peak, self.hold, self.ramp - 1)
        return self._frame_peak, self._held_peak

    def blocks(self, gain: float | None = None, limit: bool = True) -> Iterator[tuple[int, np.ndarray]]:
        """``(start_frame, float64 [channels, block])`` of the mastered audio, in order."""
        g = self.gain if gain is None else float(gain)
        limit = limit and self.limiting(g)
        if limit and self._memo is not None and self._memo[0] == g:
            yield from self._memo[1]      # measured by the loudness search at this very gain
            return
        if limit:
            frame_peak, held_peak = self._peaks()
        c, ramp = self.ceiling, self.ramp
        threshold = c / g if g > 0 else np.inf      # need = min(1, threshold / peak); peak 0 -> inf -> 1
        for a in range(0, self.frames, BLOCK):
            b = min(self.frames, a + BLOCK)
            y = np.multiply(self.x[:, a:b], g, dtype=np.float64)
            if limit:
                lo = a - (ramp - 1)
                with np.errstate(divide="ignore"):
                    held = np.minimum(1.0, np.divide(threshold, held_peak[max(lo, 0):b], dtype=np.float64))
                    need = np.minimum(1.0, np.divide(threshold, frame_peak[a:b], dtype=np.float64))
                if lo < 0:
                    held = np.concatenate([np.ones(-lo), held])
                csum = np.cumsum(held)
                env = np.empty(b - a)
                env[0] = csum[ramp - 1]
                np.subtract(csum[ramp:], csum[:-ramp], out=env[1:])
                env /= ramp
                np.minimum(env, need, out=env)  # the min only absorbs the cumulative sum's rounding
                y *= env
                np.clip(y, -c, c, out=y)
            yield a, y

    def array(self) -> np.ndarray:
        """The whole mastered audio, float64 ``[channels, frames]`` (short clips and tests)."""
        out = np.empty(self.x.shape, np.float64)
        for a, y in self.blocks():
            out[:, a:a + y.shape[1]] = y
        return out

    def loudness(self, gain: float | None = None, limit: bool = True) -> float:
        """Integrated loudness in LUFS of the audio :meth:`blocks` would give (``-inf``: all gated).

        Without limiting, the K-weighting filters are linear, so block energies scale with
        ``gain**2``: they are measured once and re-gated for each gain.
        """
        g = self.gain if gain is None else float(gain)
        if limit and self.limiting(g):
            blocks = self.blocks(g, True)
            if self.x.size * 8 <= MEMO_BYTES:   # short audio: keep the blocks, the write will want them
                self._memo = None
                blocks = list(blocks)
                self._memo = (g, blocks)
            return _gate(_block_energies(iter(blocks), self.frames, self.x.shape[0], self.rate))
        if self._plain_energies is None:
            self._plain_energies = _remembered_energies(self.x, self.rate)
            if self._plain_energies is None:
                self._plain_energies = _block_energies(self.blocks(1.0, False), self.frames, self.x.shape[0],
                                                       self.rate)
                _remember_energies(self.x, self.rate, self._plain_energies)
        return _gate(self._plain_energies * (g * g))


# Re-exporting the same audio (a cached upstream output, e.g. while a user tries export settings)
# need not measure it again: the K-weighted block energies of the last few arrays are kept, keyed by
# the array's identity and dropped when the array is freed.  Audio samples are never changed in place.
_ENERGIES: OrderedDict[int, tuple[weakref.ref, int, np.ndarray]] = OrderedDict()
_ENERGIES_LOCK = threading.Lock()
_ENERGIES_KEPT = 8


def _remembered_energies(x: np.ndarray, rate: int) -> np.ndarray | None:
    with _ENERGIES_LOCK:
        hit = _ENERGIES.get(id(x))
        if hit is None or hit[0]() is not x or hit[1] != rate:
            return None
        _ENERGIES.move_to_end(id(x))
        return hit[2]


def _remember_energies(x: np.ndarray, rate: int, energies: np.ndarray) -> None:
    try:
        ref = weakref.ref(x, lambda _r, key=id(x): _forget(key, _r))
    except TypeError:      # not weak-referenceable (a view of a foreign buffer): do not keep
        return
    with _ENERGIES_LOCK:
        _ENERGIES[id(x)] = (ref, rate, energies)
        while len(_ENERGIES) > _ENERGIES_KEPT:
            _ENERGIES.popitem(last=False)


def _forget(key: int, ref: weakref.ref) -> None:
    with _ENERGIES_LOCK:
        if key in _ENERGIES and _ENERGIES[key][0] is ref:
            del _ENERGIES[key]


def integrated_lufs(x: np.ndarray, rate: int) -> float:
    """Integrated loudness of ``x[channels, frames]`` in LUFS (``-inf`` when all below the gate)."""
    blocks = ((a, x[:, a:a + BLOCK]) for a in range(0, x.shape[1], BLOCK))
    return _gate(_block_energies(blocks, x.shape[1], x.shape[0], rate))


def _block_energies(blocks: Iterator[tuple[int, np.ndarray]], frames: int, channels: int, rate: int) -> np.ndarray:
    """Mean square of the K-weighted signal in each BS.1770 gating block, ``[channels, blocks]``.

    The same arithmetic as ``pyloudnorm.Meter(rate).integrated_loudness`` (its K-weighting
    biquads, its 400 ms blocks every 100 ms with the same frame bounds) but streamed: the
    filters carry their state across blocks and energies come from running sums.
    """
    import pyloudnorm
    from scipy.signal import sosfilt

    if frames < round(MIN_LOUDNESS_S * rate):
        raise ParameterError(f"loudness_lufs needs at least {MIN_LOUDNESS_S} s of audio to measure "
                             f"(got {frames / rate:.3f} s); clear loudness_lufs for short clips")
    if channels > 5:
        raise ParameterError(f"loudness_lufs: BS.1770 weights cover up to 5 channels (got {channels}); "
                             "clear loudness_lufs or mix down first")
    meter = pyloudnorm.Meter(rate)
    sos = np.array([np.concatenate([f.b * f.passband_gain, f.a]) for f in meter._filters.values()])
    t_g, step = meter.block_size, 1.0 - meter.overlap
    count = int(np.round(((frames / rate - t_g) / (t_g * step)))) + 1
    lower = np.array([int(t_g * (k * step) * rate) for k in range(count)])     # pyloudnorm's exact bounds
    upper = np.minimum([int(t_g * (k * step + 1) * rate) for k in range(count)], frames)
    points = np.unique(np.concatenate([[0], lower, upper]))
    prefix = np.zeros((len(points), channels))   # sum of squares of frames [0, p) for each p in points
    running = np.zeros(channels)
    zi = np.zeros((sos.shape[0], 2, channels))
    done = 1                                       # points[0] == 0 is known
    for a, y in blocks:
        filtered, zi = sosfilt(sos, y.T, axis=0, zi=zi)
        b = a + y.shape[1]
        stop = np.searchsorted(points, b, side="right")
        cuts = points[done:stop] - a                      # in (0, len(filtered)]
        starts = np.concatenate([[0], cuts[cuts < len(filtered)]])
        acc = running + np.cumsum(np.add.reduceat(filtered * filtered, starts, axis=0), axis=0)
        prefix[done:stop] = acc[:len(cuts)]               # sums of the segments ending at each cut
        running = acc[-1]
        done = stop
    index = {int(p): i for i, p in enumerate(points)}
    z = prefix[[index[int(u)] for u in upper]] - prefix[[index[int(lo)] for lo in lower]]
    return z.T / (t_g * rate)


def _gate(z: np.ndarray) -> float:
    """BS.1770-4 gated loudness from block energies ``z[channels, blocks]`` (pyloudnorm's rules)."""
    weights = np.array(_CHANNEL_WEIGHTS[:z.shape[0]])
    with np.errstate(divide="ignore", invalid="ignore"):
        block_lufs = -0.691 + 10.0 * np.log10(weights @ z)
        loud = block_lufs >= -70.0
        if not loud.any():
            return float("-inf")
        gamma_r = -0.691 + 10.0 * np.log10(weights @ z[:, loud].mean(axis=1)) - 10.0
        gated = (block_lufs > gamma_r) & (block_lufs > -70.0)
        if not gated.any():
            return float("-inf")
        return float(-0.691 + 10.0 * np.log10(weights @ z[:, gated].mean(axis=1)))


def master(samples: np.ndarray, rate: int, loudness_lufs: float | None, ceiling: float) -> Mastered:
    """Gain to ``loudness_lufs`` (if given) and hold the sample peak at or below ``ceiling``.

    With a loudness target the limiter lowers the loudness, so the gain is searched (secant
    steps) until the limited result measures within :data:`LOUDNESS_TOL_LU` of the target.
    Returns a :class:`Mastered` (its ``blocks()`` give the audio); input already within bounds
    comes back unchanged.
    """
    m = Mastered(samples, rate, ceiling)
    if loudness_lufs is None:
        return m
    measured = m.loudness(1.0, limit=False)
    if not np.isfinite(measured):
        raise AudioError(f"loudness_lufs={loudness_lufs:g}: the audio is silent (below the -70 LUFS gate), "
                         "so there is no loudness to normalise; clear loudness_lufs")
    gain_db = loudness_lufs - measured
    tried: list[tuple[float, float]] = []
    best: tuple[float, float, float] | None = None     # (|error|, gain, its loudness)
    for _ in range(MAX_ITER):
        got = m.loudness(db_to_gain(gain_db))
        err = loudness_lufs - got
        if best is None or abs(err) < best[0]:
            best = (abs(err), db_to_gain(gain_db), got)
        if abs(err) <= LOUDNESS_TOL_LU:
            break
        tried.append((gain_db, got))
        slope = 1.0
        if len(tried) >= 2 and tried[-1][0] != tried[-2][0]:
            slope = (tried[-1][1] - tried[-2][1]) / (tried[-1][0] - tried[-2][0])
        gain_db = min(MAX_GAIN_DB, gain_db + err / min(1.0, max(slope, 0.05)))
    if best[0] > 0.5:
        raise ParameterError(f"loudness_lufs={loudness_lufs:g} cannot be reached under the "
                             f"{20 * np.log10(ceiling):.1f} dBFS peak ceiling (the limiter reaches about "
                             f"{best[2]:.1f} LUFS); lower loudness_lufs or raise peak_db")
    m.gain = best[1]
    return m
