"""The one audio value type: float32 samples shaped ``[channels, frames]`` plus a sample rate.

Validated once on creation (librosa's rule: validate where data enters, then trust it).
A clip cut from a longer source (a *window*) also knows where it came from: ``start_frame``
(its first sample's index in the source, at this clip's rate), ``index`` (its position in a
list of windows), ``tokens`` (model tokens it spans) and ``overlap_frames`` (how many of its
leading frames overlap the previous window).  Nodes that transform a clip keep that
placement with :meth:`Audio.replace`.  ``info`` carries provenance (checkpoint id and revision,
adapter hash...) and musical facts (``bpm``, ``meter``, ``key``, a source file's ``title``,
``artist``, ``time_reference``...) as ``(key, value)`` pairs that exports write into the file's
tags.  ``markers`` are ``(frame, label)`` points in the clip (the seams of stitched windows),
written as cue markers by exports.
"""
from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np

from .errors import AudioError

__all__ = ["Audio", "seconds_to_frames", "frames_to_seconds"]


def seconds_to_frames(seconds: float | Fraction, sample_rate: int) -> int:
    """Nearest frame index for a time in seconds (exact for Fractions, no float drift).

    >>> seconds_to_frames(1.5, 32000)
    48000
    """
    return int(round(Fraction(seconds) * sample_rate))


def frames_to_seconds(frames: int, sample_rate: int) -> float:
    """Time in seconds of a frame count.

    >>> frames_to_seconds(48000, 32000)
    1.5
    """
    return frames / sample_rate


_CHECK_BLOCK = 1 << 20     # samples checked for NaN/inf at a time (a 1 MiB boolean temporary at most)


@dataclasses.dataclass(frozen=True, eq=False)
class Audio:
    """Float32 audio ``samples[channels, frames]`` at ``sample_rate`` Hz.

    Accepts 1-D input (taken as mono) and any float/int dtype convertible to float32.

    >>> a = Audio(np.zeros(32000), 32000)
    >>> a.channels, a.frames, a.duration_s
    (1, 32000, 1.0)
    """

    samples: np.ndarray
    sample_rate: int
    start_frame: int = 0
    index: int = 0
    tokens: int | None = None
    overlap_frames: int = 0
    info: tuple[tuple[str, str], ...] = ()
    markers: tuple[tuple[int, str], ...] = ()

    def __post_init__(self):
        x = np.asarray(self.samples)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2:
            raise AudioError(f"audio samples must be [channels, frames]; got shape {x.shape}")
        if x.shape[0] < 1:
            raise AudioError("audio needs at least one channel; got 0")
        if x.shape[0] > 64:
            raise AudioError(f"audio has {x.shape[0]} channels (limit 64); is it [frames, channels]? "
                             "transpose it to [channels, frames]")
        if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
            raise AudioError(f"audio samples must be real numbers; got dtype {x.dtype}")
        x = np.ascontiguousarray(x, dtype=np.float32)
        flat = x.reshape(-1)
        for i in range(0, flat.size, _CHECK_BLOCK):    # in blocks: no full-size temporary
            if not np.isfinite(flat[i:i + _CHECK_BLOCK]).all():
                raise AudioError("audio contains NaN or infinite samples")
        x.setflags(write=False)
        try:
            rate = int(self.sample_rate)
        except (TypeError, ValueError):
            raise AudioError(f"sample_rate must be a positive integer; got {self.sample_rate!r}") from None
        if rate != self.sample_rate or rate <= 0:
            raise AudioError(f"sample_rate must be a positive integer; got {self.sample_rate!r}")
        object.__setattr__(self, "samples", x)
        object.__setattr__(self, "sample_rate", rate)

    # ------------------------------------------------------------------ shape and time
    @property
    def channels(self) -> int:
        return self.samples.shape[0]

    @property
    def frames(self) -> int:
        return self.samples.shape[1]

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    @property
    def start_s(self) -> float:
        """Start of this clip in its source, in seconds."""
        return self.start_frame / self.sample_rate

    @property
    def nbytes(self) -> int:
        return self.samples.nbytes

    def frames_at(self, seconds: float) -> int:
        return seconds_to_frames(seconds, self.sample_rate)

    # ------------------------------------------------------------------ construction helpers
    def replace(self, samples: np.ndarray | None = None, **changes) -> "Audio":
        """A copy with new samples (and/or fields), keeping the window placement.

        Samples that are this clip's own (``None``, or ``self.samples`` itself) are shared, not
        copied or checked again: they were validated when this clip was made."""
        if samples is not None and samples is not self.samples:
            changes["samples"] = samples
            return dataclasses.replace(self, **changes)
        return self._with(**changes)

    def _with(self, **changes) -> "Audio":
        """``dataclasses.replace`` keeping these (validated, read-only) samples."""
        unknown = set(changes) - _FIELDS
        if unknown:
            raise TypeError(f"Audio has no field(s) {sorted(unknown)}; fields: {sorted(_FIELDS)}")
        if "sample_rate" in changes:
            return dataclasses.replace(self, **changes)   # validates the new rate
        new = object.__new__(type(self))
        for f in _FIELD_LIST:
            object.__setattr__(new, f, changes[f] if f in changes else getattr(self, f))
        return new

    def with_info(self, **items: str) -> "Audio":
        """A copy whose provenance ``info`` also holds ``items`` (later values win)."""
        merged = dict(self.info)
        merged.update({k: str(v) for k, v in items.items()})
        return self._with(info=tuple(sorted(merged.items())))

    @classmethod
    def silence(cls, seconds: float, sample_rate: int, channels: int = 1) -> "Audio":
        return cls(np.zeros((channels, seconds_to_frames(seconds, sample_rate)), np.float32), sample_rate)

    def __repr__(self) -> str:
        extra = f", window {self.index} @ {self.start_s:.3f}s" if self.start_frame or self.index else ""
        return f"Audio({self.channels} ch, {self.frames} frames, {self.sample_rate} Hz, {self.duration_s:.3f} s{extra})"

    def __eq__(self, other):
        if not isinstance(other, Audio):
            return NotImplemented
        return (self.sample_rate == other.sample_rate and self.samples.shape == other.samples.shape
                and bool(np.array_equal(self.samples, other.samples)))

    __hash__ = None  # mutable-looking value semantics; never a dict key


_FIELD_LIST = tuple(f.name for f in dataclasses.fields(Audio))
_FIELDS = frozenset(_FIELD_LIST) - {"samples"}
