"""Which speaker each channel of a file is.  Audio in AudioChain is in WAV order (WAVE_FORMAT_EXTENSIBLE:
FL FR FC LFE BL BR SL SR, the order BS.1770's channel weights and the 5.1/7.1 fold-down assume); Ogg
Vorbis and Opus store their own (Vorbis I, section 4.3.9: FL FC FR ...), and libsndfile reads and writes
channels as stored, so an Ogg file's channels are put in Vorbis order when written and back in WAV order
when read (QA: a 5.1 Ogg export played its centre on the right and its LFE on the right surround, and
measured 3.2 LU too loud in ffmpeg; a 5.1 Ogg made by ffmpeg loaded the same way round).

A WAV of 3, 5, 7 or 8 channels also names its speakers in the header's channel mask, which libsndfile
leaves 0 (unknown) or sets for "7.1 wide" (FL FR FC LFE BL BR FLC FRC, 0xFF): :func:`set_wav_mask`.

>>> x = np.arange(6)[:, None] * np.ones((1, 2))     # channel i holds i: FL FR FC LFE BL BR
>>> to_vorbis(x)[:, 0].tolist()                     # FL FC FR BL BR LFE
[0.0, 2.0, 1.0, 4.0, 5.0, 3.0]
>>> from_vorbis(to_vorbis(x)).tolist() == x.tolist()
True
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

__all__ = ["from_vorbis", "to_vorbis", "VORBIS_FORMATS", "WAV_MASKS", "set_wav_mask"]

#: WAV-order channel ``i`` is Vorbis-order channel ``_FROM_VORBIS[n][i]`` (1, 2 and 4 channels are the same)
_FROM_VORBIS = {3: (0, 2, 1), 5: (0, 2, 1, 3, 4), 6: (0, 2, 1, 5, 3, 4), 7: (0, 2, 1, 6, 5, 3, 4),
                8: (0, 2, 1, 7, 5, 6, 3, 4)}
_TO_VORBIS = {n: tuple(int(i) for i in np.argsort(p)) for n, p in _FROM_VORBIS.items()}
#: libsndfile's format names whose channels are in Vorbis order
VORBIS_FORMATS = frozenset({"OGG"})
#: the speakers of a WAV of n channels, as the loudness weights and fold-down read them: FL FR FC;
#: FL FR FC BL BR; FL FR FC LFE BC SL SR (6.1); FL FR FC LFE BL BR SL SR (7.1)
WAV_MASKS = {3: 0x7, 5: 0x37, 7: 0x70F, 8: 0x63F}


def from_vorbis(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """``x`` (channels along ``axis``) from Vorbis order to WAV order."""
    perm = _FROM_VORBIS.get(x.shape[axis])
    return x if perm is None else np.take(x, perm, axis=axis)


def to_vorbis(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """``x`` (channels along ``axis``) from WAV order to Vorbis order."""
    perm = _TO_VORBIS.get(x.shape[axis])
    return x if perm is None else np.take(x, perm, axis=axis)


def set_wav_mask(path: Path, channels: int) -> None:
    """Write :data:`WAV_MASKS`'s channel mask into the WAVE_FORMAT_EXTENSIBLE header libsndfile wrote
    at ``path`` (nothing for other channel counts, or a header that is not extensible)."""
    mask = WAV_MASKS.get(channels)
    if mask is None:
        return
    with open(path, "r+b") as f:
        head = f.read(12)
        if head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
            return
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                return
            size = struct.unpack("<I", chunk[4:])[0]
            if chunk[:4] == b"fmt ":
                fmt = f.read(size)
                if size >= 40 and struct.unpack("<H", fmt[:2])[0] == 0xFFFE:
                    f.seek(-size + 20, 1)
                    f.write(struct.pack("<I", mask))
                return
            f.seek(size + (size & 1), 1)
