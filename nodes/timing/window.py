"""``time.tokenize_window``: cut audio into windows sized in whole model tokens.

Positions are counted in tokens and converted to sample indices from the *absolute* token
index with exact fractions (``ModelProfile.tokens_to_frames``): nothing is accumulated, so window
1000 of a long file starts on exactly the sample window 1 predicts, even where a token is not a
whole number of samples (a 44.1 kHz EnCodec token, 512/44100 s, is 557.28... samples at 48 kHz).
"""
from __future__ import annotations

from typing import Annotated

import numpy as np

from nodeflow.audio import Audio
from nodeflow.errors import AudioError, ParameterError
from nodeflow.node import node
from nodeflow.timebase import PROFILES, ModelProfile, bars_to_seconds, profile_from_rates
from nodeflow.types import ChoiceEnum, Range

__all__ = ["WindowProfile", "Unit", "Last", "window_bounds", "tokenize_window"]


class WindowProfile(ChoiceEnum):
    """Which model the windows are cut for (its token rate and longest window)."""
    MUSICGEN = "musicgen"
    MUSICGEN_MELODY = "musicgen_melody"
    BARK = "bark"
    CUSTOM = "custom"


class Unit(ChoiceEnum):
    """Unit of ``size`` and ``overlap``."""
    SECONDS = "seconds"
    BARS = "bars"
    TOKENS = "tokens"
    MODEL_WINDOW = "model_window"


class Last(ChoiceEnum):
    """What to do with a last window shorter than ``size``."""
    KEEP = "keep"
    PAD = "pad"
    DROP = "drop"


def window_bounds(n_frames: int, sample_rate: int, profile: ModelProfile | str, size_tokens: int,
                  hop_tokens: int, last: Last | str = Last.KEEP) -> list[tuple[int, int, int]]:
    """Sample bounds ``[(start, end, tokens), ...]`` of the windows over ``n_frames`` frames.

    Window ``k`` spans tokens ``[k * hop_tokens, k * hop_tokens + size_tokens)``; its bounds are
    those token boundaries at ``sample_rate`` (``profile.tokens_to_frames``).  Windows stop once
    one reaches the end of the input.  A last window that would run past the end is, by ``last``:
    ``keep``: cut at ``n_frames`` (``tokens`` = tokens needed to cover it), ``pad``: kept at full
    size (``end > n_frames``; the caller pads with silence), ``drop``: left out.

    Parameters
    ----------
    n_frames : int
        Length of the input in frames (> 0).
    sample_rate : int
        Rate of the input in Hz (need not be the model's rate).
    profile : ModelProfile or str
        The model's time base, or the name of one in ``nodeflow.timebase.PROFILES``.
    size_tokens, hop_tokens : int
        Window length and distance between window starts, in tokens; ``1 <= hop_tokens <= size_tokens``.
    last : Last or str
        ``keep``, ``pad`` or ``drop``.

    Examples
    --------
    >>> window_bounds(44100 * 5, 44100, "musicgen", size_tokens=100, hop_tokens=75)
    [(0, 88200, 100), (66150, 154350, 100), (132300, 220500, 100)]
    >>> window_bounds(2000, 32000, "musicgen", size_tokens=2, hop_tokens=2, last="keep")
    [(0, 1280, 2), (1280, 2000, 2)]
    >>> window_bounds(2000, 32000, "musicgen", size_tokens=2, hop_tokens=2, last="drop")
    [(0, 1280, 2)]
    """
    p = PROFILES[profile] if isinstance(profile, str) else profile
    last = Last(last)
    if n_frames <= 0:
        raise AudioError(f"tokenize_window: the input is empty ({n_frames} frames); connect audio that has samples")
    if not 1 <= hop_tokens <= size_tokens:
        raise ParameterError(f"tokenize_window: hop_tokens={hop_tokens} must be between 1 and "
                             f"size_tokens={size_tokens}; make the overlap smaller than the size")
    bounds: list[tuple[int, int, int]] = []
    k = 0
    while True:
        first = k * hop_tokens
        start = p.tokens_to_frames(first, sample_rate)
        end = p.tokens_to_frames(first + size_tokens, sample_rate)
        if end <= n_frames:
            bounds.append((start, end, size_tokens))
        elif last is Last.KEEP:
            covered = p.frames_to_tokens(n_frames, sample_rate) - first
            bounds.append((start, n_frames, covered))
        elif last is Last.PAD:
            bounds.append((start, end, size_tokens))
        if end >= n_frames:
            return bounds
        k += 1


def _profile(profile: WindowProfile, rate_hz: int, tokens_per_s: float, window_tokens: int) -> ModelProfile:
    if profile is WindowProfile.CUSTOM:
        return profile_from_rates(rate_hz, tokens_per_s, window_tokens)
    return PROFILES[profile.value]


def _to_tokens(name: str, value: float, unit: Unit, p: ModelProfile, bpm: float, beats_per_bar: int) -> int:
    """``value`` (a size or an overlap) in whole tokens."""
    if unit is Unit.TOKENS:
        if not float(value).is_integer():
            raise ParameterError(f"tokenize_window: {name}={value:g} tokens is not a whole number of tokens; "
                                 f"use {round(value)}")
        return int(value)
    if unit is Unit.BARS:
        return p.seconds_to_tokens(bars_to_seconds(value, bpm, beats_per_bar))
    return p.seconds_to_tokens(value)


