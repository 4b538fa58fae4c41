"""``dsp.crossfade``: overlap the end of one clip with the start of the next."""
from __future__ import annotations

from typing import Annotated

import numpy as np

from nodeflow.audio import Audio
from nodeflow.errors import ParameterError
from nodeflow.node import Context, node
from nodeflow.types import Range

from .basic import _join_estimate
from ._conform import conform_all, joined_markers, merged_info, project_rate, project_rate_fingerprint
from ._curves import Curve, blend


@node("dsp.crossfade", version=2, fingerprint=project_rate_fingerprint, estimate=_join_estimate("crossfade"))
def crossfade(a: Audio, b: Audio, *,
              duration_s: Annotated[float, Range(0.0, 60.0, unit="s")] = 1.0,
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
    n = a.frames_at(duration_s)
    if n > a.frames or n > b.frames:
        raise ParameterError(f"crossfade: duration_s={duration_s:g} exceeds the input lengths (a {a.duration_s:.3f} s, "
                             f"b {b.duration_s:.3f} s); shorten the fade to at most "
                             f"{min(a.duration_s, b.duration_s):.3f} s or pad the inputs")
    head = a.samples[:, :a.frames - n]
    mixed = blend(a.samples[:, a.frames - n:], b.samples[:, :n], curve)
    return a.replace(np.concatenate([head, mixed, b.samples[:, n:]], axis=1), info=merged_info(a, b),
                     markers=joined_markers(a, b, a.frames - n))
