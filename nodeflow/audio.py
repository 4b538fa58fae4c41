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
written as cue markers by exports.  ``exact_start`` and ``exact_end`` keep where a window starts and
ends in exact seconds when that falls between two samples (a bar line at 133 bpm), so a window taken to
a model's rate and back lands on the same samples of the grid (see :attr:`Audio.span`); ``marker_times``
does the same for markers (a stitched seam on a bar line), one exact time or None per marker.
``edges`` records how a window was cut (see :mod:`nodeflow.cuts`): a digest of its first and last
frames, the silence the cut padded it with, and its outermost frames as cut (and whether resamplers
alone changed it since).  A window whose edges still match joins its neighbours with no crossfade (``time.stitch``),
so windows that nothing changed give back the source exactly; one changed by a gain is told from a
new take by its outermost frames, so its seams keep the source's own step (a downbeat's attack).
"""
from __future__ import annotations

import dataclasses
import os
import weakref
from fractions import Fraction
from typing import Any

import numpy as np

from .errors import AudioError

__all__ = ["Audio", "AUDIO_RATES", "StreamedAudio", "check_finite", "seconds_to_frames", "frames_to_seconds"]

AUDIO_RATES = (1000, 768000)     # Hz: the rates audio comes at (a project, a (samples, rate) pair, a resample's source)


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


def check_finite(x: np.ndarray, file: str | os.PathLike[str] | None = None, *, first_frame: int = 0,
                 rate: int | None = None) -> None:
    """Raise :class:`AudioError` if the C-contiguous float array ``x`` holds NaN or infinity (checked
    in blocks: no full-size temporary).  Streams check each block with it as :class:`Audio` does.
    ``file``: the samples were read from it (frames from ``first_frame``, at ``rate``), and the message
    names it and a fix a musician can follow (QA66: "numpy.nan_to_num" was offered for a file)."""
    flat = x.reshape(-1)
    for i in range(0, flat.size, _CHECK_BLOCK):
        if not np.isfinite(flat[i:i + _CHECK_BLOCK]).all():     # (one block's mask at a time)
            at = i + int(np.isfinite(flat[i:i + _CHECK_BLOCK]).argmin())
            frame = at % x.shape[-1] if x.ndim > 1 else at
            if file is not None:
                frame += first_frame
                when = f", {frame / rate:.3f} s in" if rate else ""
                raise AudioError(f"{file}: holds NaN or infinite samples (the first at frame {frame}{when}), which "
                                 "cannot be played or processed; export it again from the program that made it")
            raise AudioError(f"audio contains NaN or infinite samples (the first at frame {frame}); replace them, "
                             "e.g. with numpy.nan_to_num, or fix the step that made them")


_FINITE: dict[int, "weakref.ref[np.ndarray]"] = {}     # arrays found finite that cannot change since


def _check_finite_once(x: np.ndarray) -> None:
    """:func:`check_finite`, then make ``x`` read-only.  An array that owns its memory and is read-only
    cannot change, so it is checked once while it lives: wrapping the same samples again
    (:meth:`Audio.replace`, ``with_info``, a clip handed to ``invoke`` again) is not another pass
    over them (10 s of stereo: ~0.6 ms of memory traffic each)."""
    fixed = not x.flags.writeable and x.flags.owndata
    if fixed:
        ref = _FINITE.get(id(x))
        if ref is not None and ref() is x:
            return
    check_finite(x)
    x.setflags(write=False)
    if x.flags.owndata:
        key = id(x)

        def forget(_: object) -> None:
            _FINITE.pop(key, None)
        _FINITE[key] = weakref.ref(x, forget)


@dataclasses.dataclass(frozen=True, eq=False)
class Audio:
    """Float32 audio ``samples[channels, frames]`` at ``sample_rate`` Hz.

    Accepts 1-D input (taken as mono) and float or integer samples: integer PCM is scaled to
    full scale 1.0 (int16 by 32768, int32 by 2**31, unsigned 8-bit around 128; 64-bit integers are
    refused).  A float32,
    C-contiguous array is taken as it is, not copied, and made read-only (values are content-
    addressed: samples changing under a clip would serve stale results); pass ``x.copy()`` to keep
    writing into your own array.

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
    edges: str = ""
    exact_start: Fraction | None = None
    exact_end: Fraction | None = None
    marker_times: tuple[Fraction | None, ...] = ()

    def __post_init__(self) -> None:
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
        if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x) or x.dtype == np.bool_:
            raise AudioError(f"audio samples must be real numbers; got dtype {x.dtype}")
        if np.issubdtype(x.dtype, np.integer):   # PCM (wavfile, soundfile dtype='int16'...): full scale is 1.0
            if x.dtype.itemsize > 4:             # no audio format stores 64-bit integers: numpy's default int
                raise AudioError(f"audio samples of dtype {x.dtype} have no full scale (64-bit integers are "
                                 "numpy's default int, not a PCM format; scaled by 2**63 they would be silent); "
                                 "cast them to the PCM they hold, e.g. x.astype(np.int16), or to float in [-1, 1]")
            info = np.iinfo(x.dtype)
            if info.min == 0:                    # unsigned PCM (8-bit WAV) is offset by half its range
                x = (x.astype(np.float64) - (info.max + 1) / 2) / ((info.max + 1) / 2)
            else:
                x = x.astype(np.float64) / float(-int(info.min))
        x = np.ascontiguousarray(x, dtype=np.float32)
        _check_finite_once(x)
        try:
            rate = int(self.sample_rate)
        except (TypeError, ValueError, OverflowError):      # (inf: OverflowError)
            raise AudioError(f"sample_rate must be a positive integer; got {self.sample_rate!r}") from None
        if rate != self.sample_rate or rate <= 0:
            raise AudioError(f"sample_rate must be a positive integer; got {self.sample_rate!r}")
        object.__setattr__(self, "samples", x)
        object.__setattr__(self, "sample_rate", rate)
        _settle(self)

    # ------------------------------------------------------------------ shape and time
    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def frames(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    @property
    def start_s(self) -> float:
        """Start of this clip in its source, in seconds."""
        return self.start_frame / self.sample_rate

    @property
    def span(self) -> tuple[Fraction, Fraction]:
        """Where this clip starts and ends in its source, in exact seconds: ``exact_start`` and
        ``exact_end`` where they are known (a window cut on a bar line between two samples), else its
        first and past-the-last samples.  Its samples at another rate are ``round(start * rate)`` to
        ``round(end * rate)``: resampling keeps the span, so a round trip gives back the same samples.

        >>> from fractions import Fraction
        >>> bar = Fraction(240, 133)        # a 4/4 bar at 133 bpm: 79578.947... samples at 44.1 kHz
        >>> w = Audio(np.zeros(79579), 44100, exact_start=Fraction(0), exact_end=bar)
        >>> w.span == (0, bar), w.exact_end == bar
        (True, True)
        >>> Audio(np.zeros(79578), 44100, exact_end=bar).exact_end is None    # not where it ends: dropped
        True
        """
        rate = self.sample_rate
        start = self.exact_start if self.exact_start is not None else Fraction(self.start_frame, rate)
        end = self.exact_end if self.exact_end is not None else Fraction(self.start_frame + self.frames, rate)
        return start, end

    @property
    def exact_duration(self) -> Fraction:
        """How long this clip is in its source, in exact seconds: its :attr:`span`'s end less its start
        (a window cut on bar lines between two samples lasts exactly its bars).

        >>> from fractions import Fraction
        >>> Audio(np.zeros(79579), 44100, exact_start=Fraction(0), exact_end=Fraction(240, 133)).exact_duration
        Fraction(240, 133)
        """
        start, end = self.span
        return end - start

    def markers_within(self, start: int, end: int) -> dict[str, Any]:
        """The ``markers`` (and their exact ``marker_times``) of this clip's frames ``start`` to ``end``
        cut out as a clip of its own (which starts ``start`` frames later in the source): its markers
        count from the cut, their times stay where they were in the source.

        >>> from fractions import Fraction
        >>> a = Audio(np.zeros(8), 4, markers=((1, "a"), (5, "b")), marker_times=(None, Fraction(51, 40)))
        >>> a.markers_within(4, 8)
        {'markers': ((1, 'b'),), 'marker_times': (Fraction(51, 40),)}
        """
        times = self.marker_times or (None,) * len(self.markers)
        kept = [((f - start, label), t) for (f, label), t in zip(self.markers, times) if start <= f < end]
        return {"markers": tuple(m for m, _ in kept), "marker_times": tuple(t for _, t in kept)}

    @property
    def nbytes(self) -> int:
        return self.samples.nbytes

    def frames_at(self, seconds: float) -> int:
        return seconds_to_frames(seconds, self.sample_rate)

    # ------------------------------------------------------------------ construction helpers
    def replace(self, samples: np.ndarray | None = None, **changes: Any) -> "Audio":
        """A copy with new samples (and/or fields), keeping the window placement.

        Samples that are this clip's own (``None``, or ``self.samples`` itself) are shared, not
        copied or checked again: they were validated when this clip was made."""
        if samples is not None and samples is not self.samples:
            changes["samples"] = samples
            return dataclasses.replace(self, **changes)
        return self._with(**changes)

    def _with(self, **changes: Any) -> "Audio":
        """``dataclasses.replace`` keeping these (validated, read-only) samples."""
        unknown = set(changes) - _FIELDS
        if unknown:
            raise TypeError(f"Audio has no field(s) {sorted(unknown)}; fields: {sorted(_FIELDS)}")
        if "sample_rate" in changes:
            return dataclasses.replace(self, **changes)   # validates the new rate
        new = object.__new__(type(self))
        for f in _FIELD_LIST:
            object.__setattr__(new, f, changes[f] if f in changes else getattr(self, f))
        if new.exact_start is not None or new.exact_end is not None or new.marker_times:
            _settle(new)
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

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Audio):
            return NotImplemented
        return (self.sample_rate == other.sample_rate and self.samples.shape == other.samples.shape
                and bool(np.array_equal(self.samples, other.samples)))

    # mutable-looking value semantics; never a dict key (mypy cannot express removing object.__hash__:
    # python/mypy#4266; typeshed marks list and dict the same way)
    __hash__ = None  # type: ignore[assignment]


