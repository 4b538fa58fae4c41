"""``time.stitch``: put windows back together at their original positions, seams crossfaded.

Each window is placed where it came from (its ``start_frame``, set by ``time.tokenize_window``
and kept by every node that transforms a window), so the result has the source's length and
every bar stays on its beat, whatever the windows went through.  Clips without a placement (a
plain list of takes) are laid end to end, overlapping by their ``overlap_frames``.

A seam's crossfade is *centred* on the seam: windows that overlap fade across the middle of
their overlap; with ``fade_s`` set, windows cut without overlap fade over it around the cut, each
side continued past its end by its own mirror image (a continuation with no jump in level), so no
material moves in time.  By default a cut between windows that abut is not crossfaded: two
neighbours that still have the edges they were cut with (``Audio.edges``: nothing changed them
there) join as they are, the seam being the source itself (a chain that changes nothing gives the
source back exactly), and any other cut is *mended* (see :func:`_mend`): a smooth offset over 5 ms
each side takes out the jump, and the music is otherwise untouched (a crossfade over a made-up
continuation differed from a pad by -14 dBFS and softened each downbeat's kick by 3-4 dB).
"""
from __future__ import annotations

import math
from typing import Annotated

import numpy as np

from nodeflow.audio import Audio, edge_digest
from nodeflow.errors import AudioError, ParameterError
from nodeflow.node import Context, node
from nodeflow.timebase import bar_label, parse_meter
from nodeflow.types import Range

from nodes.dsp._conform import conform_all, project_rate, project_rate_fingerprint, resample_audio
from nodes.dsp._curves import Curve, crossfade_gains

__all__ = ["stitch", "join_windows", "place_windows", "SEAM_FADE_S"]

SEAM_FADE_S = 0.01     # a cut between windows that abut is mended over this (5 ms each side)


def place_windows(windows: list[Audio]) -> list[int]:
    """Frame offset of each window in the joined result (the first at 0).

    Windows whose ``start_frame`` increases go where they came from; otherwise each clip starts
    where the previous ends, less its ``overlap_frames`` (clamped to what both clips have).
    """
    starts = [w.start_frame for w in windows]
    if len(windows) > 1 and all(b > a for a, b in zip(starts, starts[1:])):
        return [s - starts[0] for s in starts]
    positions, end = [0], windows[0].frames
    for w in windows[1:]:
        pos = end - max(0, min(w.overlap_frames, w.frames, end))
        positions.append(pos)
        end = pos + w.frames
    return positions


