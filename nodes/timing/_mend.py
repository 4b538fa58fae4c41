"""How ``time.stitch`` mends a cut between windows that abut: the jump the edit made is taken out by a
smooth offset over a few milliseconds either side, and the music is otherwise untouched (see :func:`mend`)."""
from __future__ import annotations

import functools

import numpy as np

__all__ = ["mend", "step"]


def mend(out: np.ndarray, seam: int, half: int, natural: np.ndarray | None = None,
          lead_in: np.ndarray | None = None) -> None:
    """Make the cut at ``seam`` continuous without replacing any material: the step across it is set to
    the mean of the steps on either side (the slope both sides have), or to ``natural`` (per channel:
    the source's own step there, as the windows are now), by a smooth offset that is largest at the
    seam and gone ``half`` frames away (a raised cosine, flat at both ends).  Windows changed by a
    gain keep the source's step, a downbeat's attack with it (the offset is zero where both sides
    took the same gain); a transposed or regenerated window's jump is taken out, as far as it is larger
    than :data:`_OWN_STEP` of the largest step the music makes within 2 ms either side: so it does not
    click, and a step that small beside the music's own is the music's (QA58: a transposed drum window's
    kick, its attack a few samples after the bar line, went from 0.855 to 0.14 and a ramp rose 5 ms
    before the beat); the offset is shared between the sides so that it lifts no hit (:func:`_offset`).
    With ``lead_in`` (an edit to a bar as its source has it) the bar before alone is bent to end on that
    frame, and the later bar's attack is kept as it is."""
    jump = step(out[:, seam - 2:seam], out[:, seam:seam + 2])
    if lead_in is not None or natural is not None:
        jump = lead_in.astype(np.float64) - out[:, seam - 1] if lead_in is not None else jump - natural
        if np.abs(jump).max() <= 1e-6 * max(float(np.abs(out[:, seam - 1:seam + 1]).max()), 1e-3):
            return          # the source's step (or its frame before the bar), as it was: nothing to mend
    else:
        near = max(2, 2 * half // 5)               # 2 ms each side (half: 5 ms)
        own = np.maximum(_largest_step(out[:, max(0, seam - near):seam]), _largest_step(out[:, seam:seam + near]))
        # the part of the jump the music's own steps could make is left (a hit's attack by the bar
        # line), less of it the larger the jump: a cut several times the music's largest step is
        # all the edit's (QA67: a transposed pad kept half its largest step there, a tick)
        ratio = np.abs(jump) / np.maximum(_OWN_STEP * own, 1e-12)
        left = _OWN_STEP * own * np.minimum(1.0, 1.0 / np.maximum(ratio, 1e-12) ** 2)
        jump = np.sign(jump) * np.maximum(np.abs(jump) - left, 0.0)
    w = 0.5 * (1.0 + np.cos(np.pi * np.arange(half) / half))          # 1 at the seam, 0 at half
    near = max(2, 2 * half // 5)
    ramp = (0.5 * (1.0 - np.cos(np.pi * np.arange(near) / near))).astype(np.float32)    # 0 -> 1 over 2 ms
    quiet = [_quiet(out[:, seam - half:seam], jump), _quiet(out[:, seam:seam + half], jump)]
    for c in range(out.shape[0]):
        if quiet[0][c] and not quiet[1][c]:      # a hit after a rest: it starts with a 2 ms fade in, and the
            out[c, seam:seam + near] *= ramp     # rest stays a rest (an offset ramped up into it before the beat)
        elif quiet[1][c] and not quiet[0][c]:    # and a rest after sound: that sound ends with a fade out
            out[c, seam - near:seam] *= ramp[::-1]
        elif jump[c] and lead_in is not None:    # an edit to a bar as its source starts it: the bar before bends
            out[c, seam - half:seam] += (jump[c] * w[::-1]).astype(np.float32)     # to meet it, its attack as is
        elif jump[c]:                            # half each side, or what lifts no hit near the seam
            _offset(out[c], seam, half, float(jump[c]), near)
    if (natural is None or lead_in is not None) and jump.any():       # a cut, not the music's own step: its kink too
        _mend_slope(out, seam, _SLOPE_HALF, near, quiet, jump != 0)


def _offset(x: np.ndarray, seam: int, half: int, jump: float, near: int) -> None:
    """Take ``jump`` out of channel ``x`` at ``seam`` by a smooth offset: a raised cosine each side,
    largest at the seam, half of the jump over ``half`` frames either side where that lifts no peak.
    Where it would (a hit a few milliseconds past the bar line riding on the offset: QA103, a kick 1.4 dB
    up and over full scale), the jump is shared between the sides and the offsets shortened, in
    :func:`_offsets`' order (the gentlest slope first), to the first that lifts no sample above the
    peak the music has there and steps no more than the music does within ``near`` frames (or the
    even offset would): the hit keeps its level, and the mend does not click."""
    was = x[seam - half:seam + half].astype(np.float64)
    peak = float(np.abs(was).max())
    lo = max(0, half - near)
    bound, best, least = None, was, np.inf
    for share, before, after in _offsets(half):
        y = was.copy()
        y[half - before:half] += share * jump * _fall(before)[::-1]
        y[half:half + after] -= (1.0 - share) * jump * _fall(after)
        steepest = float(np.abs(np.diff(y[lo:half + near])).max())
        if bound is None:                          # the even offset: its step, or the music's own, is the bound
            own = max(_largest_step(was[None, lo:half])[0], _largest_step(was[None, half:half + near])[0])
            bound = max(steepest, _OWN_STEP_GROWTH * own)
        lift = float(np.abs(y).max()) - peak
        if steepest <= bound * (1 + 1e-9) and lift < least:
            best, least = y, lift
            if lift <= 1e-7 * max(peak, 1e-3):
                break
    x[seam - half:seam + half] = best.astype(x.dtype)


@functools.lru_cache(maxsize=16)
def _offsets(half: int) -> list[tuple[float, int, int]]:
    """The offsets :func:`_offset` tries, as (the share of the jump the side before the seam takes, its
    length, the other side's length), the gentlest first (the largest slope either side adds, per unit
    of jump), the even split over ``half`` frames each side first of all."""
    lengths = sorted({min(half, max(2, round(half * f))) for f in (1.0, 0.75, 0.5, 0.35, 0.25)}, reverse=True)
    tried = {(share, b if share else half, a if share < 1 else half)
             for share in (0.5, 0.35, 0.65, 0.2, 0.8, 0.0, 1.0) for b in lengths for a in lengths}
    return sorted(tried, key=lambda o: (max(o[0] / o[1], (1 - o[0]) / o[2]), abs(o[0] - 0.5)))


def _fall(n: int) -> np.ndarray:
    """A raised cosine falling from 1 to 0 over ``n`` frames (flat at both ends)."""
    return 0.5 * (1.0 + np.cos(np.pi * np.arange(n) / n))


def step(tail: np.ndarray, head: np.ndarray) -> np.ndarray:
    """Per channel, the step across a seam less the slope either side has (what :func:`mend` takes out),
    from the last two frames before it and the first two after."""
    a2, a1 = tail[:, -2].astype(np.float64), tail[:, -1].astype(np.float64)
    b0, b1 = head[:, 0].astype(np.float64), head[:, 1].astype(np.float64)
    return (b0 - a1) - 0.5 * ((a1 - a2) + (b1 - b0))


def _mend_slope(out: np.ndarray, seam: int, half: int, near: int, quiet: list[np.ndarray], cut: np.ndarray) -> None:
    """Take out the kink a mended cut keeps: its level is continuous, but the slope changes at once
    from one side's to the other's, a broadband tick on sustained material (QA67: a transposed pad's
    seams 3-6 dB above anything else above 6 kHz).  An even tent ``-k/2 |t| (1 - |t|/half)^2`` centred
    between the two frames meets both slopes at their mean and is gone (flat) ``half`` frames away;
    as with the step, only the part of the kink beyond :data:`_OWN_STEP` of the music's own largest
    within ``near`` frames (2 ms) either side is taken, and only where the music is smooth there
    (:data:`_SMOOTH`) and alike either side: a hit's attack at the cut, or noise, keeps its edge."""
    if seam < max(4, half) or seam + max(4, half) > out.shape[1]:
        return                  # (a piece of a few frames: no room for the tent either side)
    x = out[:, seam - 4:seam + 4].astype(np.float64)
    # the slope after less the slope before (frames seam-2 .. seam+1), less the bend the music has
    # either side (frames seam-4 .. seam-1 and seam .. seam+3): what the cut made
    kink = (x[:, 5] - x[:, 4]) - (x[:, 3] - x[:, 2])
    bends = 0.5 * ((x[:, 3] - 2 * x[:, 2] + x[:, 1]) + (x[:, 6] - 2 * x[:, 5] + x[:, 4]))
    kink = kink - 3.0 * bends
    own = np.maximum(_largest_bend(out[:, max(0, seam - near):seam - 1]), _largest_bend(out[:, seam + 1:seam + near]))
    before, after = _largest_step(out[:, max(0, seam - near):seam - 1]), _largest_step(out[:, seam + 1:seam + near])
    steps = np.maximum(before, after)
    kink = np.sign(kink) * np.maximum(np.abs(kink) - _OWN_STEP * own, 0.0)
    # only where the music is smooth there and alike either side (not a hit starting at the cut, not noise)
    kink[(own > _SMOOTH * steps) | (np.minimum(before, after) < _ALIKE * steps)] = 0.0
    t = np.arange(half) + 0.5                                     # frames' distance from the seam's middle
    tent = t * (1.0 - t / half) ** 2
    for c in range(out.shape[0]):
        if kink[c] and cut[c] and not (quiet[0][c] or quiet[1][c]):
            was = out[c, seam - half:seam + half].copy()
            largest = float(np.abs(np.diff(out[c, seam - near:seam + near])).max())
            out[c, seam - half:seam] -= (0.5 * kink[c] * tent[::-1]).astype(np.float32)
            out[c, seam:seam + half] -= (0.5 * kink[c] * tent).astype(np.float32)
            if np.abs(np.diff(out[c, seam - near:seam + near])).max() > _BEND_GROWTH * largest:
                out[c, seam - half:seam + half] = was     # (the bend would sharpen what is there: left)


def _largest_step(x: np.ndarray) -> np.ndarray:
    """Per channel, the largest step from one frame of ``x`` to the next (0 with fewer than two)."""
    return np.abs(np.diff(x.astype(np.float64), axis=1)).max(axis=1) if x.shape[1] >= 2 else np.zeros(x.shape[0])


def _largest_bend(x: np.ndarray) -> np.ndarray:
    """Per channel, the largest change of slope from one frame of ``x`` to the next (0 with fewer than three)."""
    return np.abs(np.diff(x.astype(np.float64), 2, axis=1)).max(axis=1) if x.shape[1] >= 3 else np.zeros(x.shape[0])


def _quiet(x: np.ndarray, jump: np.ndarray) -> np.ndarray:
    """Per channel, whether ``x`` (one side of a seam) is silent beside the ``jump`` there (under 1/20 of it)."""
    return np.abs(x).max(axis=1, initial=0.0) < 0.05 * np.abs(jump)


_SLOPE_HALF = 8      # frames each side over which a mended cut's kink is taken out
_SMOOTH = 0.25       # music whose largest bend near a cut is under this part of its largest step is smooth there
_BEND_GROWTH = 1.12  # a kink's bend, returning to nothing, adds a little slope: at most this part of the largest step
_ALIKE = 1 / 3       # and alike either side where its smaller side's largest step is at least this part of the other's
_OWN_STEP = 0.5      # a step at a mended cut up to this part of the music's largest within 2 ms is left
_OWN_STEP_GROWTH = 1.07   # an offset shaped to lift no hit steps at most this much past the music's largest step