def _describe(tokens: int, p: ModelProfile) -> str:
    return f"{tokens} tokens ({float(p.tokens_to_seconds(tokens)):g} s)"


@node("time.tokenize_window", category="time", version=1)
def tokenize_window(audio: Audio, *,
                    profile: WindowProfile = WindowProfile.MUSICGEN,
                    custom_rate_hz: Annotated[int, Range(1000, 384000, step=1, unit="Hz")] = 32000,
                    custom_tokens_per_s: Annotated[float, Range(1.0, 1000.0, unit="tokens/s")] = 50.0,
                    custom_window_tokens: Annotated[int, Range(1, 1_000_000, step=1, unit="tokens")] = 1500,
                    unit: Unit = Unit.SECONDS,
                    size: Annotated[float, Range(0.0, 1_000_000.0)] = 10.0,
                    overlap: Annotated[float, Range(0.0, 1_000_000.0)] = 0.0,
                    bpm: Annotated[float, Range(20.0, 400.0, unit="bpm")] = 120.0,
                    beats_per_bar: Annotated[int, Range(1, 32, step=1, unit="beats")] = 4,
                    last: Last = Last.KEEP) -> list[Audio]:
    """Cut audio into windows of whole model tokens (e.g. 30 s for MusicGen), optionally overlapping.

    ``size`` and ``overlap`` are in ``unit``: seconds, bars (at ``bpm`` and ``beats_per_bar``),
    tokens, or ``model_window`` (size = the profile's longest audio window, 1500 tokens = 30 s for
    MusicGen; overlap then in seconds).  Sizes are rounded to whole tokens.  Each window knows
    ``start_frame`` (at the input's rate, offset by the input's own ``start_frame``), ``index``,
    ``tokens`` and ``overlap_frames`` (frames shared with the previous window), so ``time.stitch``
    can put them back together.

    Parameters
    ----------
    audio : Audio
        Input at any rate; windows keep its rate and channels.
    profile : WindowProfile
        musicgen, musicgen_melody, bark, or custom (``custom_rate_hz``, ``custom_tokens_per_s``,
        ``custom_window_tokens``).
    unit, size, overlap, bpm, beats_per_bar
        Window size and overlap, see above.
    last : Last
        keep (shorter last window), pad (pad it with silence to full size) or drop it.

    Examples
    --------
    >>> wins = tokenize_window.fn(Audio(np.zeros(32000 * 25), 32000), size=10.0, overlap=2.0)
    >>> [(w.start_frame, w.frames, w.tokens, w.overlap_frames) for w in wins]
    [(0, 320000, 500, 0), (256000, 320000, 500, 64000), (512000, 288000, 450, 64000)]
    """
    profile, unit, last = WindowProfile(profile), Unit(unit), Last(last)
    p = _profile(profile, custom_rate_hz, custom_tokens_per_s, custom_window_tokens)
    limit = p.audio_window_tokens
    if unit is Unit.MODEL_WINDOW:
        size_tokens = limit
        overlap_tokens = _to_tokens("overlap", overlap, Unit.SECONDS, p, bpm, beats_per_bar)
    else:
        size_tokens = _to_tokens("size", size, unit, p, bpm, beats_per_bar)
        overlap_tokens = _to_tokens("overlap", overlap, unit, p, bpm, beats_per_bar)
    if size_tokens < 1:
        raise ParameterError(f"tokenize_window: size={size:g} {unit.value} is less than one token "
                             f"({float(p.tokens_to_seconds(1)):g} s for {p.name}); make the window longer")
    if size_tokens > limit:
        raise ParameterError(f"tokenize_window: size={size:g} {unit.value} is {_describe(size_tokens, p)}, more "
                             f"than the {p.name} window of {_describe(limit, p)}; use a smaller size or "
                             f"unit=model_window")
    if overlap_tokens >= size_tokens:
        raise ParameterError(f"tokenize_window: overlap={overlap:g} is {_describe(overlap_tokens, p)}, not less "
                             f"than the window size of {_describe(size_tokens, p)}; make the overlap smaller")
    bounds = window_bounds(audio.frames, audio.sample_rate, p, size_tokens, size_tokens - overlap_tokens, last)
    if not bounds:
        raise AudioError(f"tokenize_window: the input ({audio.duration_s:.3f} s) is shorter than one window "
                         f"({_describe(size_tokens, p)}) and last=drop; use last=keep or last=pad")
    return _cut(audio, bounds)


def _cut(audio: Audio, bounds: list[tuple[int, int, int]]) -> list[Audio]:
    windows = []
    prev_end = 0
    for index, (start, end, tokens) in enumerate(bounds):
        samples = audio.samples[:, start:min(end, audio.frames)]
        if end > audio.frames:
            samples = np.pad(samples, ((0, 0), (0, end - audio.frames)))
        overlap = min(max(prev_end - start, 0), end - start) if index else 0
        windows.append(audio.replace(samples, start_frame=audio.start_frame + start, index=index,
                                     tokens=tokens, overlap_frames=overlap))
        prev_end = end
    return windows