def _seams(windows: list[Audio], positions: list[int], fade_frames: int | None,
           default_frames: int, mends: list[tuple[int, int]] | None = None) -> list[tuple[int, int]]:
    """``(start, length)`` of the crossfade at each seam, centred on it and never overlapping another.
    A seam of the default kind between windows that abut is mended instead (see :func:`_mend`): it
    gets no crossfade and ``(seam, half width)`` goes to ``mends``."""
    regions: list[tuple[int, int]] = []
    prev_end = 0
    for k in range(1, len(windows)):
        a1 = positions[k - 1] + windows[k - 1].frames      # where the earlier window ends
        b0 = positions[k]                                  # where the later one starts
        overlap = a1 - b0
        centre = (a1 + b0) // 2 if overlap > 0 else b0     # no overlap: the later window's start is the seam
        wanted = fade_frames if fade_frames is not None else (overlap if overlap > 0 else default_frames)
        mend = fade_frames is None and overlap == 0
        if mend and _as_cut(windows[k - 1]) and _as_cut(windows[k]) and \
                windows[k - 1].start_frame + windows[k - 1].frames == windows[k].start_frame:
            wanted, mend = 0, False    # neighbours as they were cut: the seam is the source itself, left exact
        nxt = positions[k + 1] if k + 1 < len(windows) else positions[k] + windows[k].frames
        room = min(centre - prev_end, max(0, (nxt - centre) // 2), windows[k - 1].frames, windows[k].frames)
        length = max(0, min(wanted, 2 * max(room, 0)))
        mended = 0
        if mend:
            if mends is not None and length // 2 >= 1 and min(windows[k - 1].frames, windows[k].frames) >= 2:
                mended = length // 2
                mends.append((centre, mended))
            length = 0
        start = centre - length // 2
        regions.append((start, length))
        prev_end = start + length + mended
    return regions


def _as_cut(w: Audio) -> bool:
    """Whether window ``w`` still has the edges it was cut with (see :func:`nodeflow.audio.edge_digest`)."""
    return bool(w.edges) and edge_digest(w.samples) == w.edges


def _extended(w: Audio, position: int, lo: int, hi: int) -> np.ndarray:
    """Samples of ``w`` (placed at ``position``) over output frames ``[lo, hi)``; past either end the
    window continues as its mirror image (``x[n-1], x[n-2], ...``), then silence."""
    n = w.frames
    i = np.arange(lo - position, hi - position)
    i = np.where(i >= n, 2 * n - 1 - i, i)
    i = np.where(i < 0, -1 - i, i)
    valid = (i >= 0) & (i < n)
    out = np.zeros((w.channels, hi - lo), np.float64)
    out[:, valid] = w.samples[:, i[valid]]
    return out


def join_windows(windows: list[Audio], positions: list[int], fade_frames: int | None = None,
                 curve: Curve | str = Curve.LINEAR, default_frames: int = 0,
                 check=None) -> tuple[np.ndarray, list[int]]:
    """Samples ``[channels, frames]`` of ``windows`` (same rate and channels) placed at ``positions``,
    and the frame of each seam's centre.

    The output ends where the last window ends.  At each seam the two sides are crossfaded over
    ``fade_frames`` (``None``: the overlap, or ``default_frames`` where windows do not overlap),
    centred on the seam; with ``fade_frames=0`` windows are cut at the seam.  The output is
    allocated once, so an hour of windows costs one copy.  ``check`` (``ctx.check_cancelled``)
    runs every few hundred windows.
    """
    total = positions[-1] + windows[-1].frames
    out = np.zeros((windows[0].channels, total), np.float32)
    mends: list[tuple[int, int]] = []
    seams = _seams(windows, positions, fade_frames, default_frames, mends)
    bounds = [(0, 0)] + seams + [(total, 0)]
    for k, w in enumerate(windows):
        if check is not None and k % 256 == 0:
            check()
        lo, hi = bounds[k][0] + bounds[k][1], bounds[k + 1][0]      # where this window plays alone
        if hi > lo:
            a, b = max(lo, positions[k]), min(hi, positions[k] + w.frames)
            if b > a:
                out[:, a:b] = w.samples[:, a - positions[k]:b - positions[k]]
            if a > lo or b < hi:       # a gap between placed windows: the mirrored continuation, then silence
                out[:, lo:a] = _extended(w, positions[k], lo, max(lo, a))
                out[:, max(b, lo):hi] = _extended(w, positions[k], max(b, lo), hi)
    for k, (start, length) in enumerate(seams, 1):
        if check is not None and k % 256 == 0:
            check()
        if length:
            fade_out, fade_in = crossfade_gains(length, curve)
            tail = _extended(windows[k - 1], positions[k - 1], start, start + length)
            head = _extended(windows[k], positions[k], start, start + length)
            out[:, start:start + length] = tail * fade_out + head * fade_in
    for seam, half in mends:
        _mend(out, seam, half)
    return out, [start + length // 2 for start, length in seams]


def _mend(out: np.ndarray, seam: int, half: int) -> None:
    """Make the cut at ``seam`` continuous without replacing any material: the step across it is set to
    the mean of the steps on either side (the slope both sides have), by a smooth offset that is
    largest at the seam and gone ``half`` frames away (a raised cosine, flat at both ends).  Where the
    two sides already join (windows changed alike, by a gain say) the offset is near zero and the
    music is untouched: a crossfade over a made-up continuation softened every downbeat's kick by
    3-4 dB; a transposed or regenerated window's jump is taken out, so it does not click."""
    a1, a2 = out[:, seam - 1].astype(np.float64), out[:, seam - 2].astype(np.float64)
    b0, b1 = out[:, seam].astype(np.float64), out[:, seam + 1].astype(np.float64)
    jump = (b0 - a1) - 0.5 * ((a1 - a2) + (b1 - b0))
    w = 0.5 * (1.0 + np.cos(np.pi * np.arange(half) / half))          # 1 at the seam, 0 at half
    out[:, seam - half:seam] += (0.5 * jump[:, None] * w[::-1]).astype(np.float32)
    out[:, seam:seam + half] -= (0.5 * jump[:, None] * w).astype(np.float32)


def _labels(first: Audio, centres: list[int]) -> tuple[tuple[int, str], ...]:
    """Cue labels of the seams: the bar they fall on when the tempo is known, else the window number."""
    info = dict(first.info)
    try:
        bpm, (beats, note) = float(info.get("bpm", "")), parse_meter(info.get("meter") or "4/4")
    except (ValueError, ParameterError):        # no tempo, or a meter tag no one can read
        return tuple((c, f"window {k + 2}") for k, c in enumerate(centres))
    return tuple((c, bar_label(c, first.sample_rate, bpm, beats, note)) for c in centres)


def _estimate(inputs: dict, params: dict) -> dict:
    """The piece the windows came from (their span), else the windows end to end."""
    from nodeflow.costs import Shape, join_rate
    w = inputs["windows"]
    rate = join_rate(w)
    frames = w.span if w.span is not None else w.frames * (w.items or 1)
    return {"out": Shape(math.ceil(frames * rate / w.rate), w.channels, rate)}


@node("time.stitch", category="time", version=3, fingerprint=project_rate_fingerprint, estimate=_estimate)
def stitch(windows: list[Audio], *,
           fade_s: Annotated[float | None, Range(0.0, 60.0, unit="s")] = None,
           curve: Curve = Curve.LINEAR,
           ctx: Context | None = None) -> Audio:
    """Join windows at their original positions, crossfading each seam (centred on it).

    Windows from ``time.tokenize_window`` go back where they were cut, so the result is as long
    as the source and every bar keeps its time, with or without a fade.  Each seam is crossfaded
    over the windows' overlap, or over ``fade_s`` seconds when set (0: cut at the seam), or by
    default a cut between windows that abut is mended over 10 ms (its jump taken out by a smooth
    offset, no material replaced), which keeps transposed or regenerated windows from clicking;
    neighbours whose edges are as they were cut join exactly.  With the ``linear`` curve, windows
    cut with overlap and not changed stitch back to the original exactly.  Windows are joined at
    the highest rate among them and the most channels; with a graph project rate the joined result
    is then resampled to it whole.  The result carries a cue marker at each seam.

    Parameters
    ----------
    windows : list[Audio]
        Windows in playing order.
    fade_s : float or None
        Crossfade length in seconds at every seam; ``None``: each window's overlap, or a cut mended
        over 10 ms where windows abut.
    curve : Curve
        ``linear`` (seamless for identical material) or ``equal_power`` (for different material).

    Examples
    --------
    >>> from nodes.timing.window import tokenize_window
    >>> x = Audio(np.random.default_rng(0).uniform(-1, 1, 32000 * 3), 32000)
    >>> y = stitch.fn(tokenize_window.fn(x, size=1.0, overlap=0.5))
    >>> float(np.abs(y.samples - x.samples).max()) < 1e-6
    True
    >>> stitch.fn(tokenize_window.fn(x, size=1.0), fade_s=0.25).frames   # no music lost
    96000
    """
    if not windows:
        raise AudioError("stitch: windows is an empty list; connect the output of time.tokenize_window "
                         "(or another list of clips)")
    check = ctx.check_cancelled if ctx is not None else None
    same = conform_all(list(windows), what="stitch: window", check=check)    # joined at their own rate,
    first = same[0]
    positions = place_windows(same)
    fade_frames = None if fade_s is None else first.frames_at(fade_s)
    samples, centres = join_windows(same, positions, fade_frames, Curve(curve), first.frames_at(SEAM_FADE_S), check)
    joined = first.replace(samples, index=0, tokens=None, overlap_frames=0, edges="", markers=_labels(first, centres))
    rate = project_rate(ctx)      # then brought to the project's rate whole (window by window, each lands off
    return joined if not rate else resample_audio(joined, rate, check=check)   # by a fraction of a frame)
