"""Final level for exports: the make-up gain that brings integrated loudness (ITU-R BS.1770-4,
metered as libebur128 does; see ``_loudness``) to a target under a TRUE-peak ceiling, the ceiling
held by the limiter of :mod:`._limiter`.

The limiter lowers the loudness it is given, so the gain is searched: secant steps on the
limited result's estimated loudness, checked by measuring it, with the gentlest knee of the
limiter's fast stage (0, 3, then 6 dB: :data:`KNEES_DB`) that reaches the target, and where that
drives the limiter hard, the least gain that is as loud (:func:`_least_drive`); then the result's
true peak is measured and the limiter's target lowered by any overshoot.
"""
from __future__ import annotations

import contextlib
import math
from typing import Any, Callable, Iterator

import numpy as np

from nodeflow.errors import AudioError, ParameterError

from ._limiter import BLOCK, Mastered, db_to_gain
from ._loudness import SIDE_MIN_FRAMES, Measurement, integrated_lufs, measure, side, to_db

__all__ = ["BLOCK", "Mastered", "Measurement", "Silent", "db_to_gain", "integrated_lufs", "master", "measure", "DCTally", "DC_WARN"]

KNEES_DB = (0.0, 3.0, 6.0)   # the most the fast stage takes: the gentlest that reaches the target wins
LOUDNESS_TOL_LU = 0.05    # iterate until this close; the promise is 0.5 LU
REACH_TOL_LU = 0.5
MAX_ITER = 14
TP_PASSES = 4             # measure the output's true peak, lower the target by the overshoot
TP_HEADROOM_DB = 0.01     # with a loudness target the limiter aims this far under the ceiling: the gain
                          # modulation's overshoot measured on music is 0.001-0.02 dB, so one pass mostly does
MAX_GAIN_DB = 120.0       # past this the limiter's output no longer changes (an unreachable target)
MAX_STEP_DB = 12.0        # the most one try moves the make-up gain
SATURATED = 0.02          # LU per dB: a louder make-up gain that raises the loudness less reaches nothing
GENTLE_DB = 6.0           # a knee whose limiting takes more than this off the level: a harder one is tried
CHECKS = 4                # measured checks of the estimated search's result (each refines the estimate)


def _search(m: Mastered, target: float, gain_db: float) -> tuple[float, float]:
    """Secant search for the make-up gain whose limited result measures ``target`` LUFS; returns
    ``(gain, loudness)`` of the closest measured try.  The tries are estimates (:meth:`Mastered.estimate`); the
    result is measured (:meth:`Mastered.loudness`) and, if it misses, the search goes on from there
    with the estimate corrected by what it missed (:data:`CHECKS` times at most)."""
    best: tuple[float, float, float] | None = None     # (|error|, gain, its loudness), measured
    offset = 0.0                                       # measured minus estimated, at the last check
    for _ in range(CHECKS if m.estimated and m.verify else 1):
        tried: list[tuple[float, float]] = []
        saturated = False
        for i in range(MAX_ITER):
            estimated = m.estimate(db_to_gain(gain_db))
            err = target - (estimated + offset)
            if abs(err) <= LOUDNESS_TOL_LU or (gain_db >= MAX_GAIN_DB and err > 0) or i == MAX_ITER - 1:
                break
            if not m.estimated and (best is None or abs(err) < best[0]):
                best = (abs(err), db_to_gain(gain_db), estimated)
            tried.append((gain_db, estimated))
            slope = m.slope if m.estimated and m.limiting(db_to_gain(gain_db)) else 1.0
            if len(tried) >= 2 and tried[-1][0] != tried[-2][0]:
                slope = (tried[-1][1] - tried[-2][1]) / (tried[-1][0] - tried[-2][0])
                if slope < SATURATED and err > 0:     # the limiter holds the loudness: more gain is futile
                    saturated = True
                    break
            step = err / min(1.0, max(slope, 0.05))
            gain_db = min(MAX_GAIN_DB, gain_db + max(-MAX_STEP_DB, min(MAX_STEP_DB, step)))
        got = m.loudness(db_to_gain(gain_db)) if m.estimated and m.verify else estimated
        if best is None or abs(target - got) < best[0]:
            best = (abs(target - got), db_to_gain(gain_db), got)
        if abs(target - got) <= LOUDNESS_TOL_LU or ((saturated or gain_db >= MAX_GAIN_DB) and got < target):
            break
        offset = got - estimated
    assert best is not None
    return best[1], best[2]


