"""Codec tokens of training windows, encoded once and kept in a content-addressed cache on disk.

A cache entry holds every usable window of one audio file as EnCodec codes.  Its key is the
file's content hash, the codec's fingerprint (a hash of the audio encoder's weights and config
and of the channel layout the decoder expects) and the window settings, so a renamed or moved
file is found again, and a different codec or window size never reads a stale entry.  Entries
are safetensors files (codes as int16, no pickle), written to a temporary name and renamed.

torch and safetensors are imported inside the functions that need them.
"""
from __future__ import annotations

import errno
import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from nodeflow.atomic import atomic_path
from nodeflow.errors import NodeflowError

__all__ = ["default_cache_dir", "codec_fingerprint", "TokenCache", "CachedFile", "encode_windows", "hop_of"]

FORMAT = "audiochain.finetune.tokens/1"


def default_cache_dir() -> Path:
    """``finetune-tokens`` beside the value cache: next to ``$AUDIOCHAIN_CACHE_DIR`` when it is set,
    else ``$XDG_CACHE_HOME/audiochain/finetune-tokens``, else ``~/.cache/audiochain/...``.
    (``$AUDIOCHAIN_CACHE`` is the engine's on/off switch; this used to read it as a folder.)"""
    if os.environ.get("AUDIOCHAIN_CACHE_DIR"):
        return Path(os.environ["AUDIOCHAIN_CACHE_DIR"]).expanduser().parent / "finetune-tokens"
    base = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser()
    return base / "audiochain" / "finetune-tokens"


def hop_of(model) -> int:
    """Audio samples per codec frame (640 for MusicGen's 32 kHz EnCodec)."""
    return int(math.prod(model.config.audio_encoder.upsampling_ratios))


def codec_fingerprint(model) -> str:
    """What decides the codes of a waveform: the audio encoder's weights and config and the
    decoder's channel layout (mono, or interleaved stereo codebooks)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(json.dumps(model.config.audio_encoder.to_dict(), sort_keys=True, default=str).encode())
    h.update(f"channels={model.config.decoder.audio_channels};codebooks={model.config.decoder.num_codebooks}".encode())
    for name, t in sorted(model.audio_encoder.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().to("cpu").contiguous().numpy().tobytes())
    return h.hexdigest()


class CachedFile:
    """One cached file's windows: ``codes`` (list of int16 ``[K, T]``) plus what was dropped."""

    def __init__(self, codes: list[np.ndarray], starts: list[int], meta: dict[str, Any]):
        self.codes, self.starts, self.meta = codes, starts, meta


class TokenCache:
    """Content-addressed store of encoded files under ``root`` (``<key[:2]>/<key>.safetensors``)."""

    def __init__(self, root: str | os.PathLike):
        from nodeflow.atomic import remove_stale_tree
        self.root = Path(root)
        remove_stale_tree(self.root)       # temp files a killed run left in any key folder

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.safetensors"

    def get(self, key: str) -> CachedFile | None:
        """The entry for ``key``, or None (missing, or unreadable: it is then re-encoded)."""
        return self.get_file(self._path(key))

    @staticmethod
    def get_file(p: Path) -> CachedFile | None:
        """The entry stored in the file ``p``, or None when it is missing or not whole."""
        from safetensors import safe_open
        if not p.is_file():
            return None
        try:
            with safe_open(str(p), framework="numpy") as f:
                meta = json.loads((f.metadata() or {}).get("audiochain", "{}"))
                if meta.get("format") != FORMAT:
                    return None
                flat = f.get_tensor("codes") if "codes" in f.keys() else None
        except Exception:  # noqa: BLE001 - a damaged entry is a cache miss, never a crash
            return None
        lengths = [int(n) for n in meta.get("lengths", [])]
        if lengths and (flat is None or flat.shape[1] != sum(lengths)):
            return None
        bounds = np.cumsum([0] + lengths)
        codes = [np.ascontiguousarray(flat[:, a:b]) for a, b in zip(bounds[:-1], bounds[1:])] if lengths else []
        return CachedFile(codes, [int(s) for s in meta.get("starts", [])], meta)

    def put(self, key: str, codes: list[np.ndarray], starts: list[int], info: dict[str, Any]) -> None:
        """Store a file's windows atomically (a crash leaves the old entry or none)."""
        from safetensors.numpy import save
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        meta = dict(info, format=FORMAT, lengths=[int(c.shape[1]) for c in codes], starts=[int(s) for s in starts])
        k = int(info.get("codebooks", 0))
        flat = np.concatenate(codes, axis=1) if codes else np.zeros((k, 0), np.int16)
        try:
            # serialised here and written through our own temp file: safetensors' save_file makes a
            # temp file of its own (".tmpXXXXXX") that a killed process would leave behind
            data = save({"codes": np.ascontiguousarray(flat, dtype=np.int16)}, metadata={"audiochain": json.dumps(meta)})
            with atomic_path(p, mode=0o600) as tmp:       # private, as the cache always was
                with open(tmp, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())                  # a full disk shows here at the latest
                if self.get_file(tmp) is None:
                    raise OSError(errno.EIO, "the written entry does not read back whole")
        except Exception as e:  # noqa: BLE001 - OSError, or safetensors' own error for a failed write
            reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
            raise NodeflowError(f"token cache {self.root}: cannot store an encoded file ({reason}); free some disk "
                                "space or point --cache-dir at another folder") from e


def encode_windows(model, segments: list[np.ndarray], *, batch_size: int = 8) -> list[np.ndarray]:
    """EnCodec codes of each ``[C, tokens * hop]`` float32 segment, as int16 ``[K, tokens]``.

    Segments of equal length are encoded together.  A stereo model's codebooks are interleaved
    left/right (as MusicGen-stereo generates them); a mono model gets mono segments.
    """
    import torch
    hop = hop_of(model)
    device = next(model.audio_encoder.parameters()).device
    out: list[np.ndarray | None] = [None] * len(segments)
    by_len: dict[int, list[int]] = {}
    for i, s in enumerate(segments):
        if s.shape[1] % hop:
            raise ValueError(f"segment of {s.shape[1]} samples is not a whole number of {hop}-sample frames")
        by_len.setdefault(s.shape[1], []).append(i)
    with torch.inference_mode():
        for n, idx in by_len.items():
            for b in range(0, len(idx), batch_size):
                part = idx[b:b + batch_size]
                x = torch.from_numpy(np.stack([segments[i] for i in part])).to(device, torch.float32)
                bsz, ch = x.shape[0], x.shape[1]
                codes = model.audio_encoder.encode(x.reshape(bsz * ch, 1, n)).audio_codes[0]   # [B*C, k, T]
                codes = codes[..., :n // hop].reshape(bsz, ch, codes.shape[1], n // hop)
                if ch == 2:   # [B, 2, k, T] -> [B, 2k, T] as l0 r0 l1 r1 ...
                    codes = codes.permute(0, 2, 1, 3).reshape(bsz, 2 * codes.shape[2], n // hop)
                else:
                    codes = codes[:, 0]
                arr = codes.to("cpu").numpy().astype(np.int16)
                for j, i in enumerate(part):
                    out[i] = arr[j]
    return out  # type: ignore[return-value]
