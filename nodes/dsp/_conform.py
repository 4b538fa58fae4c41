"""Bring clips to a common rate and channel count before they are joined or mixed.

``resample_audio`` is the one place the node library resamples (soxr); ``conform`` is what
two-input nodes (``dsp.crossfade``, ``dsp.mix``, ``time.stitch``...) call on their second input.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Callable

import numpy as np

from nodeflow.audio import Audio
from nodeflow.errors import AudioError, ParameterError

__all__ = ["SOXR_QUALITIES", "scale_frames", "resample_audio", "match_channels", "conform"]

SOXR_QUALITIES = ("QQ", "LQ", "MQ", "HQ", "VHQ")


def scale_frames(frames: int, from_rate: int, to_rate: int) -> int:
    """A frame count or index at ``from_rate`` expressed at ``to_rate`` (exact, then rounded).

    >>> scale_frames(44100, 44100, 32000), scale_frames(441, 44100, 32000)
    (32000, 320)
    """
    return round(Fraction(frames * to_rate, from_rate))


def resample_audio(audio: Audio, rate: int, quality: str = "HQ", check: Callable[[], None] | None = None) -> Audio:
    """``audio`` at ``rate`` Hz through soxr, keeping its window placement.

    The result has ``round(frames * rate / audio.sample_rate)`` frames; ``start_frame`` and
    ``overlap_frames`` are scaled to the new rate the same way.  Same rate returns ``audio`` itself.
    A long clip streams through soxr channel by channel, block by block, straight into the result
    (the same samples as a one-shot ``soxr.resample``), so the only full-size buffer made is the
    output itself; a short one (up to ``_BLOCK_FRAMES``) takes one soxr call, which sets up faster.

    Parameters
    ----------
    audio : Audio
        Clip to resample, ``[channels, frames]``.
    rate : int
        Target sample rate in Hz.
    quality : str
        soxr quality: one of ``QQ, LQ, MQ, HQ, VHQ``.
    check : callable, optional
        Called between blocks of a long clip (e.g. ``ctx.check_cancelled``: a cancelled run stops
        within one block instead of after the whole clip).

    Examples
    --------
    >>> resample_audio(Audio(np.zeros(44100), 44100), 32000).frames
    32000
    """
    import soxr

    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate <= 0:
        raise ParameterError(f"resample: rate={rate!r} must be a positive whole number of Hz")
    if quality not in SOXR_QUALITIES:
        raise ParameterError(f"resample: quality={quality!r}; expected one of {', '.join(SOXR_QUALITIES)}")
    rate = int(rate)
    src = audio.sample_rate
    if rate == src:
        return audio
    target = scale_frames(audio.frames, src, rate)
    samples = np.empty((audio.channels, target), np.float32)
    if 0 < audio.frames <= _BLOCK_FRAMES:
        y = soxr.resample(audio.samples.T, src, rate, quality=quality)   # [frames, channels] over split channels
        samples[:, _put(samples, 0, y.T):] = 0.0
    else:
        for c in range(audio.channels):
            _stream_channel(soxr.ResampleStream(src, rate, 1, dtype="float32", quality=quality),
                            audio.samples[c], samples[c], check)
    return audio.replace(samples, sample_rate=rate,
                         start_frame=scale_frames(audio.start_frame, src, rate),
                         overlap_frames=scale_frames(audio.overlap_frames, src, rate))


_BLOCK_FRAMES = 1 << 17   # input frames per soxr call: 512 KiB of float32, far below any clip worth streaming


def _put(out: np.ndarray, pos: int, y: np.ndarray) -> int:
    """Copy the frames of ``y`` that fit into ``out[..., pos:]``; returns the new position."""
    take = min(y.shape[-1], out.shape[-1] - pos)
    out[..., pos:pos + take] = y[..., :take]
    return pos + take


def _stream_channel(stream, x: np.ndarray, out: np.ndarray, check: Callable[[], None] | None = None) -> None:
    """Resample the 1-D channel ``x`` into ``out``: trimmed to its length, zero-padded if soxr gives less."""
    pos, n = 0, x.shape[0]
    for i in range(0, n, _BLOCK_FRAMES):
        if check is not None:
            check()
        pos = _put(out, pos, stream.resample_chunk(x[i:i + _BLOCK_FRAMES], last=i + _BLOCK_FRAMES >= n))
    out[pos:] = 0.0


def match_channels(audio: Audio, channels: int, *, what: str = "audio") -> Audio:
    """``audio`` with ``channels`` channels: unchanged if it has them, a mono clip copied to each."""
    if audio.channels == channels:
        return audio
    if audio.channels == 1:
        return audio.replace(np.repeat(audio.samples, channels, axis=0))
    raise AudioError(f"{what} has {audio.channels} channels, expected {channels} (only mono is spread to "
                     f"more channels automatically); add a dsp.channels node to convert it")


def conform(a: Audio, b: Audio, *, what: str = "b") -> Audio:
    """``b`` at ``a``'s sample rate and channel count (a mono ``b`` is copied to every channel).

    >>> a = Audio(np.zeros((2, 48000)), 48000)
    >>> conform(a, Audio(np.zeros(44100), 44100)).samples.shape
    (2, 48000)
    """
    b = resample_audio(b, a.sample_rate)
    return match_channels(b, a.channels, what=what)