def _least_drive(m: Mastered, gain: float, lo_db: float, floor: float) -> float:
    """The least make-up gain (linear) over ``lo_db`` whose limited estimate is at least ``floor`` LUFS
    (``gain``'s is): where more gain hardly raises the loudness, the secant steps stop up to a step
    (:data:`MAX_STEP_DB`) past where it stopped rising, and a harder knee searched from there climbs
    again, so a loud target drove the limiter 30-40 dB for the last hundredth of a LU (QA92: +38.6 dB
    for -7.49 LUFS, where -1.7 dB makes -7.52).  Bisected, six estimates."""
    hi = 20.0 * math.log10(gain)
    lo = min(lo_db, hi)
    for _ in range(6):
        mid = (lo + hi) / 2
        if m.estimate(db_to_gain(mid)) >= floor:
            hi = mid
        else:
            lo = mid
    return db_to_gain(hi)


class Silent(AudioError):
    """The refusal of the loudness target ``target`` on audio under the -70 LUFS gate."""

    def __init__(self, target: float):
        self.target = target
        super().__init__(f"loudness_lufs={target:g}: the audio is silent (below the -70 LUFS gate), so there is "
                         "no loudness to normalise; clear loudness_lufs")


LOSSLESS = ("wav", "flac")
STEADY_FORMATS = LOSSLESS + ("ogg",)   # offered where a lossy encoder does not keep a target: the lossless
                                       # formats land on it, and ogg kept it where LAME's jumps did not


def steady_formats(fmt: str) -> list[str]:
    """The formats to offer where ``fmt``'s encoder does not keep a loudness target: :data:`STEADY_FORMATS`
    less ``fmt`` itself (QA67: an ogg export's warning said "wav, flac or ogg land on the target")."""
    return [f for f in STEADY_FORMATS if f != fmt]


