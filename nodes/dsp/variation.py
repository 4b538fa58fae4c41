"""``dsp.variation``: pitch, tempo and direction changes per window, through Rubber Band.

Meant to be mapped over a list of windows: ``pattern_semitones`` steps through a sequence of
transpositions by the window's ``index`` ("0 5 7 3" plays window 0 as is, window 1 a fourth up,
window 2 a fifth up, window 3 a minor third up, window 4 as is again...).
"""
from __future__ import annotations

import math
import re
from typing import Annotated

import numpy as np

from nodeflow.audio import Audio
from nodeflow.cuts import read_cut, recut
from nodeflow.errors import ParameterError
from nodeflow.node import node
from nodeflow.types import Range

__all__ = ["variation", "parse_pattern", "soft_limit"]

KNEE = 0.9            # soft_limit is the identity up to this level
# Rubber Band is one uninterruptible call: clips up to this many output samples (all channels; about
# 0.2 s of work) run in the run's process, longer ones in a worker process (Stop ends it at once,
# other cores take other windows); starting a worker costs about 0.3 s of CPU, once per process
INLINE_SAMPLES = 1 << 18


def parse_pattern(text: str) -> list[float]:
    """Semitone steps from text such as ``"0 5 7 3"`` or ``"0, -12, 7.5"`` (empty text: no pattern).

    >>> parse_pattern("0 5 7 3"), parse_pattern(" -12,7.5 "), parse_pattern("")
    ([0.0, 5.0, 7.0, 3.0], [-12.0, 7.5], [])
    """
    steps = []
    for item in re.split(r"[\s,;]+", text.strip()):
        if not item:
            continue
        try:
            value = float(item)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or abs(value) > 24:
            raise ParameterError(f"variation: pattern_semitones={text!r}: {item!r} is not a number of semitones "
                                 f"in [-24, 24]; write numbers separated by spaces, e.g. '0 5 7 3'")
        steps.append(value)
    return steps


def soft_limit(x: np.ndarray) -> np.ndarray:
    """Keep samples within [-1, 1] with a smooth knee: unchanged below ``KNEE``, a tanh curve above.

    Works sample by sample (no look-ahead, no state), so windows processed one by one get the same
    treatment and still stitch without level jumps.
    """
    mag = np.abs(x)
    over = mag > KNEE
    if not over.any():
        return x
    room = 1.0 - KNEE
    limited = KNEE + room * np.tanh((mag - KNEE) / room)
    return np.where(over, np.sign(x) * limited, x).astype(np.float32)


EDGE_S = 0.05      # mirrored context each side of a clip, so Rubber Band's edge transients are cut off


def _stretched_tempo(info: tuple[tuple[str, str], ...], ratio: float) -> tuple[tuple[str, str], ...]:
    """``info`` with its ``bpm`` slowed by ``ratio`` (twice as long: half the tempo): a DAW that honours
    the tag would otherwise squeeze the stretched audio back to the old tempo."""
    out = dict(info)
    try:
        bpm = float(out["bpm"])
    except (KeyError, ValueError):
        return info
    out["bpm"] = f"{bpm / ratio:.6g}"
    return tuple(sorted(out.items()))


def _stretched_cut(audio: Audio, frames: int, ratio: float) -> str:
    """``audio.edges`` (its cut record, :func:`nodeflow.cuts.cut_record`) for the window stretched by
    ``ratio`` to ``frames``: its length now, and the padding ``last="pad"`` gave it to the frame, so
    that ``time.stitch`` ends the piece at ``round(source end * ratio)`` exactly (in proportion it
    could land a frame off); see :func:`nodeflow.cuts.recut`."""
    c = read_cut(audio.edges)
    if c is None or c.frames <= 0:
        return audio.edges
    real = c.frames - c.padded            # the frames of the source it holds, as long as they are now
    if c.frames != audio.frames:
        real = round(real * audio.frames / c.frames)
    held = round((audio.start_frame + real) * ratio) - round(audio.start_frame * ratio)
    return recut(audio.edges, frames, max(0, frames - held) if c.padded > 0 else 0)


