"""Codec tokens as JSON text (``models.dac_encode``/``models.encodec_encode`` write them, their decoders
read them, a user may edit them between): the checks both decoders make before any model loads, each
mistake one line naming the value, where it is and the fix."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from nodeflow.errors import ParameterError

__all__ = ["checked_codes", "MAX_HOP"]

MAX_HOP = 4096      # samples a token stands for, at most, in any codec (DAC 512, EnCodec 320)


def checked_codes(d: dict[str, Any], node_id: str, layout: str, encoder: str) -> np.ndarray:
    """``d["codes"]`` as an integer array of ``layout``'s dimensions (``[codebooks][tokens]``), its values
    within ``d["codebook_size"]`` and ``d["frames"]`` a length its tokens can decode to; else one
    :class:`ParameterError` (QA60: ``frames`` edited to 1e12 was a MemoryError of 3.64 TiB, a code of
    10**9 was said as the array's shape)."""
    dims = layout.count("[")
    try:
        codes = np.asarray(d["codes"])
        size = int(d["codebook_size"])
        frames = d["frames"]
    except (ValueError, TypeError, OverflowError):
        codes, size, frames = np.asarray([]), 0, None
    if codes.ndim != dims or codes.size == 0 or not np.issubdtype(codes.dtype, np.integer) or size <= 0:
        raise ParameterError(f"{node_id}: codes must be integers shaped {layout}, with a codebook_size; got an "
                             f"array of shape {codes.shape} ({codes.dtype}); feed the output of {encoder}")
    bad = np.argwhere((codes < 0) | (codes >= size))
    if len(bad):
        at = "".join(f"[{i}]" for i in bad[0])
        raise ParameterError(f"{node_id}: codes{at}={int(codes[tuple(bad[0])])} is not a code of a {size}-code book "
                             f"(0..{size - 1}){f'; {len(bad)} codes are out of range' if len(bad) > 1 else ''}; "
                             f"correct it or feed the output of {encoder}")
    tokens = math.prod(codes.shape[:-2]) * codes.shape[-1]          # chunks x tokens each
    most = (tokens + 1) * MAX_HOP          # (the codec's own hop is known once its checkpoint is read)
    if isinstance(frames, bool) or not isinstance(frames, int) or not 0 < frames <= most:
        raise ParameterError(f"{node_id}: frames={frames!r} is not a length {tokens} tokens decode to (1 to {most} "
                             f"samples: at most {MAX_HOP} a token); it is the length the tokens were encoded from: "
                             f"correct it or feed the output of {encoder}")
    return codes
