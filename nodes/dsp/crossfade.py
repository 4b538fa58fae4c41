"""``dsp.crossfade``: overlap the end of one clip with the start of the next."""
from __future__ import annotations

from typing import Annotated

import numpy as np

from nodeflow.audio import Audio, seconds_to_frames
from nodeflow.costs import Shape
from nodeflow.errors import AudioError, ParameterError
from nodeflow.node import Context, node
from nodeflow.types import Range

from .basic import _join_estimate
from ._conform import conform_all, exact_after, joined_markers, merged_info, project_rate, project_rate_fingerprint
from ._curves import Curve, blend


def _overlap(duration_s: float, rate: int, a_frames: int, b_frames: int) -> int:
    """The fade's frames at ``rate``, refused when it is longer than either clip."""
    n = seconds_to_frames(duration_s, rate)
    empty = [name for name, frames in (("a", a_frames), ("b", b_frames)) if frames == 0]
    if n and empty:           # (QA47: "shorten the fade to at most 0.000 s", when the clip was the problem)
        raise AudioError(f"crossfade: input '{empty[0]}' is empty (0 frames), so there is nothing to fade "
                         f"{'from' if empty[0] == 'a' else 'into'}; connect audio that has samples "
                         "(duration_s=0 joins the clips as they are)")
    if n == min(a_frames, b_frames) + 1 and min(a_frames, b_frames):    # a clip's own length, taken to this rate:
        n -= 1                                  # one frame of rounding (QA103 D4: the editor's held value refused)
    if n > a_frames or n > b_frames:
        raise ParameterError(f"crossfade: duration_s={duration_s:g} exceeds the input lengths "
                             f"(a {a_frames / rate:.3f} s, b {b_frames / rate:.3f} s); shorten the fade to at most "
                             f"{min(a_frames, b_frames) / rate:.3f} s or pad the inputs")
    return n


def _estimate(inputs: dict[str, Shape], params: dict) -> dict[str, Shape]:
    """The joined length; a fade longer than a known input is what validate reports (run refuses it)."""
    out = _join_estimate("crossfade")(inputs, params)
    a, b = inputs.get("a"), inputs.get("b")
    if a is not None and b is not None and a.frames and b.frames and a.rate and b.rate:
        rate = out["out"].rate
        try:
            _overlap(params["duration_s"], rate, a.at(rate).frames, b.at(rate).frames)
        except ParameterError as e:
            out["out"] = Shape(0, out["out"].channels, rate, problem=str(e))     # (what follows: unknown)
    return out


@node("dsp.crossfade", version=3, fingerprint=project_rate_fingerprint, estimate=_estimate,
      working=0.6)     # an input conformed to the other's rate (measured: 0 alike, 0.54 of the inputs at 44.1 kHz)
def crossfade(a: Audio, b: Audio, *,
              duration_s: Annotated[float, Range(0.0, 60.0, unit="s", within_input=True)] = 1.0,
              curve: Curve = Curve.EQUAL_POWER,
              ctx: Context | None = None) -> Audio:
    """Crossfade the tail of `a` into the head of `b` over `duration_s` seconds.

    The clips overlap by the fade, so the result is ``duration_s`` shorter than ``a`` and ``b``
    played back to back; ``duration_s=0`` is plain concatenation.  Both are brought to the higher
    of their rates (or the graph's project rate) and channel counts (a mono clip is copied to
    every channel).

    Parameters
    ----------
    a, b : Audio
        The earlier and the later clip.
    duration_s : float
        Length of the overlap in seconds; at most the length of either clip.
    curve : Curve
        ``equal_power`` (default; constant loudness for different material) or ``linear``
        (seamless for identical material).

    Examples
    --------
    >>> one = Audio(np.ones(32000), 32000)
    >>> crossfade.fn(one, one, duration_s=0.25).duration_s
    1.75
    """
    a, b = conform_all([a, b], rate=project_rate(ctx), what=["crossfade: a", "crossfade: b"],
                       check=ctx.check_cancelled if ctx is not None else None)
    n = _overlap(duration_s, a.sample_rate, a.frames, b.frames)
    head = a.samples[:, :a.frames - n]
    x, exact = exact_after(a, b, a.frames - n)        # b on its exact time: no drift off the grid
    if x.shape[1] < n:
        x, exact = b.samples, {}
    mixed = blend(a.samples[:, a.frames - n:], x[:, :n], curve)
    return a.replace(np.concatenate([head, mixed, x[:, n:]], axis=1), info=merged_info(a, b, ctx),
                     **joined_markers(a, b, a.frames - n), **exact)
