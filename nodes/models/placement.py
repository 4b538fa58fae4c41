"""A window's place in its piece, carried through a model: what a family's node gives back for a window
goes where the window came from, so ``time.stitch`` puts it back on its bar.

A model's output is new audio (``Audio(y, rate)``) that knows nothing of the window it was made from:
stitched, such windows were laid end to end at their rounded lengths and drifted off the grid (QA57:
1-beat windows at 133 bpm through EnCodec came back 6 samples short over 20 s).  :func:`placed_like`
gives the output the window's place; a node whose output is text (a codec's tokens) keeps
:func:`placement` in it and gives it back with :func:`place`.  Part of the public model layer
(:mod:`nodes.models.layer` exports them).

>>> from fractions import Fraction
>>> import numpy as np
>>> bar = Fraction(240, 133)                       # a bar at 133 bpm, between two samples
>>> window = Audio(np.zeros(79579), 44100, start_frame=79579, index=1, exact_start=bar, exact_end=2 * bar)
>>> out = placed_like(Audio(np.zeros(43310), 24000), window, fit=True)      # a codec's 24 kHz output
>>> out.start_frame, out.frames, out.span == (bar, 2 * bar), out.index
(43308, 43309, True, 1)
"""
from __future__ import annotations

import contextlib
from fractions import Fraction
from typing import Any

import numpy as np

from nodeflow.audio import Audio
from nodeflow.cuts import cut_record, read_cut, recut
from nodeflow.errors import ParameterError

__all__ = ["placed_like", "placement", "place", "MUSICAL_INFO"]

MUSICAL_INFO = ("bpm", "meter", "key")     # what an output keeps of its window's info


def placement(source: Audio) -> dict[str, Any]:
    """``source``'s place in its piece as JSON-able values (for a node whose output is text)."""
    start, end = source.span
    c = read_cut(source.edges)
    return {"span": [str(start), str(end)], "rate": source.sample_rate, "index": source.index,
            "overlap_frames": source.overlap_frames, "tokens": source.tokens,
            "info": {k: v for k, v in source.info if k in MUSICAL_INFO},
            **({"padded": [c.padded, c.frames]} if c is not None and c.padded > 0 and c.frames > 0 else {})}


def place(out: Audio, where: dict[str, Any], fit: bool = False, what: str = "the tokens") -> Audio:
    """``out`` at the place :func:`placement` described: its ``start_frame`` and exact span at ``out``'s
    rate, the window's ``index``, ``overlap_frames`` and tempo, meter and key.  ``fit``: ``out`` is the
    window itself (a codec's round trip), cut or held to the window's exact length at its rate.
    Raises :class:`ParameterError` naming ``what`` for a placement that is not one."""
    from nodes.dsp._conform import placed_at, scale_frames
    try:
        start, end = Fraction(where["span"][0]), Fraction(where["span"][1])
        src, index, overlap = int(where["rate"]), int(where["index"]), int(where["overlap_frames"])
        tokens = None if where.get("tokens") is None else int(where["tokens"])
        info = {str(k): str(v) for k, v in dict(where.get("info") or {}).items() if k in MUSICAL_INFO}
        if not (0 <= start <= end and src > 0 and index >= 0 and overlap >= 0):
            raise ValueError
    except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError, OverflowError):
        raise ParameterError(f"{what}: 'place' is not a window's place (span, rate, index, overlap_frames); "
                             "leave it as the encoder wrote it, or remove it") from None
    rate = out.sample_rate
    first, frames = placed_at((start, end), rate)
    x = out.samples
    if fit and frames > 0 and x.shape[1] and x.shape[1] != frames and abs(x.shape[1] - frames) <= max(2, frames // 100):
        x = x[:, :frames] if x.shape[1] > frames else np.pad(x, ((0, 0), (0, frames - x.shape[1])), mode="edge")
    edges = ""                          # a last window's padding (last=pad): stitch cuts it, as from any window
    with contextlib.suppress(TypeError, ValueError):
        pad, of = (int(v) for v in where.get("padded") or ())
        if 0 < pad < of:
            edges = recut(cut_record(x[:, :0]), of, pad)
    return out.replace(x, start_frame=first, exact_start=start, exact_end=end, index=index, tokens=tokens, edges=edges,
                       overlap_frames=min(scale_frames(overlap, src, rate), x.shape[1])).with_info(**info)


def placed_like(out: Audio, source: Audio, fit: bool = False) -> Audio:
    """``out`` (made from the window ``source``) at ``source``'s place in the piece: its ``start_frame``,
    exact span, ``index`` and ``overlap_frames`` at ``out``'s rate, and its tempo, meter and key, so
    stitching puts each output back on the bar it came from (see :func:`place` for ``fit``)."""
    return place(out, placement(source), fit)
