"""``time.stitch``: put windows back together at their original positions, seams crossfaded.

Each window is placed where it came from (its ``start_frame``, set by ``time.tokenize_window``
and kept by every node that transforms a window), so the result has the source's length and
every bar stays on its beat, whatever the windows went through.  Clips without a placement (a
plain list of takes) are laid end to end, overlapping by their ``overlap_frames``.

A seam's crossfade is *centred* on the seam: windows that overlap fade across the middle of
their overlap; with ``fade_s`` set, windows cut without overlap fade over it around the cut, each
side continued past its end by its own mirror image (a continuation with no jump in level), or by
its neighbour where both are the source under a gain, so no material moves in time.  Two neighbours
that still have the edges they were cut with (``Audio.edges``: nothing changed them there) join as
they are, the seam being the source itself (a chain that changes nothing gives the source back
exactly), and so do neighbours only resampled since (the source at another rate).  By default any
other cut between windows that abut is not crossfaded but *mended* (see
:func:`nodes.timing._mend.mend`): a smooth offset over 5 ms each side takes out the jump the edit made (a short bend,
the change of slope it made), and the music is otherwise untouched (a crossfade over a made-up
continuation differed from a pad by -14 dBFS and
softened each downbeat's kick by 3-4 dB; a mend of the whole step took a downbeat's attack for a
click; bars reordered or comped: the bar before bends to meet the next as its source starts it).  A window
under 2 ms between two such cuts (a blip: a few frames left by a trim or a rounding) is its neighbour's
continuation, and the one cut left is mended (:func:`_blips`).  Where no window plays the result is silent.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Annotated, Callable

import numpy as np

from nodeflow.audio import Audio
from nodeflow.cuts import EDGE_KEEP, Cut, edge_digest, frame_map, neighbours, read_cut
from nodeflow.errors import AudioError
from nodeflow.node import Context, node
from nodeflow.types import Range

from nodes.dsp._conform import conform_all, project_rate, project_rate_fingerprint, resample_audio
from nodes.dsp._curves import Curve, crossfade_gains
from nodes.timing._cues import seam_cues
from nodes.timing._mend import mend, step

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


@dataclasses.dataclass
class _Seam:
    """How two neighbouring windows meet: a crossfade over ``[start, start + length)`` (centred on the
    seam, ``length`` 0: none), or a mend ``mend`` frames each side of ``centre`` that keeps ``natural``
    (the source's own step there, as the windows are now: a downbeat's attack), or a ``silent`` gap.
    ``ratios``: the windows are the source under a gain or channel mix, so each side of a crossfade continues
    as its neighbour mapped to it (``tail = ratios[0] @ next``, ``head = ratios[1] @ previous``); ``lead_in``: an
    edit (bars reordered, comped) to a window that is its source: the frame before it there; ``edit``: a cut
    between windows that abut and are not neighbours in their source (under a gain or mix the mend keeps their
    source's own step), mended where room was left for it (``mend``)."""
    start: int
    length: int
    centre: int
    mend: int = 0
    natural: np.ndarray | None = None
    silent: bool = False
    ratios: tuple[np.ndarray, np.ndarray] | None = None
    lead_in: np.ndarray | None = None
    edit: bool = False


def _seams(windows: list[Audio], positions: list[int], fade_frames: int | None, default_frames: int,
           check: Callable[[], None] | None = None) -> list[_Seam]:
    """The seam between each window and the next, each crossfade centred on it and never overlapping another.

    Neighbours in the source whose edges are as they were cut join exactly, whatever ``fade_frames``
    (the seam is the source itself), and so do neighbours only resampled since, under one gain if any (the
    source at another rate: a step there is the music's, a hit's onset).  A gap longer than ``default_frames``
    is silence (a window left out, or cut short); a shorter one is bridged.  A seam of the default kind
    between windows that abut is mended (see :func:`nodes.timing._mend.mend`) instead of crossfaded."""
    seams: list[_Seam] = []
    prev_end = 0
    ca = read_cut(windows[0].edges)               # how each was cut, read once (see nodeflow.cuts.cut_record)
    for k in range(1, len(windows)):
        if check is not None and k % 1024 == 0:    # tens of thousands of windows take seconds: Stop ends them
            check()
        before, after = windows[k - 1], windows[k]
        cb, ca = ca, read_cut(after.edges)
        a1 = positions[k - 1] + before.frames      # where the earlier window ends
        b0 = positions[k]                          # where the later one starts
        overlap = a1 - b0
        if -overlap > default_frames:              # no window plays there: silence, each edge as it is
            seams.append(_Seam(b0, 0, b0, silent=True))
            prev_end = b0
            continue
        centre = (a1 + b0) // 2 if overlap > 0 else b0     # no overlap: the later window's start is the seam
        wanted = fade_frames if fade_frames is not None else (overlap if overlap > 0 else default_frames)
        mend = fade_frames is None and overlap == 0
        placed = after.start_frame - before.start_frame == b0 - positions[k - 1] \
            and (overlap != 0 or _side_by_side(cb, ca))
        if placed and overlap == 0 and _as_cut(before, cb) and _as_cut(after, ca):
            wanted, mend = 0, False    # neighbours as they were cut: the seam is the source itself, left exact
        again = _again_maps(before, after, cb, ca) if placed and overlap == 0 and mend else None
        if again is not None and _one_map(before, after, cb, ca):    # one material at another rate, one gain: as
            wanted, mend = 0, False    # it is (QA99 D1: the mend took a hit's onset for an edit's jump, and lifted it)
        maps = _maps(before, after, cb, ca) if placed and overlap >= 0 and (wanted or mend) else None
        nxt = positions[k + 1] if k + 1 < len(windows) else positions[k] + after.frames
        room = min(centre - prev_end, max(0, (nxt - centre) // 2), before.frames, after.frames)
        length = max(0, min(wanted, 2 * max(room, 0)))
        seam = _Seam(centre - length // 2, length, centre)
        if mend:
            seam.edit = maps is None and again is None
            if length // 2 >= 1 and min(before.frames, after.frames) >= 2:
                seam.mend = length // 2
                seam.natural = maps[1] @ _source_step(cb, ca) if maps is not None else \
                    again[1] @ _again_step(cb, ca) if again is not None else None   # two gains: their step mended
                seam.lead_in = _lead_in(after, ca) if seam.natural is None else None
            seam.start, seam.length = centre, 0
        elif maps is not None and maps[0].any() and maps[1].any():
            seam.ratios = (maps[0] @ np.linalg.pinv(maps[1]), maps[1] @ np.linalg.pinv(maps[0]))
        seams.append(seam)
        prev_end = seam.start + seam.length + seam.mend
    return seams


def _blips(windows: list[Audio], positions: list[int], seams: list[_Seam], default_frames: int) -> dict[int, int]:
    """Runs of windows under 2 ms in all between edits' cuts (another take's few frames between two windows, left
    by a trim or a rounding: blips), as ``{window: the window whose continuation replaces it}``; ``seams`` are
    changed to match (:func:`_blip_run`).  Cuts that close cannot be mended one by one: a jump as large as the
    music takes about a millisecond each side to take out without stepping more than the music does, and each
    mend had half the window (QA105, QA107, QA109: the cuts either side of a window of 1, 8, 16, 32 and 44
    frames stepped 28.6, 5.0, 2.8, 1.4 and 2.1 times the music's largest step), and mending them together
    lifted the music around them past full scale.  That short, a window is heard as a tick, not as music: its
    frames become the window before's mirrored continuation (the window after's, for a run at the start), and
    the one cut left is mended as any other edit (a hit after it keeps its attack, a rest before it stays a
    rest); the piece keeps its length and every other frame.  Blips that are the source beside a neighbour (a
    bar's first frames before another take) stay as they are, and the one cut is mended across them into that
    neighbour; a longer run of short windows is music, left to :func:`mend` one by one."""
    near = max(2, default_frames // 5)           # 2 ms (default_frames: the 10 ms a mend spans)
    n = len(windows)
    # per seam: an edit's cut, source neighbours (no crossfade, no gap: as cut, or under a gain, where the mend
    # keeps their own step), or neither (a crossfade, a gap)
    kind = ["edit" if s.edit else "joined" if not (s.silent or s.length) else "" for s in seams]
    fills: dict[int, int] = {}
    k = 0
    while k < n:
        end = k
        while end < n and windows[end].frames < near:
            end += 1                                   # windows k .. end - 1: a run of short windows
        if end > k:
            fills.update(_blip_run(windows, positions, seams, kind, k, end, near, default_frames))
        k = end + 1
    return fills


def _blip_run(windows: list[Audio], positions: list[int], seams: list[_Seam], kind: list[str], k: int, end: int,
              near: int, default_frames: int) -> dict[int, int]:
    """What :func:`_blips` does with the short windows ``k .. end - 1``: the fills (``{window: the window that
    continues over it}``), after the seams' mends are set to match."""
    n = len(windows)
    before, after = k - 1, (end if end < n else -1)
    left, right = (kind[k - 1] if k else None), (kind[end - 1] if end < n else None)
    inner = {kind[j - 1] for j in range(k + 1, end)}
    frames = sum(w.frames for w in windows[k:end])
    if frames >= near or "" in {left, right} | inner:
        return {}                        # music, or a crossfade or a gap beside them: as they are
    blips = windows[k:end]
    source = _continues(windows[before] if before >= 0 else None, blips, windows[after] if after >= 0 else None)
    with_before = left == "joined" or source == "before"
    with_after = right == "joined" or source == "after"
    if with_before or with_after:        # the source beside a neighbour: one cut, mended across them as they are
        if not (with_before and with_after) and inner <= {"joined"} and before >= 0 and after >= 0:
            joined = seams[k - 1] if with_before else seams[end - 1]
            joined.mend, joined.natural, joined.lead_in = 0, None, None            # (the source: as it is)
            _mend_across(seams, end - 1 if with_before else k - 1, before, after, windows, positions, default_frames)
        return {}
    if inner - {"edit"}:
        return {}
    fill = before if before >= 0 else after          # (whose mirror must cover them whole)
    if fill < 0 or windows[fill].frames < frames:
        return {}
    for j in range(max(k, 1), min(end + 1, n)):      # no cut is left within the run, nor after it at the start
        seams[j - 1].mend, seams[j - 1].natural, seams[j - 1].lead_in = 0, None, None
    if before >= 0 and after >= 0:                   # the cut left: the window before's continuation -> after
        _mend_across(seams, end - 1, before, after, windows, positions, default_frames)
    return {j: fill for j in range(k, end)}


def _continues(before: Audio | None, blips: list[Audio], after: Audio | None) -> str | None:
    """Which window (``"before"``, ``"after"``; None: neither) ``blips`` are the source's own frames beside, under
    that window's map (a gain, a channel mix), as its record keeps them (:func:`nodeflow.cuts.neighbours`): a
    piece's last frames under the gain of the rest (QA109), a bar's first frame before a comped bar (QA110); a
    blip's own record is too short to tell."""
    x = np.concatenate([w.samples for w in blips], axis=1)
    for w, side in ((before, 1), (after, 0)):
        near = neighbours(w.samples, read_cut(w.edges)) if w is not None else None
        if near is None:
            continue
        m = min(x.shape[1], near[side].shape[1])
        ours, source = (x[:, :m], near[1][:, :m]) if side else (x[:, -m:], near[0][:, -m:])
        if m and np.isfinite(source).all() and np.allclose(ours, source, rtol=1e-4, atol=1e-6):
            return "before" if side else "after"
    return None


def _mend_across(seams: list[_Seam], cut: int, before: int, after: int, windows: list[Audio], positions: list[int],
                 default_frames: int) -> None:
    """Mend the cut ``seams[cut]`` (at window ``cut + 1``'s start) as an edit (its attack kept, :func:`_lead_in`)
    over windows ``before`` to ``after`` and blips between them that continue either side now (the window
    before's continuation, or the source beside its neighbour: QA110, a bar's first frame before a comped
    bar), within the room between the mends either side."""
    seam = seams[cut]
    prev = seams[before - 1] if before >= 1 else None
    nxt = seams[after] if after < len(seams) else None
    for other in (prev, nxt):                      # a mend either side gave its room to the blips' short ones:
        if other is not None and other.mend:       # the two now share what lies between them
            other.mend = min(other.mend, abs(seam.centre - other.centre) // 2)
    lo = prev.start + prev.length + prev.mend if prev is not None else 0
    hi = nxt.start - nxt.mend if nxt is not None else positions[after] + windows[after].frames
    half = min(default_frames // 2, seam.centre - max(lo, positions[before]), hi - seam.centre)
    if half >= 1:
        seam.mend, seam.natural = half, None
        seam.lead_in = _lead_in(windows[cut + 1], read_cut(windows[cut + 1].edges))


def _source_step(cb: Cut | None, ca: Cut | None) -> np.ndarray:
    """The source's own :func:`_step` at the cut between two neighbours, from their cut records."""
    assert cb is not None and ca is not None and cb.tail is not None and ca.head is not None
    return step(cb.tail, ca.head)


def _lead_in(w: Audio, c: Cut | None) -> np.ndarray | None:
    """The frame before window ``w`` in its source, as its record ``c`` keeps it at ``w``'s rate and gain
    (:func:`nodeflow.cuts.neighbours`), or None (a new take, the source's first bar).  An edit keeps ``w``'s attack:
    a mend of reordered or comped bars took a hit's onset for the edit's jump, lifting kicks 2.4 dB (QA100 D1)."""
    near = neighbours(w.samples, c)
    return near[0][:, -1] if near is not None and np.isfinite(near[0]).all() else None


def _again_step(cb: Cut | None, ca: Cut | None) -> np.ndarray:
    """The :func:`_step` between two neighbours as resamplers last made them (see :func:`_again_maps`)."""
    assert cb is not None and ca is not None and cb.again is not None and ca.again is not None
    return step(cb.again[:, EDGE_KEEP:], ca.again[:, :EDGE_KEEP])


def _again_maps(before: Audio, after: Audio, cb: Cut | None, ca: Cut | None) -> tuple[np.ndarray, np.ndarray] | None:
    """``(G, H)`` as :func:`_maps` gives them, against the frames resamplers last made the two windows with
    (their cut records' ``again``, :func:`~nodeflow.cuts.resampled_record`): for windows that are their
    source at another rate, or taken there and back, under a gain or a channel mix since; else None."""
    if cb is None or ca is None or cb.again is None or ca.again is None or before.channels != after.channels \
            or (cb.again_frames, ca.again_frames) != (before.frames, after.frames):
        return None
    return _pair(before.samples[:, -EDGE_KEEP:], cb.again[:, EDGE_KEEP:], after.samples[:, :EDGE_KEEP],
                 ca.again[:, :EDGE_KEEP])


def _side_by_side(cb: Cut | None, ca: Cut | None) -> bool:
    """Whether two abutting windows sat side by side in one source, as their cut records say: what followed
    the first is the second's start, and what preceded the second the first's end.  Takes cut on the same grid
    sit as neighbours would, and their seams are no source's own (QA83 D3: comped bars of two takes were
    joined raw, 0.29 steps at 220/330 Hz).  A record that does not say (a window from elsewhere) is taken
    at its place."""
    if cb is None or ca is None or cb.after is None or ca.before is None or cb.tail is None or ca.head is None:
        return True
    return bool(np.array_equal(cb.after, ca.head) and np.array_equal(ca.before, cb.tail))


def _as_cut(w: Audio, c: Cut | None) -> bool:
    """Whether window ``w`` still has the edges it was cut with, as its cut record ``c`` says (see
    :func:`nodeflow.cuts.cut_record`)."""
    return c is not None and edge_digest(w.samples) == c.digest


def _maps(before: Audio, after: Audio, cb: Cut | None, ca: Cut | None) -> tuple[np.ndarray, np.ndarray] | None:
    """``(G, H)``, matrices ``[channels now, channels as cut]``: the end of ``before`` is its cut mapped by
    ``G`` and the start of ``after`` its cut mapped by ``H`` (windows changed by a gain or by a channel
    mix, a downmix or mono to stereo, or not at all), else None (a new take, a fade, a filter).  A side
    silent then and now takes the other side's map (the source's own, where both are).  ``cb``/``ca``:
    their cut records."""
    if cb is None or ca is None or cb.tail is None or ca.head is None or before.channels != after.channels \
            or (cb.frames, ca.frames) != (before.frames, after.frames) or cb.tail.shape != ca.head.shape:
        return None
    return _pair(before.samples[:, -EDGE_KEEP:], cb.tail, after.samples[:, :EDGE_KEEP], ca.head)


def _one_map(before: Audio, after: Audio, cb: Cut | None, ca: Cut | None) -> bool:
    """Whether one map (a gain, a channel mix) makes both windows' edges at the seam what resamplers last made
    them (see :func:`_again_maps`): the same material under the same change, either side."""
    assert cb is not None and ca is not None and cb.again is not None and ca.again is not None
    now = np.concatenate([before.samples[:, -EDGE_KEEP:], after.samples[:, :EDGE_KEEP]], axis=1)
    return frame_map(now, np.concatenate([cb.again[:, EDGE_KEEP:], ca.again[:, :EDGE_KEEP]], axis=1)) is not None


def _pair(tail: np.ndarray, tail_was: np.ndarray, head: np.ndarray,
          head_was: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The maps of two neighbours' edges now (``tail``, ``head``) from their edges recorded; see :func:`_maps`."""
    g, h = frame_map(tail, tail_was), frame_map(head, head_was)
    if g is None or h is None:
        return None
    if np.isnan(g).all() and np.isnan(h).all():      # silent on both sides, then and now
        same = np.eye(*g.shape) if g.shape[0] == g.shape[1] else np.zeros(g.shape)
        return same, same
    return (h if np.isnan(g).all() else g), (g if np.isnan(h).all() else h)


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


def _continued(w: Audio, position: int, lo: int, hi: int, other: Audio, other_position: int,
               ratio: np.ndarray | None) -> np.ndarray:
    """:func:`_extended`, or where ``ratio`` is given (both windows are the source under a gain or channel
    mix) ``w`` continued past its end or before its start by its neighbour ``other`` mapped by ``ratio``
    (``[channels, channels]``): the source itself."""
    out = _extended(w, position, lo, hi)
    if ratio is not None:
        f = np.arange(lo, hi)
        beyond = ((f < position) | (f >= position + w.frames)) & (f >= other_position) & \
            (f < other_position + other.frames)
        out[:, beyond] = ratio @ other.samples[:, f[beyond] - other_position]
    return out


def join_windows(windows: list[Audio], positions: list[int], fade_frames: int | None = None,
                 curve: Curve | str = Curve.LINEAR, default_frames: int = 0,
                 check=None) -> tuple[np.ndarray, list[int]]:
    """Samples ``[channels, frames]`` of ``windows`` (same rate and channels) placed at ``positions``,
    and the frame of each seam's centre.

    The output ends where the last window ends (also where it was cut shorter than its overlap with the
    one before, which is then cut there: a trimmed last window raised a broadcast error).  At each seam the
    two sides are crossfaded over ``fade_frames`` (``None``: the overlap, or ``default_frames`` where
    windows do not overlap), centred on the seam; with ``fade_frames=0`` windows are cut at the seam.
    Where no window plays (a gap longer than ``default_frames``) the output is silent.  The output is allocated once, so
    an hour of windows costs one copy.  ``check`` (``ctx.check_cancelled``) runs every few hundred
    windows.
    """
    total = max(p + w.frames for p, w in zip(positions, windows))     # (an earlier window may reach further)
    out = np.zeros((windows[0].channels, total), np.float32)
    seams = _seams(windows, positions, fade_frames, default_frames, check)
    fills = _blips(windows, positions, seams, default_frames)
    bounds = [_Seam(0, 0, 0, silent=True)] + seams + [_Seam(total, 0, total, silent=True)]
    for k, w in enumerate(windows):
        if check is not None and k % 256 == 0:
            check()
        lo, hi = bounds[k].start + bounds[k].length, bounds[k + 1].start     # where this window plays alone
        if hi > lo:
            a, b = max(lo, positions[k]), min(hi, positions[k] + w.frames)
            if b > a:
                out[:, a:b] = w.samples[:, a - positions[k]:b - positions[k]]
            if a > lo and not bounds[k].silent:        # a short gap: bridged by the mirrored continuation
                out[:, lo:a] = _extended(w, positions[k], lo, a)
            if b < hi and not bounds[k + 1].silent:
                out[:, max(b, lo):hi] = _extended(w, positions[k], max(b, lo), hi)
    for k, src in fills.items():          # a window of a few frames between cuts: its neighbour's continuation
        out[:, positions[k]:positions[k] + windows[k].frames] = \
            _extended(windows[src], positions[src], positions[k], positions[k] + windows[k].frames)
    for k, seam in enumerate(seams, 1):
        if check is not None and k % 256 == 0:
            check()
        if seam.length:
            start, end = seam.start, seam.start + seam.length
            # both sides the source (scaled): one material, so the linear curve (equal power lifted it 3 dB; QA)
            fade_out, fade_in = crossfade_gains(seam.length, Curve.LINEAR if seam.ratios else curve)
            r = seam.ratios or (None, None)
            tail = _continued(windows[k - 1], positions[k - 1], start, end, windows[k], positions[k], r[0])
            head = _continued(windows[k], positions[k], start, end, windows[k - 1], positions[k - 1], r[1])
            out[:, start:end] = tail * fade_out + head * fade_in
    for seam in seams:
        if seam.mend:
            mend(out, seam.centre, seam.mend, seam.natural, seam.lead_in)
    end = positions[-1] + windows[-1].frames                            # the piece ends with its last window
    return out[:, :end], [min(seam.start + seam.length // 2, end) for seam in seams]


def _padding(last: Audio) -> int:
    """The frames ``last=pad`` added to the last window, as long as they are now: the piece ends where
    the source did, whatever the window went through.  A window resampled or stretched since keeps its
    padding in proportion (``dsp.variation`` records a stretched window's padding to the frame).  What
    a node put there is cut with it (QA45: a transposed window's ringing past the real end, 2000
    frames near -14 dBFS, made the piece keep all 43,117 frames of padding, 0.98 s of silence); 0 if
    the window was not padded."""
    c = read_cut(last.edges, last.channels)
    if c is None or c.padded <= 0 or c.frames <= 0:
        return 0
    pad = c.padded if c.frames == last.frames else round(c.padded * last.frames / c.frames)
    return pad if 0 < pad < last.frames else 0


def _estimate(inputs: dict, params: dict) -> dict:
    """The piece the windows came from (their span), else the windows end to end."""
    from nodeflow.costs import Shape, join_rate
    w = inputs["windows"]
    rate = join_rate(w)
    frames = w.span if w.span is not None else w.frames * (w.items or 1)
    return {"out": Shape(math.ceil(frames * rate / w.rate), w.channels, rate)}


@node("time.stitch", category="time", version=4, fingerprint=project_rate_fingerprint, estimate=_estimate,
      working=0.0)
def stitch(windows: list[Audio], *,
           fade_s: Annotated[float | None, Range(0.0, 60.0, unit="s")] = None,
           curve: Curve = Curve.LINEAR,
           ctx: Context | None = None) -> Audio:
    """Join windows at their original positions, crossfading each seam (centred on it).

    Windows from ``time.tokenize_window`` go back where they were cut, so the result is as long
    as the source and every bar keeps its time, with or without a fade.  Each seam is crossfaded
    over the windows' overlap, or over ``fade_s`` seconds when set (0: cut at the seam), or by
    default a cut between windows that abut is mended over 10 ms (its jump taken out by a smooth
    offset, no material replaced), which keeps transposed or regenerated windows from clicking (a
    window under 2 ms between two others, too short to be heard as music, continues its neighbour);
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
    samples = samples[:, :samples.shape[1] - _padding(same[-1])]
    markers = seam_cues(same, positions, centres, samples.shape[1])
    seams = {positions[k + 1]: w.span[0] for k, w in enumerate(same[1:])}     # a seam on a window's start:
    joined = first.replace(samples, index=0, tokens=None, overlap_frames=0, edges="", exact_end=same[-1].span[1],
                           markers=markers, marker_times=tuple(seams.get(f) for f, _ in markers))   # its exact time
    rate = project_rate(ctx)      # then brought to the project's rate whole (window by window, each lands off
    return joined if not rate else resample_audio(joined, rate, check=check)   # by a fraction of a frame)
