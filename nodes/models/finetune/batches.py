"""Training batches for MusicGen's decoder: codes in the delay pattern, captions, the sampler.

MusicGen predicts its K codebooks with a *delay pattern*: codebook ``k`` of frame ``t`` sits at
sequence position ``1 + t + k`` (``k // 2`` for a stereo model's interleaved left/right
codebooks), after a start token, exactly as :meth:`generate` lays them out.  Training uses the
same layout, so an adapter learns what generation asks of it.  Positions outside a codebook's
span (and the tail of shorter windows in a batch) are ignored by the loss (label ``-100``) and
fed as the pad token.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["delay_labels", "collate", "Sampler"]

IGNORE = -100


def delay_labels(codes: np.ndarray, channels: int = 1) -> np.ndarray:
    """Labels ``[T + d, K]`` of codes ``[K, T]`` in the delay pattern; ``d = K / channels - 1``.

    >>> delay_labels(np.array([[1, 2], [3, 4]])).tolist()
    [[1, -100], [2, 3], [-100, 4]]
    """
    k, t = codes.shape
    d = k // channels - 1
    out = np.full((t + d, k), IGNORE, np.int64)
    for c in range(k):
        s = c // channels
        out[s:s + t, c] = codes[c]
    return out


def collate(examples: Sequence[Any], *, channels: int, start_id: int, pad_id: int):
    """``(decoder_input_ids [B*K, L], labels [B, L, K], label tokens)`` for a batch of examples.

    Inputs are the labels shifted right by one with the start token first, ignored positions
    replaced by the pad token (what generation feeds there).
    """
    import torch
    labs = [delay_labels(e.codes.astype(np.int64), channels) for e in examples]
    k = labs[0].shape[1]
    length = max(l.shape[0] for l in labs)
    labels = np.full((len(labs), length, k), IGNORE, np.int64)
    for i, l in enumerate(labs):
        labels[i, :l.shape[0]] = l
    inputs = np.empty_like(labels)
    inputs[:, 0] = start_id
    inputs[:, 1:] = labels[:, :-1]
    inputs[inputs == IGNORE] = pad_id
    ids = torch.from_numpy(inputs).permute(0, 2, 1).reshape(len(labs) * k, length)
    return ids, torch.from_numpy(labels), int((labels != IGNORE).sum())


class Sampler:
    """Endless shuffled passes over ``n`` items drawn from a torch generator; its position and
    the current pass's order are plain data (saved in checkpoints)."""

    def __init__(self, n: int, generator, order: list[int] | None = None, pos: int = 0):
        self.n, self.gen = n, generator
        self.order, self.pos = list(order or []), int(pos)

    def take(self, k: int) -> list[int]:
        import torch
        out = []
        while len(out) < k:
            if self.pos >= len(self.order):
                self.order = torch.randperm(self.n, generator=self.gen).tolist()
                self.pos = 0
            out.append(self.order[self.pos])
            self.pos += 1
        return out

    def state(self) -> dict[str, Any]:
        return {"order": list(self.order), "pos": self.pos}
