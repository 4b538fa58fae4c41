"""Stand-in weights for tests that need a checkpoint folder but never load it: a well-formed
safetensors file of the given size (one uint8 tensor fills it), which the checkpoint checks take
for whole weights (they compare the header against the file's size)."""
from __future__ import annotations

import json
from pathlib import Path

_HEADER = 80         # bytes of header (JSON padded with spaces, as safetensors allows)


def write_weights(path: Path, size: int = 96) -> Path:
    """A safetensors file of exactly ``size`` bytes (at least 88) at ``path``."""
    n = size - 8 - _HEADER
    if n < 0:
        raise ValueError(f"stand-in weights need at least {8 + _HEADER} bytes, not {size}")
    header = json.dumps({"w": {"dtype": "U8", "shape": [n], "data_offsets": [0, n]}}).ljust(_HEADER)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_HEADER.to_bytes(8, "little") + header.encode() + bytes(n))
    return path