def _settle(a: Audio) -> None:
    """Keep ``a``'s exact start and end only where they still round to its samples (a node that moved
    or cut the clip left them behind) and fall between two samples (on a sample they say nothing)."""
    rate, first = a.sample_rate, a.start_frame
    for name, frame in (("exact_start", first), ("exact_end", first + a.frames)):
        t = getattr(a, name)
        if t is None:
            continue
        if not isinstance(t, Fraction):
            try:
                t = Fraction(t)
            except (TypeError, ValueError, OverflowError):
                raise AudioError(f"{name} must be a time in seconds (a Fraction); got {t!r}") from None
        if round(t * rate) != frame or (t * rate).denominator == 1:
            t = None
        object.__setattr__(a, name, t)
    if a.marker_times:              # each marker's own, where it still rounds to that marker's frame
        times = a.marker_times
        kept = tuple(t if t is not None and isinstance(t, Fraction) and round(t * rate) == first + f
                     and (t * rate).denominator != 1 else None
                     for t, (f, _) in zip(times, a.markers)) if len(times) == len(a.markers) else ()
        object.__setattr__(a, "marker_times", kept if any(t is not None for t in kept) else ())


_FIELD_LIST = tuple(f.name for f in dataclasses.fields(Audio))
_FIELDS = frozenset(_FIELD_LIST) - {"samples"}