def _stretch(samples: np.ndarray, rate: int, length_ratio: float, semitones: float,
             preserve_formants: bool) -> np.ndarray:
    """Rubber Band: ``length_ratio`` times as long, ``semitones`` higher; exactly ``round(n * ratio)`` frames, the
    music where the ratio puts it (its engine's drift taken out: :mod:`nodes.dsp._drift`)."""
    from nodes.dsp._conform import warp
    from nodes.dsp._drift import MAX_DRIFT, drift
    frames = round(samples.shape[1] * length_ratio)
    if samples.shape[1] == 0:
        return np.zeros((samples.shape[0], frames), np.float32)
    # Rubber Band's first and last milliseconds are transients of its own (a step of 0.06 just before
    # a window's end, audible as a click at the seam): stretch the clip with its mirror image around
    # it and keep the middle, so those edges fall outside what is returned.
    pad = min(samples.shape[1] - 1, round(EDGE_S * rate)) if samples.shape[1] > 1 else 0
    # (and more after it: a drift can leave the clip's last frames past the length the engine gives)
    tail = min(samples.shape[1] - 1, pad + math.ceil(MAX_DRIFT * samples.shape[1])) if pad else 0
    padded = np.pad(samples, ((0, 0), (pad, tail)), mode="reflect") if pad else samples
    lead = round(pad * length_ratio)
    args = (np.ascontiguousarray(padded, np.float32), float(rate), length_ratio, float(semitones),
            bool(preserve_formants))
    out = _rubberband(*args)
    out = np.nan_to_num(np.asarray(out, np.float32), nan=0.0, posinf=0.0, neginf=0.0)[:, lead:]
    d = drift(samples, out[:, :frames], rate, length_ratio)
    if d:
        out = warp(out, 1.0 + d, frames)
    if out.shape[1] >= frames:
        return out[:, :frames]
    return np.pad(out, ((0, 0), (0, frames - out.shape[1])))


def _rubberband(samples: np.ndarray, rate: float, length_ratio: float, semitones: float,
                preserve_formants: bool) -> np.ndarray:
    """One ``pedalboard.time_stretch`` call (in this process or a worker's)."""
    from pedalboard import time_stretch

    # pedalboard's stretch_factor is a *speed* factor: 2.0 plays twice as fast (half the length).
    return time_stretch(samples, rate, stretch_factor=1.0 / length_ratio, pitch_shift_in_semitones=semitones,
                        preserve_formants=preserve_formants)


def _estimate(inputs: dict, params: dict) -> dict:
    """``stretch_ratio`` times as long; Rubber Band's work, twice with ``octave_blend``."""
    from nodeflow.costs import Shape
    a = inputs["audio"]
    out = Shape(math.ceil(a.frames * params["stretch_ratio"]), a.channels, a.rate)
    passes = (params["semitones"] != 0 or params["stretch_ratio"] != 1.0 or bool(params["pattern_semitones"])) \
        + (params["octave_blend"] > 0)
    problem = ""
    try:                # a pattern the node cannot read is refused before anything runs (QA: validate said ok)
        parse_pattern(params["pattern_semitones"] or "")
    except ParameterError as e:
        problem = str(e)
    return {"out": Shape(out.frames, out.channels, out.rate, work_s=(a.samples + out.samples) * passes / 2e6 + 0.01,
                         problem=problem)}


def _in_worker(inputs: dict, params: dict) -> bool:
    """Rubber Band holds the GIL in one uninterruptible call: long clips go to a worker process."""
    audio = inputs.get("audio")
    if audio is None:
        return False
    frames = audio.frames * max(1.0, float(params.get("stretch_ratio", 1.0)))
    return audio.channels * frames > INLINE_SAMPLES


