"""Faster matrix products for token-by-token generation on the CPU (float32 and int8).

With classifier-free guidance MusicGen decodes two rows per step (the conditional and the
unconditional one), and every linear layer multiplies ``x [2, in]`` by its weight.  torch's
``F.linear`` hands that to MKL as ``x @ W.T``, a shape MKL runs at a fraction of the memory speed
(measured here on musicgen-small's layers, one thread: 0.59 ms for 1024 -> 1024, 2.7 ms for
1024 -> 4096).  The same product written ``(W @ x.T).T`` takes 0.32 ms and 1.3 ms; for layers
that narrow (4096 -> 1024) it is slower, so those keep ``F.linear``.  The result is the same sum
in another order (float32 rounding, ~1e-6 relative).

:func:`skinny_products` switches a model's eligible ``nn.Linear`` layers to that form in place:
their parameters, state dict and behaviour on any other input (more rows, half types, gradients
off or on) are unchanged.
"""
from __future__ import annotations

import functools
from typing import Any

__all__ = ["skinny_products", "int8_products", "MAX_ROWS"]

MAX_ROWS = 3    # 2 and 3 rows hit MKL's slow path; 1 row and 4+ rows run at full speed through F.linear


@functools.lru_cache(maxsize=None)
def _skinny_class():
    import torch
    import torch.nn.functional as F

    class SkinnyLinear(torch.nn.Linear):
        """``nn.Linear`` computing 2-3 float32 rows on the CPU as ``(W @ x.T).T``."""

        def forward(self, x):   # noqa: D102 - see the class
            rows = x.numel() // max(1, x.shape[-1])
            if 1 < rows <= MAX_ROWS and x.dtype == torch.float32 and x.device.type == "cpu" \
                    and self.weight.dtype == torch.float32:
                xt = x.reshape(rows, x.shape[-1]).t()
                y = torch.mm(self.weight, xt) if self.bias is None else torch.addmm(self.bias[:, None], self.weight, xt)
                return y.t().reshape(*x.shape[:-1], self.out_features)
            return F.linear(x, self.weight, self.bias)

    return SkinnyLinear


def skinny_products(model: Any, on: bool = True) -> int:
    """Switch ``model``'s plain ``nn.Linear`` layers that do not narrow (``in_features <=
    out_features``) to the skinny form (``on=False``: back to plain); returns how many were
    switched.  Idempotent."""
    import torch
    cls = _skinny_class()
    src, dst = (torch.nn.Linear, cls) if on else (cls, torch.nn.Linear)
    n = 0
    for module in model.modules():
        if type(module) is src and module.in_features <= module.out_features:
            module.__class__ = dst
            n += 1
    return n


def int8_products(model: Any) -> Any:
    """``model`` with its ``nn.Linear`` layers replaced by dynamically quantized ones: int8 weights
    (one scale per output channel), activations quantized per call, float32 in and out.  A quarter
    of float32's bytes per step: token-by-token decoding, bound by memory speed, runs several times
    faster (bench/bench_models.py measures it and what it changes).  Returns the model (changed
    in place)."""
    import warnings

    import torch
    try:
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
    except ImportError as e:   # pragma: no cover - a torch without the (deprecated) eager quantization API
        from nodeflow.errors import ParameterError
        raise ParameterError(f"precision=int8 needs torch.ao.quantization.quantize_dynamic, which torch "
                             f"{torch.__version__} lacks; use precision=bfloat16") from e
    skinny_products(model, on=False)         # quantize_dynamic matches nn.Linear by exact type
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # torch 2.13 announces the eager API's retirement on every call
        return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8,
                                inplace=True)
