"""Fade and crossfade gain curves shared by ``dsp.fade``, ``dsp.crossfade`` and ``time.stitch``.

Two laws, one per curve:

* ``linear``: the fade-out and fade-in gains sum to 1, so identical (correlated) material
  crossfades seamlessly: ``x * (1 - t) + x * t == x``.
* ``equal_power``: the squared gains sum to 1 (``cos`` / ``sin``), so uncorrelated material
  (two different recordings) keeps a constant power through the fade.

>>> out_gain, in_gain = crossfade_gains(4, Curve.LINEAR)
>>> (out_gain + in_gain).round(12).tolist()
[1.0, 1.0, 1.0, 1.0]
"""
from __future__ import annotations

import numpy as np

from nodeflow.types import ChoiceEnum

__all__ = ["Curve", "curve_gain", "crossfade_gains", "fade_in_gain", "fade_out_gain", "blend"]


class Curve(ChoiceEnum):
    """Shape of a fade: ``linear`` for identical material, ``equal_power`` for different material."""
    LINEAR = "linear"
    EQUAL_POWER = "equal_power"


def curve_gain(position: np.ndarray, curve: Curve | str) -> np.ndarray:
    """Fade-in gain at ``position`` in [0, 1] (0 = silent, 1 = full level)."""
    curve = Curve(curve)
    if curve is Curve.LINEAR:
        return position
    return np.sin(0.5 * np.pi * position)


def crossfade_gains(frames: int, curve: Curve | str) -> tuple[np.ndarray, np.ndarray]:
    """``(fade_out, fade_in)`` float64 gains of length ``frames`` for an overlap of that many frames.

    Sample positions sit at the middle of each frame, ``(i + 0.5) / frames``, so the two gains are
    mirror images of each other and a one-frame crossfade mixes both sides at equal weight.
    """
    position = (np.arange(frames, dtype=np.float64) + 0.5) / max(frames, 1)
    return curve_gain(1.0 - position, curve), curve_gain(position, curve)


def fade_in_gain(frames: int, curve: Curve | str) -> np.ndarray:
    """Gain of a fade-in over ``frames`` frames: the first frame is silent, the one after the fade is full."""
    return curve_gain(np.arange(frames, dtype=np.float64) / max(frames, 1), curve)


def fade_out_gain(frames: int, curve: Curve | str) -> np.ndarray:
    """Gain of a fade-out over ``frames`` frames, ending on a silent last frame (a reversed fade-in)."""
    return fade_in_gain(frames, curve)[::-1]


def blend(tail: np.ndarray, head: np.ndarray, curve: Curve | str) -> np.ndarray:
    """Crossfade ``tail`` (end of the earlier clip) into ``head`` (start of the later one).

    Both are ``[channels, frames]`` of the same shape; returns float32 of that shape.
    """
    fade_out, fade_in = crossfade_gains(tail.shape[-1], curve)
    mixed = tail.astype(np.float64) * fade_out + head.astype(np.float64) * fade_in
    return mixed.astype(np.float32)