@node("dsp.variation", version=2, estimate=_estimate, process=_in_worker, working=1.0)
def variation(audio: Audio, *,
              semitones: Annotated[float, Range(-24.0, 24.0, unit="st")] = 0.0,
              pattern_semitones: str = "",
              stretch_ratio: Annotated[float, Range(0.25, 4.0, unit="x")] = 1.0,
              reverse: bool = False,
              octave_blend: Annotated[float, Range(0.0, 1.0)] = 0.0,
              preserve_formants: bool = False) -> Audio:
    """Transpose, time-stretch, reverse or thicken a clip; map it over windows for per-window variation.

    Pitch and tempo change independently (Rubber Band through pedalboard; a long clip in a worker
    process: Stop ends it at once, and windows or branches run on every core).  Output samples stay
    within [-1, 1] (a soft knee above -0.9 dBFS on what the node transposed, stretched or thickened)
    and finite; a window it leaves as it is (a 0 in ``pattern_semitones``, or only reversed) comes back
    to the bit, so windows nothing changed still stitch back to the input.  Window placement is kept; with a
    stretch, ``start_frame``, ``overlap_frames``, ``tokens`` and a ``last="pad"`` window's padding
    scale with the new length, so stretched windows still stitch (to the source's length stretched).

    Parameters
    ----------
    audio : Audio
        Clip or window.
    semitones : float
        Transposition for every window, in semitones (12 = one octave up).
    pattern_semitones : str
        Extra transposition per window, cycling by the window's ``index``: ``"0 5 7 3"``.
        Empty: none.
    stretch_ratio : float
        New length / old length: 2.0 = twice as long (half tempo), 0.5 = half as long.
        Pitch is unchanged by the stretch.
    reverse : bool
        Play the (processed) clip backwards.
    octave_blend : float
        Level of a copy one octave above the result mixed in (0 = none, 1 = as loud).
    preserve_formants : bool
        Keep the spectral envelope in place while transposing: right for voices (no "chipmunk"
        effect), wrong for sparse tonal material, whose shifted partials then lose level
        (a pure tone an octave up drops by about 35 dB).  Off by default.

    Examples
    --------
    >>> sine = Audio(0.5 * np.sin(2 * np.pi * 440 * np.arange(32000) / 32000), 32000)
    >>> variation.fn(sine, stretch_ratio=1.5).frames
    48000
    """
    steps = parse_pattern(pattern_semitones)
    shift = semitones + (steps[audio.index % len(steps)] if steps else 0.0)
    x = audio.samples
    if shift != 0.0 or stretch_ratio != 1.0:
        x = _stretch(x, audio.sample_rate, stretch_ratio, shift, preserve_formants)
    if octave_blend > 0.0:
        x = x + octave_blend * _stretch(x, audio.sample_rate, 1.0, 12.0, preserve_formants)
    if reverse:
        x = x[:, ::-1]
    placement = {}
    if stretch_ratio != 1.0:
        placement = dict(start_frame=round(audio.start_frame * stretch_ratio),
                         overlap_frames=min(round(audio.overlap_frames * stretch_ratio), x.shape[1]),
                         tokens=None if audio.tokens is None else round(audio.tokens * stretch_ratio),
                         markers=tuple((min(round(f * stretch_ratio), x.shape[1]), label) for f, label in audio.markers),
                         info=_stretched_tempo(audio.info, stretch_ratio),
                         edges=_stretched_cut(audio, x.shape[1], stretch_ratio))
    x = np.asarray(x, np.float32)
    if shift != 0.0 or stretch_ratio != 1.0 or octave_blend > 0.0 or not _within(x):
        x = soft_limit(x)        # what was made, or what was over already: a window left as it is stays (QA92 D2)
    return audio.replace(x, **placement)


def _within(x: np.ndarray) -> bool:
    """Whether every sample is finite and within [-1, 1]."""
    return bool(x.size == 0 or (np.isfinite(x).all() and np.abs(x).max() <= 1.0))