class StreamedAudio(Audio):
    """An audio value described without its samples: rate, channels, frames, window placement,
    ``info`` and ``markers``, as :class:`Audio` has them.

    What a streamed chain (:mod:`nodeflow.streaming`) passes between its nodes before the blocks
    flow, and what a run returns for a value that streamed straight into an export (the DAWproject
    clip still knows where it sits and how long it is).  Reading ``samples`` raises
    :class:`AudioError` naming the node: run with ``keep=[node]`` to get the samples.

    >>> h = StreamedAudio.describe(48000, 2, 96000, node="load")
    >>> h.channels, h.frames, h.duration_s
    (2, 96000, 2.0)
    """

    _shape: tuple[int, int]     # (channels, frames), set by describe(); not dataclass fields
    _node: str                  # the node whose samples streamed (named by the error on .samples)

    def __init__(self, *args: Any, **kwargs: Any) -> None:    # noqa: D107 - built with describe()
        raise TypeError("StreamedAudio is made with StreamedAudio.describe(rate, channels, frames, ...)")

    @classmethod
    def describe(cls, sample_rate: int, channels: int, frames: int, *, node: str = "", **fields: Any) -> "StreamedAudio":
        unknown = set(fields) - _FIELDS
        if unknown:
            raise TypeError(f"Audio has no field(s) {sorted(unknown)}; fields: {sorted(_FIELDS)}")
        rate = int(sample_rate)
        if rate != sample_rate or rate <= 0:
            raise AudioError(f"sample_rate must be a positive integer; got {sample_rate!r}")
        new = object.__new__(cls)
        for f in _FIELD_LIST[1:]:
            object.__setattr__(new, f, fields.get(f, _DEFAULTS[f]))
        object.__setattr__(new, "sample_rate", rate)
        object.__setattr__(new, "_shape", (int(channels), int(frames)))
        object.__setattr__(new, "_node", node)
        _settle(new)
        return new

    @property
    def samples(self) -> np.ndarray:      # noqa: D102
        raise AudioError(f"the samples of node '{self._node}' were streamed, not kept ({self!r}); "
                         f"run with keep=['{self._node}'] to get them")

    @property
    def channels(self) -> int:
        return self._shape[0]

    @property
    def frames(self) -> int:
        return self._shape[1]

    @property
    def nbytes(self) -> int:
        return 0

    def replace(self, samples: np.ndarray | None = None, **changes: Any) -> "StreamedAudio":
        """A description with changed fields; ``channels=`` and ``frames=`` change the shape."""
        if samples is not None:
            raise TypeError("a StreamedAudio holds no samples")
        return self._with(**changes)

    def _with(self, **changes: Any) -> "StreamedAudio":
        fields = {f: getattr(self, f) for f in _FIELD_LIST[1:]}
        shape = {"channels": changes.pop("channels", self.channels), "frames": changes.pop("frames", self.frames)}
        node = changes.pop("node", self._node)
        fields.update(changes)
        rate = fields.pop("sample_rate")
        return StreamedAudio.describe(rate, shape["channels"], shape["frames"], node=node, **fields)

    def __repr__(self) -> str:
        return "Streamed" + super().__repr__()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StreamedAudio):
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in _FIELD_LIST[1:]) and self._shape == other._shape

    __hash__ = None


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Audio) if f.name != "samples"}
