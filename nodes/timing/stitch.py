"""``time.stitch``: join windows back into one clip, crossfading where they overlap."""
from __future__ import annotations

from typing import Annotated

import numpy as np

from nodeflow.audio import Audio
from nodeflow.errors import AudioError
from nodeflow.node import node
from nodeflow.types import Range

from nodes.dsp._conform import conform
from nodes.dsp._curves import Curve, blend

__all__ = ["stitch", "join_windows"]


def _fade_lengths(windows: list[Audio], fade_frames: int | None) -> list[int]:
    """Frames each window shares with the output so far (0 for the first), clamped to what both have."""
    lengths = [0]
    total = windows[0].frames
    for w in windows[1:]:
        wanted = w.overlap_frames if fade_frames is None else fade_frames
        n = max(0, min(wanted, w.frames, total))
        lengths.append(n)
        total += w.frames - n
    return lengths


def join_windows(windows: list[Audio], fade_frames: int | None = None,
                 curve: Curve | str = Curve.LINEAR) -> np.ndarray:
    """Samples ``[channels, frames]`` of ``windows`` (same rate and channels) joined in order.

    Each window's first ``n`` frames are crossfaded with the last ``n`` frames written so far,
    where ``n`` is its ``overlap_frames`` (or ``fade_frames`` when given), clamped to the lengths
    of both sides.  The output is allocated once, so an hour of windows costs one copy.
    """
    lengths = _fade_lengths(windows, fade_frames)
    total = sum(w.frames for w in windows) - sum(lengths)
    out = np.empty((windows[0].channels, total), np.float32)
    pos = 0
    for w, n in zip(windows, lengths):
        if n:
            out[:, pos - n:pos] = blend(out[:, pos - n:pos], w.samples[:, :n], curve)
        out[:, pos:pos + w.frames - n] = w.samples[:, n:]
        pos += w.frames - n
    return out


@node("time.stitch", category="time", version=1)
def stitch(windows: list[Audio], *,
           fade_s: Annotated[float | None, Range(0.0, 60.0, unit="s")] = None,
           curve: Curve = Curve.LINEAR) -> Audio:
    """Join windows in order into one clip, crossfading each window's overlap with the previous one.

    The fade over each join is the window's ``overlap_frames`` (set by ``time.tokenize_window``),
    or ``fade_s`` seconds when set.  With the ``linear`` curve, windows cut with overlap and not
    changed stitch back to the original exactly; with no overlap, stitching is concatenation.
    Windows are brought to the first window's rate and channel count.

    Parameters
    ----------
    windows : list[Audio]
        Windows in playing order.
    fade_s : float or None
        Fixed crossfade length in seconds for every join; ``None`` uses each window's overlap.
    curve : Curve
        ``linear`` (seamless for identical material) or ``equal_power`` (for different material).

    Examples
    --------
    >>> from nodes.timing.window import tokenize_window
    >>> x = Audio(np.random.default_rng(0).uniform(-1, 1, 32000 * 3), 32000)
    >>> y = stitch.fn(tokenize_window.fn(x, size=1.0, overlap=0.5))
    >>> float(np.abs(y.samples - x.samples).max()) < 1e-6
    True
    """
    if not windows:
        raise AudioError("stitch: windows is an empty list; connect the output of time.tokenize_window "
                         "(or another list of clips)")
    first = windows[0]
    same = [first] + [conform(first, w, what=f"stitch: window {i}") for i, w in enumerate(windows[1:], 1)]
    fade_frames = None if fade_s is None else first.frames_at(fade_s)
    samples = join_windows(same, fade_frames, Curve(curve))
    return first.replace(samples, index=0, tokens=None, overlap_frames=0)
