"""How much audio one load may decode, and what a decode of unknown length takes of a run's memory.

:func:`max_decode_bytes` (``AUDIOCHAIN_MAX_DECODE_GB``, default 4 GiB of float32, over 3 hours of 48 kHz
stereo) caps every decode: a decompression bomb stops there with one line (:func:`too_big`), once per
process for the same file (:func:`reached_before`).  A decode whose length its header does not give grows
past what the run's estimate counted (:data:`UNKNOWN_LENGTH_RATIO` samples per byte of the file); a
:class:`Growth` takes that from the run's :class:`~nodeflow.context.MemoryRoom`, so loads side by side never
pass the run's memory limit together (QA79 D4).  The decoders themselves are :mod:`._decode`'s.
"""
from __future__ import annotations

import os
from pathlib import Path

from nodeflow.errors import AudioError, ParameterError
from nodeflow.node import Context
from nodeflow.term import format_bytes

__all__ = ["MAX_DECODE_ENV", "DEFAULT_MAX_DECODE_GB", "UNKNOWN_LENGTH_RATIO", "max_decode_bytes", "too_big",
           "reached_before", "note_reached", "Growth"]

UNKNOWN_LENGTH_RATIO = 16         # a file whose header gives no length: estimated at 16 samples per byte
MAX_DECODE_ENV = "AUDIOCHAIN_MAX_DECODE_GB"
DEFAULT_MAX_DECODE_GB = 4.0
# (file stamp, start) -> the decode limit a decode of it reached, its frames, channels and rate
_reached: dict[tuple, tuple[int, int, int, int]] = {}


def max_decode_bytes() -> int:
    """The most float32 bytes one load may decode: ``AUDIOCHAIN_MAX_DECODE_GB`` GiB (default 4)."""
    text = os.environ.get(MAX_DECODE_ENV, "").strip()
    if not text:
        return int(DEFAULT_MAX_DECODE_GB * 2**30)
    try:
        gb = float(text)
    except ValueError:
        gb = float("nan")
    if not gb > 0 or gb == float("inf"):
        raise ParameterError(f"{MAX_DECODE_ENV}={text!r} is not a positive number of GiB; "
                             f"e.g. {MAX_DECODE_ENV}=8 (default {DEFAULT_MAX_DECODE_GB:g})")
    return max(1, int(gb * 2**30))


def too_big(path: Path, frames: int, channels: int, rate: int, limit: int) -> AudioError:
    """The one line for a decode that reached the limit (a decompression bomb, or a very long file)."""
    got = frames * channels * 4
    return AudioError(f"{path}: decodes to more than the limit of {format_bytes(limit)} of audio (stopped at "
                      f"{format_bytes(got)}, {frames / rate:.0f} s of {channels} ch at {rate} Hz); load a span "
                      f"with start_s/end_s, or raise the limit with {MAX_DECODE_ENV} if the file is trusted")


def reached_before(path: Path, start: int, limit: int) -> AudioError | None:
    """The refusal a decode of ``path`` from frame ``start`` met before in this process, where it would
    meet it again (the file unchanged, the limit no higher): three loads of a decompression bomb decode
    it once, not three times (QA79 D4: 20 s each)."""
    from nodeflow.cache import file_stamp
    got = _reached.get((file_stamp(path), start))
    if got is None or got[0] < limit:
        return None
    return too_big(path, *got[1:4], got[0])


def note_reached(path: Path, start: int, limit: int, frames: int, channels: int, rate: int) -> AudioError:
    from nodeflow.cache import file_stamp
    if (stamp := file_stamp(path)) is not None:
        _reached[(stamp, start)] = (limit, frames, channels, rate)
    return too_big(path, frames, channels, rate, limit)


class Growth:
    """A decode whose length the run's estimate could not know (a stream with no length in its header):
    what it holds past the ``counted`` bytes the estimate gave it is taken from the run's
    :class:`~nodeflow.context.MemoryRoom` as it grows and given back where the decode fails; a growth
    with no room left stops it with one line.  Each growth also stops where another load of the same
    file reached the decode limit meanwhile (:func:`reached_before`)."""

    def __init__(self, ctx: Context, path: Path, start: int, counted: int, channels: int, rate: int, limit: int,
                 to_end: bool = True, header: str = "its header gives no length"):
        self.room = getattr(ctx, "memory", None)
        self.path, self.start, self.counted, self.limit = path, start, counted, limit
        self.channels, self.rate = channels, rate
        self.to_end = to_end     # a span (end_s) stops where it ends, under the limit: never refused for another's
        self.held, self.header = 0, header

    def hold(self, nbytes: int, frames: int) -> None:
        """The decode now holds ``nbytes`` (the copy of a growing buffer included), ``frames`` decoded."""
        if self.to_end and (again := reached_before(self.path, self.start, self.limit)) is not None:
            self.drop()
            raise again
        want = max(0, nbytes - self.counted)
        if self.room is None or want == self.held:
            return
        if want > self.held and not self.room.take(want - self.held):
            self.drop()
            raise self._refused(nbytes, frames)
        if want < self.held:
            self.room.give(self.held - want)
        self.held = want

    def __enter__(self) -> "Growth":
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:      # whatever stopped the decode (a refusal, damage, Ctrl-C), what it took goes back
            self.drop()

    def drop(self) -> None:
        """The decode failed: what it took goes back to the run."""
        if self.room is not None and self.held:
            self.room.give(self.held)
        self.held = 0

    def _refused(self, nbytes: int, frames: int) -> AudioError:
        from nodeflow.costlimits import Limits
        limits, _ = Limits.from_env()
        return AudioError(
            f"{self.path}: decodes to more than the run's memory has room for (stopped at "
            f"{format_bytes(frames * self.channels * 4)}, "
            f"{frames / self.rate:.0f} s of {self.channels} ch at {self.rate} Hz, where {self.header} and "
            f"the run counted {format_bytes(self.counted)}; the memory limit is {format_bytes(limits.memory_bytes)}, "
            f"{limits.memory_source}); load a span with start_s/end_s, or raise the limit with --max-memory-gb or "
            f"{Limits.ENV['memory_bytes']} if the file is trusted")