def said_or(names: list[str]) -> str:
    """``["wav", "flac", "ogg"]`` as "wav, flac or ogg"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


class Unreachable(ParameterError):
    """A loudness target the limiter cannot reach under the ceiling; ``reach`` (LUFS, one decimal) is
    what it reaches, and asking for it lands there.  With ``encoder`` (a lossy format) the limiter is
    not what stops it: that encoder's loudness does not follow the gain on this audio (``spread``:
    encodes, lowest and loudest decoded LUFS)."""

    def __init__(self, target: float, peak_db: float, reach: float, reason: str = "", *, encoder: str = "",
                 spread: tuple[int, float, float] | None = None,
                 resampled: tuple[int, int, float, str] | None = None):
        self.target, self.peak_db, self.reach, self.reason, self.encoder = target, peak_db, reach, reason, encoder
        self.spread = spread
        if resampled is not None:     # (QA67 L2: a 24 kHz tone exported at 48 kHz was told to raise peak_db)
            src, rate, lost, keep = resampled
            super().__init__(f"loudness_lufs={target:g} cannot be reached at sample_rate={rate}: the resample from "
                             f"{src} Hz takes {lost:.1f} LU of this audio's loudness away (its content lies above "
                             f"{rate // 2} Hz, which {rate} Hz cannot hold), and what is left reaches about "
                             f"{reach:.1f} LUFS under peak_db={peak_db:g} dBTP{reason}; keep the input's rate "
                             f"({keep}) or lower loudness_lufs to {reach:.1f}")
            return
        if encoder and spread is not None:
            n, lo, hi = spread
            lossy = [f for f in steady_formats(encoder) if f not in LOSSLESS]
            also = f" (or {said_or(lossy)})" if lossy else ""
            super().__init__(f"loudness_lufs={target:g} cannot be met as {encoder}: the {encoder} encoder does not keep "
                             f"this audio's loudness ({n} encodes decoded between {lo:.1f} and {hi:.1f} LUFS, the "
                             f"closest {reach:.1f}; the limiter is idle, peak_db is not the cause); export it as "
                             f"{said_or(list(LOSSLESS))}{also}, or clear loudness_lufs")
            return
        super().__init__(f"loudness_lufs={target:g} cannot be reached under peak_db={peak_db:g} dBTP on this audio: "
                         f"limited to that true peak it reaches about {reach:.1f} LUFS{reason}; lower loudness_lufs "
                         f"to {reach:.1f} or raise peak_db")


def master(samples: np.ndarray, rate: int, loudness_lufs: float | None, ceiling: float, *,
           peak_db: float | None = None, reason: str = "", check: Callable[[], None] | None = None,
           verify: bool = True, like: Mastered | None = None) -> Mastered:
    """Gain to ``loudness_lufs`` (if given) and hold the TRUE peak at or below ``ceiling`` (linear).

    With a loudness target the limiter lowers the loudness, so the gain is searched (secant
    steps) until the limited result estimates (:meth:`Mastered.estimate`, measured as it converges)
    within :data:`LOUDNESS_TOL_LU` of the target; then
    the result's true peak is measured and, where the gain modulation overshot the ceiling, the
    limiter's target is lowered by the overshoot and the search repeated.  Returns a
    :class:`Mastered` (its ``blocks()`` give the audio); input already within bounds comes back
    unchanged.  An unreachable target raises :class:`ParameterError` in the user's terms:
    ``peak_db`` (default: the ceiling in dB) is the ceiling the user set, ``reason`` a note on
    why the limiter works below it (e.g. a codec's overshoot).  ``check`` is called between blocks
    of every pass (it raises to cancel).  ``like``: an earlier result of the same ``samples``, whose
    true-peak envelope and energies are taken, not made (and held) again.

    ``verify=False`` (a caller that measures what it writes, and masters again with ``verify=True``
    when that misses: :func:`~nodes.io._encode.write_mastered`): with a loudness target, the search's
    estimated result is not measured and its true peak not metered here.
    """
    user_db = to_db(ceiling) if peak_db is None else peak_db
    m = Mastered(samples, rate, ceiling, check=check, like=like)
    m.verify = verify
    if loudness_lufs is None:
        for _ in range(TP_PASSES):
            tp = m.true_peak() if m.limiting(1.0) else 0.0
            if tp <= ceiling:
                break
            m.ceiling *= ceiling / tp * 0.9999
        return m
    envelope = side().submit(m._envelope) if m.frames >= SIDE_MIN_FRAMES else None   # beside the K-weighting
    measured = m.loudness(1.0, limit=False)
    if envelope is not None:
        envelope.result()
    if not np.isfinite(measured):
        raise Silent(loudness_lufs)
    m.source_lufs = float(measured)
    gain_db = loudness_lufs - measured
    m.ceiling = ceiling * db_to_gain(-TP_HEADROOM_DB)   # the gain's modulation overshoots by about this
    for _ in range(TP_PASSES):     # a true-peak pass lowers the ceiling a little: the knee found holds
        gain, got = _escalate(m, loudness_lufs, gain_db, first=to_db(m.knee))
        if abs(got - loudness_lufs) > REACH_TOL_LU and not m.verify:     # only a measured miss is an error
            return master(samples, rate, loudness_lufs, ceiling, peak_db=peak_db, reason=reason, check=check,
                          verify=True, like=m)
        if abs(got - loudness_lufs) > REACH_TOL_LU:
            raise Unreachable(loudness_lufs, user_db, round(got, 1), reason)  # asking for the reach lands there
        m.gain, m.short_lu = gain, max(0.0, loudness_lufs - got)
        gain_db = 20.0 * math.log10(gain)
        if not m.verify:
            break
        tp = m.true_peak() if m.limiting(gain) else 0.0
        if tp <= ceiling:
            break
        m.ceiling *= ceiling / tp * 0.9999
    return m


def _escalate(m: Mastered, target: float, gain_db: float, first: float = KNEES_DB[0]) -> tuple[float, float]:
    """:func:`_search` with the fast-stage knee (:data:`KNEES_DB`, from ``first`` on) that reaches
    ``target`` with the least limiting: the gentlest knee wins while the limiter takes at most
    :data:`GENTLE_DB` off the level; past that a harder knee that needs less make-up gain is tried
    (QA: drums at -24.2 LUFS mastered to -16 took 31 dB of gain with the gentlest knee, the slow stage
    crushing 21 dB of it; the next knee reaches -16 with 12 dB less)."""
    start = gain_db                  # the gain without limiting
    best = None                      # (reached, gain, loudness, knee)
    for knee_db in [k for k in KNEES_DB if k >= first - 1e-6]:
        m.knee = db_to_gain(knee_db)
        gain, got = _search(m, target, gain_db)
        reached = abs(got - target) <= 2 * LOUDNESS_TOL_LU
        closer = abs(best[2] - target) - abs(got - target) if best is not None else 0.0
        if best is None or (reached and (not best[0] or gain < best[1])) or (not reached and not best[0] and (
                closer > LOUDNESS_TOL_LU or (closer > -LOUDNESS_TOL_LU and gain < best[1]))):
            best = (reached, gain, got, m.knee)     # out of reach: as close with less gain wins (QA92)
        if reached and 20.0 * math.log10(gain) - start <= GENTLE_DB:
            break
        gain_db = 20.0 * math.log10(gain) if got < target else gain_db
    assert best is not None
    m.knee = best[3]
    if 20.0 * math.log10(best[1]) - start > GENTLE_DB:    # driven hard: as loud with the least drive
        # as loud: within the tolerance of the target or of the loudest, and still within reach where it was
        need = target - LOUDNESS_TOL_LU / 2 if best[0] else best[2] - LOUDNESS_TOL_LU
        if not best[0] and best[2] >= target - REACH_TOL_LU:
            need = max(need, target - REACH_TOL_LU + 0.01)
        top = m.estimate(best[1])
        gain = _least_drive(m, best[1], start - MAX_STEP_DB, min(top, need + (top - best[2])))   # (as estimated)
        got = m.loudness(gain) if gain < best[1] and m.estimated and m.verify else m.estimate(gain)
        if gain < best[1] and got >= need:
            return gain, got
    return best[1], best[2]


DC_WARN = 0.01      # a channel's mean this far from zero (-40 dBFS) is a DC offset worth saying


class DCTally:
    """The DC offset of what an export writes (QA51: a +0.3 offset went into the master scaled by
    the loudness gain, took the headroom and clicked where the file ends): measured on the whole
    value (an :class:`~nodeflow.audio.Audio`), or tallied block by block as a ``stream`` is written;
    said as a warning, and added to the refusal of a loudness target it keeps out of reach."""

    def __init__(self, audio: Any, stream: Any):
        self.sums = np.zeros(audio.channels)
        self.frames = 0
        if stream is None and audio.frames:
            self.sums, self.frames = audio.samples.sum(axis=1, dtype=np.float64), audio.frames

    def tally(self, block: np.ndarray) -> np.ndarray:
        self.sums += block.sum(axis=1, dtype=np.float64)
        self.frames += block.shape[1]
        return block

    def note(self) -> str:
        """What to say of the offset, or "" when it is under :data:`DC_WARN`."""
        if not self.frames:
            return ""
        means = self.sums / self.frames
        ch = int(np.abs(means).argmax())
        if abs(means[ch]) < DC_WARN:
            return ""
        over = [i + 1 for i, m in enumerate(means) if abs(m) >= DC_WARN]
        where = "" if len(over) == len(means) else f" (channel{'s' * (len(over) > 1)} {', '.join(map(str, over))})"
        return (f"the audio carries a DC offset of {means[ch]:+.3f}{where}, which takes headroom the loudness does "
                "not count and clicks where playback starts and stops; put a dsp.highpass (20 Hz) before the export")

    @contextlib.contextmanager
    def noted(self) -> Iterator[None]:
        """A loudness target out of reach says the offset too (it may be what keeps it out of reach)."""
        try:
            yield
        except Unreachable as e:
            if note := self.note():
                e.args = (f"{e.args[0]}; {note}",)
            raise
