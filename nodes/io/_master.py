"""Final level for exports: integrated loudness (ITU-R BS.1770 via pyloudnorm) and a sample-peak
ceiling held by a look-ahead brickwall limiter.

Why not ``pedalboard.Limiter``: it is JUCE's limiter, whose first stage compresses everything
above -10 dBFS (4:1) whatever the threshold, then adds make-up gain and hard-clips.  A file
already under the ceiling would still be changed.  :func:`limit` touches only the samples
that need it, and its gain is provably at or below the gain each sample needs:

    need[n] = min(1, ceiling / max_channel |x[n]|)
    hold[k] = min(need[k - HOLD .. k + RAMP - 1])          (look ahead RAMP, hold HOLD)
    gain[n] = mean(hold[n - RAMP + 1 .. n])                (a linear RAMP-long attack/release)

Every ``hold[k]`` averaged into ``gain[n]`` covers frame ``n``, so ``gain[n] <= need[n]``.
"""
from __future__ import annotations

import numpy as np

from nodeflow.errors import AudioError, ParameterError

RAMP_S = 0.005       # attack (look-ahead) and release ramp
HOLD_S = 0.040       # how long the gain stays down after a peak
LOUDNESS_TOL_LU = 0.05   # iterate until this close; the promise is 0.5 LU
MAX_ITER = 12
MIN_LOUDNESS_S = 0.4     # one BS.1770 gating block
MAX_GAIN_DB = 120.0      # past this the limiter's output no longer changes (an unreachable target)


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def integrated_lufs(x: np.ndarray, rate: int) -> float:
    """Integrated loudness of ``x[channels, frames]`` in LUFS (``-inf`` when all below the gate)."""
    import pyloudnorm

    if x.shape[1] < round(MIN_LOUDNESS_S * rate):
        raise ParameterError(f"loudness_lufs needs at least {MIN_LOUDNESS_S} s of audio to measure "
                             f"(got {x.shape[1] / rate:.3f} s); clear loudness_lufs for short clips")
    if x.shape[0] > 5:
        raise ParameterError(f"loudness_lufs: BS.1770 weights cover up to 5 channels (got {x.shape[0]}); "
                             "clear loudness_lufs or mix down first")
    return float(pyloudnorm.Meter(rate).integrated_loudness(np.asarray(x, np.float64).T))


def _sliding_min(x: np.ndarray, before: int, after: int) -> np.ndarray:
    """``out[n] = min(x[n - before .. n + after])``, out-of-range frames counting as 1 (van Herk)."""
    w = before + after + 1
    p = np.concatenate([np.ones(before), x, np.ones(after)])
    pad = (-len(p)) % w
    blocks = np.concatenate([p, np.ones(pad)]).reshape(-1, w)
    fwd = np.minimum.accumulate(blocks, axis=1).ravel()
    bwd = np.minimum.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    n = len(x)
    return np.minimum(bwd[:n], fwd[w - 1:w - 1 + n])


def limit(x: np.ndarray, rate: int, ceiling: float) -> np.ndarray:
    """Brickwall-limit float64 ``x[channels, frames]`` so no sample exceeds ``ceiling`` (linear)."""
    peak = np.max(np.abs(x), axis=0)
    if peak.size == 0 or peak.max() <= ceiling:
        return x
    need = np.minimum(1.0, ceiling / np.maximum(peak, 1e-300))
    ramp, hold = max(1, round(RAMP_S * rate)), round(HOLD_S * rate)
    held = _sliding_min(need, hold, ramp - 1)
    csum = np.concatenate([[0.0], np.cumsum(np.concatenate([np.ones(ramp - 1), held]))])
    gain = (csum[ramp:] - csum[:-ramp]) / ramp
    y = x * np.minimum(gain, need)      # the min only absorbs the cumulative sum's rounding
    return np.clip(y, -ceiling, ceiling)


def master(samples: np.ndarray, rate: int, loudness_lufs: float | None, ceiling: float) -> np.ndarray:
    """Gain to ``loudness_lufs`` (if given) and hold the sample peak at or below ``ceiling``.

    With a loudness target the limiter lowers the loudness, so the gain is searched (secant
    steps) until the limited result measures within :data:`LOUDNESS_TOL_LU` of the target.
    Returns float64 ``[channels, frames]``; input already within bounds comes back unchanged.
    """
    x = np.asarray(samples, np.float64)
    if loudness_lufs is None:
        return limit(x, rate, ceiling)
    measured = integrated_lufs(x, rate)
    if not np.isfinite(measured):
        raise AudioError(f"loudness_lufs={loudness_lufs:g}: the audio is silent (below the -70 LUFS gate), "
                         "so there is no loudness to normalise; clear loudness_lufs")
    gain_db = loudness_lufs - measured
    tried: list[tuple[float, float]] = []
    best: tuple[float, np.ndarray, float] | None = None     # (|error|, result, its loudness)
    for _ in range(MAX_ITER):
        y = limit(x * db_to_gain(gain_db), rate, ceiling)
        got = integrated_lufs(y, rate)
        err = loudness_lufs - got
        if best is None or abs(err) < best[0]:
            best = (abs(err), y, got)
        if abs(err) <= LOUDNESS_TOL_LU:
            return y
        tried.append((gain_db, got))
        slope = 1.0
        if len(tried) >= 2 and tried[-1][0] != tried[-2][0]:
            slope = (tried[-1][1] - tried[-2][1]) / (tried[-1][0] - tried[-2][0])
        gain_db = min(MAX_GAIN_DB, gain_db + err / min(1.0, max(slope, 0.05)))
    if best[0] <= 0.5:
        return best[1]
    raise ParameterError(f"loudness_lufs={loudness_lufs:g} cannot be reached under the "
                         f"{20 * np.log10(ceiling):.1f} dBFS peak ceiling (the limiter reaches about "
                         f"{best[2]:.1f} LUFS); lower loudness_lufs or raise peak_db")
