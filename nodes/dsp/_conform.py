"""Bring clips to a common rate and channel count before they are joined or mixed.

``resample_audio`` (and :class:`Resampler`, for audio that arrives in blocks) is the one place the
node library resamples (soxr); ``conform`` is what
two-input nodes (``dsp.crossfade``, ``dsp.mix``, ``time.stitch``...) call on their second input.
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Callable

import numpy as np

from nodeflow.audio import AUDIO_RATES, Audio
from nodeflow.cuts import EDGE_KEEP, resampled_record
from nodeflow.errors import AudioError, ParameterError

__all__ = ["placed_at", "placed_frames", "SOXR_QUALITIES", "scale_frames", "resample_audio", "resample_joined", "Resampler", "match_channels", "conform", "conform_all",
           "merged_info", "joined_markers", "project_rate", "project_rate_fingerprint", "PROJECT_RATE_KEY", "warp"]

PROJECT_RATE_KEY = "sample_rate"     # graph.metadata[PROJECT_RATE_KEY]: the graph's project rate in Hz

SOXR_QUALITIES = ("QQ", "LQ", "MQ", "HQ", "VHQ")


def placed_frames(start: int, frames: int, from_rate: int, to_rate: int) -> int:
    """The length at ``to_rate`` of ``frames`` placed at ``start``: its two ends rounded, not its
    length, so that windows cut side by side still tile at the new rate (QA: windows exported at 44.1
    kHz from 48 kHz overlapped by one sample, start and length each rounded).

    >>> placed_frames(0, 48000, 48000, 44100), placed_frames(119999, 120002, 48000, 44100)
    (44100, 110252)
    """
    return scale_frames(start + frames, from_rate, to_rate) - scale_frames(start, from_rate, to_rate)


def placed_at(span: tuple[Fraction, Fraction], rate: int) -> tuple[int, int]:
    """``(start_frame, frames)`` at ``rate`` of a clip spanning ``span`` (exact seconds in its source,
    :attr:`Audio.span`): both ends rounded, so windows cut side by side still tile, and a window cut on a
    bar line between two samples lands on the grid's samples at every rate it is taken to.

    >>> from fractions import Fraction
    >>> bar = Fraction(240, 133)                        # 4/4 at 133 bpm
    >>> placed_at((bar, 2 * bar), 32000), placed_at((bar, 2 * bar), 44100)
    ((57744, 57745), (79579, 79579))
    """
    start, end = round(span[0] * rate), round(span[1] * rate)
    return start, end - start


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

    rate = _checked(rate, quality)
    src = audio.sample_rate
    if rate == src:
        return audio
    _source_checked(src, rate)
    start, target = placed_at(audio.span, rate)
    x, skip = audio.samples, None
    if audio.edges and audio.frames:            # a window: resampled as part of its music, not out of silence
        before, after = context_frames(src, rate, audio.start_frame)
        x, (lead, trail) = _with_neighbours(audio)     # the source's own frames just outside it, where it is as cut
        around = ((0, 0), (before - lead, after - trail))   # (odd reflection grows a ramp: shorter windows, even)
        x = np.pad(x, around, mode="reflect", reflect_type="odd") if audio.frames > max(before, after) else \
            np.pad(x, around, mode="symmetric")
        skip = start + (before - audio.start_frame) * rate // src
    samples = np.empty((audio.channels, target if skip is None else x.shape[1] * rate // src + 2), np.float32)
    if 0 < x.shape[1] <= _BLOCK_FRAMES:
        y = soxr.resample(x.T, src, rate, quality=quality)   # [frames, channels] over split channels
        samples[:, _put(samples, 0, y.T):] = 0.0
    else:
        for c in range(audio.channels):
            _stream_channel(soxr.ResampleStream(src, rate, 1, dtype="float32", quality=quality),
                            x[c], samples[c], check)
    around = None
    if skip is not None:
        around = _around(samples, skip, target, lead > 0, trail > 0)
        samples = np.ascontiguousarray(samples[:, skip:skip + target])
    edges = resampled_record(audio.edges, audio.samples, samples, around) if audio.edges else ""
    return audio.replace(samples, edges=edges, **_placement_at(audio, rate))


def _around(y: np.ndarray, skip: int, frames: int, lead: bool, trail: bool) -> np.ndarray:
    """The :data:`~nodeflow.cuts.EDGE_KEEP` frames of ``y`` (a window resampled with its context, the window
    at ``skip``, ``frames`` long) just before and after the window, NaN on a side whose context was not its
    source's own (``lead``/``trail``: a reflection made there is no neighbour's music)."""
    k = EDGE_KEEP
    out = np.full((y.shape[0], 2 * k), np.nan, np.float32)
    if lead and skip >= k:
        out[:, :k] = y[:, skip - k:skip]
    if trail and skip + frames + k <= y.shape[1]:
        out[:, k:] = y[:, skip + frames:skip + frames + k]
    return out


def warp(samples: np.ndarray, speed: float, frames: int) -> np.ndarray:
    """``samples`` ``[channels, frames]`` read ``speed`` times as fast, ``frames`` long (zeros past the end): what
    lies at frame ``k * speed`` comes to frame ``k`` (soxr, as :func:`resample_audio`; a stretch's drift taken out,
    :mod:`nodes.dsp._drift`)."""
    import soxr
    y = soxr.resample(np.ascontiguousarray(samples.T, np.float32), 48000.0 * speed, 48000.0, quality="VHQ").T
    return np.ascontiguousarray(np.pad(y, ((0, 0), (0, max(0, frames - y.shape[1]))))[:, :frames], np.float32)


def _with_neighbours(w: Audio) -> tuple[np.ndarray, tuple[int, int]]:
    """Window ``w``'s samples with the source's frames just before and after it that its cut record keeps
    (:data:`~nodeflow.cuts.EDGE_KEEP` each side, where the source has them) while it is as cut or as a
    resampler made it (under a gain or a channel mix: theirs too; :func:`nodeflow.cuts.neighbours`), and how
    many each side: the frames the resampler places at the window's ends fall between the window's first (or
    last) frame and its neighbour's, and a guess from the window alone was far off at a hit (QA99 D1: a
    bar's first frame at 32 kHz 0.23 from the piece's, then a spike at that bar line taken back)."""
    from nodeflow.cuts import neighbours, read_cut
    c = read_cut(w.edges, w.channels)
    near = neighbours(w.samples, c)        # as cut, or as a resampler made it, under a gain since
    if c is None or near is None:
        return w.samples, (0, 0)
    lead, trail = near
    lead = lead if np.isfinite(lead).all() else lead[:, :0]
    trail = trail if np.isfinite(trail).all() and not c.padded else trail[:, :0]
    return np.concatenate([lead, w.samples, trail], axis=1), (lead.shape[1], trail.shape[1])


def context_frames(src: int, rate: int, start: int = 0) -> tuple[int, int]:
    """Frames of context before and after a window that starts at frame ``start`` of its source,
    resampled from ``src`` to ``rate`` Hz: more than soxr's longest filter reaches (its very_high
    filter spans about 120 input frames each side, 440 at a quarter of the rate), the frames before
    so many that the window's samples at ``rate`` fall on its source's grid at that rate (the
    piece resampled whole, cut at the window), however its start falls between two samples there.

    A window cut from music continues past its ends; resampled out of the silence soxr assumes
    there, it rang for 3 ms at each end, and windows taken to a model's rate and back clicked at
    every seam (-12 dB above 5 kHz, against -91 in the source: QA63 D1).  The context is the
    window's own end turned about its last sample (an odd reflection: continuous in level and in
    slope, where a plain mirror left a kink).

    >>> context_frames(44100, 32000), context_frames(44100, 32000, start=217108)
    ((1323, 1024), (1459, 1024))
    """
    period = src // math.gcd(src, rate)
    need = 512 * max(1, -(-src // rate))
    return need + (start - need) % period, need


def _source_checked(src: int, rate: int) -> None:
    """Refuse resampling audio whose own rate no audio has (QA42: Audio at 7 Hz to 48 kHz made 2.25 GiB)."""
    if src != rate and not AUDIO_RATES[0] <= src <= AUDIO_RATES[1]:
        raise AudioError(f"resample: the audio is at {src} Hz, outside {AUDIO_RATES[0]}-{AUDIO_RATES[1]} Hz; "
                         "make it with its rate in Hz (Audio(samples, 48000), not 48)")


def _checked(rate, quality: str) -> int:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate <= 0:
        raise ParameterError(f"resample: rate={rate!r} must be a positive whole number of Hz")
    if quality not in SOXR_QUALITIES:
        raise ParameterError(f"resample: quality={quality!r}; expected one of {', '.join(SOXR_QUALITIES)}")
    return int(rate)


def _placement_at(audio: Audio, rate: int) -> dict:
    src, span = audio.sample_rate, audio.span
    start = placed_at(span, rate)[0]
    # each marker at its exact time (its own, else its sample's): at the new rate it keeps that time
    # where it falls between two samples, so a rate and back lands every marker on its first sample
    times = [Fraction(audio.start_frame + f, src) if t is None else t
             for (f, _), t in zip(audio.markers, audio.marker_times or (None,) * len(audio.markers))]
    return dict(sample_rate=rate, start_frame=start, exact_start=span[0], exact_end=span[1],
                overlap_frames=scale_frames(audio.overlap_frames, src, rate),
                markers=tuple((round(t * rate) - start, label) for (_, label), t in zip(audio.markers, times)),
                marker_times=tuple(times))


class Resampler:
    """Blocks at ``src`` Hz in, blocks at ``rate`` Hz out, as they come (one multichannel
    ``soxr.ResampleStream``); :meth:`finish` makes the whole exactly ``round(frames * rate / src)``
    frames long, as :func:`resample_audio` does.  soxr's output does not depend on how its input is
    split or on resampling channels together or apart, so the samples are :func:`resample_audio`'s
    (tests/nodes/test_dsp_resample.py checks it bit for bit)."""

    def __init__(self, src: int, rate: int, channels: int, quality: str = "HQ",
                 span: tuple[Fraction, Fraction] | None = None):
        import soxr

        self.src, self.rate = src, _checked(rate, quality)
        self.span = span          # where the input is placed (its Audio.span): ends rounded as resample_audio does
        _source_checked(src, self.rate)
        self.stream = soxr.ResampleStream(src, self.rate, channels, dtype="float32", quality=quality)
        self.channels, self.frames_in, self.frames_out = channels, 0, 0

    def push(self, block: np.ndarray) -> np.ndarray:
        """``[channels, n]`` in; the ``[channels, m]`` frames that are ready out (maybe none)."""
        self.frames_in += block.shape[1]
        return self._out(self.stream.resample_chunk(np.ascontiguousarray(block.T, np.float32), last=False).T,
                         self._target(self.frames_in))

    def finish(self, frames: int | None = None) -> np.ndarray:
        """The rest, cut or zero-padded so that the output has its placed length: ``span``'s at this
        rate (:func:`placed_at`), else ``round(frames * rate / src)`` (``frames``: the input's length,
        default what was pushed)."""
        target = self._target(self.frames_in if frames is None else frames, whole=True)
        y = self._out(self.stream.resample_chunk(np.zeros((0, self.channels), np.float32), last=True).T, target)
        pad = np.zeros((self.channels, target - self.frames_out), np.float32)
        self.frames_out = target
        return np.concatenate([y, pad], axis=1) if pad.shape[1] else y

    def _target(self, frames: int, whole: bool = False) -> int:
        """Output frames for ``frames`` input frames from the start (``whole``: the whole input)."""
        if self.span is None:
            return placed_frames(0, frames, self.src, self.rate)
        start = self.span[0]
        end = self.span[1] if whole else min(self.span[1], start + Fraction(frames, self.src))
        return placed_at((start, end), self.rate)[1]

    def _out(self, y: np.ndarray, target: int) -> np.ndarray:
        y = y[:, :max(0, target - self.frames_out)]
        self.frames_out += y.shape[1]
        return y


def resample_stream(stream, rate: int, quality: str = "HQ"):
    """:func:`resample_audio` of a :class:`nodeflow.streaming.Stream`: a :class:`Resampler` fed the
    blocks as they come, the same samples as :func:`resample_audio` gives (a window's, resampled in
    the context of its ends, once its blocks are all in)."""
    from nodeflow.streaming import Stream

    rate = _checked(rate, quality)
    h = stream.head
    src = h.sample_rate
    if rate == src:
        return stream

    if h.edges:             # a window (cut from a clip held whole): resampled whole, in its music's context
        def window():
            x = np.concatenate([np.zeros((h.channels, 0), np.float32), *stream.blocks], axis=1)
            y = resample_audio(Audio(x, src, start_frame=h.start_frame, exact_start=h.exact_start,
                                     exact_end=h.exact_end, edges=h.edges), rate, quality).samples
            yield from (y[:, a:a + _BLOCK_FRAMES] for a in range(0, y.shape[1], _BLOCK_FRAMES))
        return Stream(h.replace(frames=placed_at(h.span, rate)[1], **_placement_at(h, rate)), window())

    def blocks():
        rs = Resampler(src, rate, h.channels, quality, span=h.span)
        for b in stream.blocks:
            y = rs.push(b)
            if y.shape[1]:
                yield y
        y = rs.finish(h.frames)
        if y.shape[1]:
            yield y
    return Stream(h.replace(frames=placed_at(h.span, rate)[1], **_placement_at(h, rate)),
                  blocks())


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


def conform_all(clips: list[Audio], *, rate: int | None = None, what: str | list[str] = "input",
                check: Callable[[], None] | None = None) -> list[Audio]:
    """``clips`` at one rate and channel count, for nodes that join or mix them.

    The rate is ``rate`` (a graph's project rate) when given, else the *highest* rate among the
    clips: joining a 44.1 kHz loop with 22.05 kHz speech never throws away the loop's top octave.
    Channels: the most any clip has; mono clips are copied to every channel.  ``what`` names the
    clips in errors: a list of names, or a prefix numbered from 0.  ``check`` (``ctx.check_cancelled``)
    runs between clips and between blocks of a long resampling.

    >>> a, b = Audio(np.zeros(22050), 22050), Audio(np.zeros((2, 44100)), 44100)
    >>> [(c.sample_rate, c.channels, c.frames) for c in conform_all([a, b])]
    [(44100, 2, 44100), (44100, 2, 44100)]
    """
    target = rate or max(c.sample_rate for c in clips)
    channels = max(c.channels for c in clips)
    names = what if isinstance(what, list) else [f"{what} {i}" for i in range(len(clips))]
    multi = sorted({c.channels for c in clips} - {1})
    if len(multi) > 1:
        counts = ", ".join(f"{n} has {c.channels}" for n, c in zip(names, clips) if c.channels > 1)
        raise AudioError(f"channel counts do not match ({counts} channels; only mono is spread to more channels "
                         "automatically); add a dsp.channels node to convert one of them")
    out = []
    for i, (c, name) in enumerate(zip(clips, names)):
        if check is not None and i % 256 == 0:
            check()
        out.append(match_channels(resample_audio(c, target, check=check), channels, what=name))
    return out


CONTEXT_S = 0.05     # of a neighbour's edge given to the resampler at a seam (soxr's filters span a few ms)


def resample_joined(clip: Audio, rate: int, before: Audio | None = None, after: Audio | None = None,
                    check: Callable[[], None] | None = None) -> Audio:
    """``clip`` at ``rate`` (as :func:`resample_audio`) where it joins ``before`` and/or ``after`` with
    no gap: the resampler is given the neighbour's edge beyond each join (brought to ``clip``'s rate
    and channels), so it continues the sound instead of ringing at a hard edge.  A 55 Hz sine cut
    into a 22.05 kHz clip and a 48 kHz one jumped 0.2 at the seam when each was resampled alone;
    this way the joined sine is whole.  The result has the frames and placement
    :func:`resample_audio` gives."""
    src = clip.sample_rate
    plain = resample_audio(clip, rate, check=check)
    if src == rate or clip.frames == 0 or (before is None and after is None):
        return plain
    unit = src // math.gcd(src, rate)            # frames at src that are a whole number of frames at rate
    head = _edge(before, src, clip.channels, last=True, check=check) if before is not None else None
    if head is not None:
        head = head[:, head.shape[1] % unit:]     # whole units, so the clip starts on a frame at rate
    tail = _edge(after, src, clip.channels, last=False, check=check) if after is not None else None
    if head is None and tail is None:
        return plain
    parts = [p for p in (head, clip.samples, tail) if p is not None and p.shape[1]]
    y = resample_audio(Audio(np.concatenate(parts, axis=1), src), rate, check=check).samples
    skip = 0 if head is None else head.shape[1] // unit * (rate // math.gcd(src, rate))
    seg = y[:, skip:skip + plain.frames]
    if seg.shape[1] < plain.frames:         # a frame short where the whole rounds down: the clip's own end
        seg = np.concatenate([seg, plain.samples[:, seg.shape[1]:]], axis=1)
    return plain.replace(np.ascontiguousarray(seg))


def _edge(neighbour: Audio, src: int, channels: int, last: bool,
          check: Callable[[], None] | None) -> np.ndarray | None:
    """About :data:`CONTEXT_S` of ``neighbour``'s end (``last``) or start at ``src`` Hz, in ``channels``
    channels (None when it has too little).  Its own seam side is continued by odd reflection while
    it is resampled (value and slope carry on; a hard edge there would ring right at the seam), and
    an end piece is a whole number of frames at ``src``, so it meets the seam on a frame."""
    rate = neighbour.sample_rate
    unit = rate // math.gcd(rate, src)           # frames at the neighbour's rate that are whole frames at src
    pad = unit * max(1, round(0.01 * rate / unit))
    n = min(neighbour.frames, max(round(CONTEXT_S * rate), 2 * pad))
    n -= n % unit if last else 0
    if n <= pad:
        return None
    x = np.asarray(neighbour.samples[:, neighbour.frames - n:] if last else neighbour.samples[:, :n], np.float64)
    if last:       # x, then x continued past its end: 2 x[-1] - x[-2], 2 x[-1] - x[-3], ...
        ext = np.concatenate([x, 2 * x[:, -1:] - x[:, -2:-pad - 2:-1]], axis=1)
    else:          # x continued before its start the same way
        ext = np.concatenate([2 * x[:, :1] - x[:, pad:0:-1], x], axis=1)
    y = resample_audio(Audio(ext.astype(np.float32), rate), src, check=check).samples
    y = y[:, :n * src // rate] if last else y[:, pad * src // rate:]
    return y if y.shape[0] == channels else np.repeat(y.mean(axis=0, keepdims=True), channels, axis=0)


GRID_INFO = ("bpm", "meter")      # the info keys that lay a bar grid over a clip


def merged_info(a: Audio, b: Audio, ctx=None) -> tuple[tuple[str, str], ...]:
    """The ``info`` of a clip joined from ``a`` and ``b``: both, ``a``'s values winning (a tempo
    found on either side still reaches the export), but no tempo or meter where the two give
    different ones (QA45: 141 bpm 7/8 joined to 87.3 bpm 3/4 was tagged 141 bpm 7/8 throughout, and a
    DAW laid that grid over the second half); ``ctx`` says so.

    >>> a, b = Audio(np.zeros(8), 8000, info=(("bpm", "141"), ("meter", "7/8"))), Audio(np.zeros(8), 8000)
    >>> merged_info(a, b), merged_info(a, b.with_info(bpm="141.0", key="A minor"))
    ((('bpm', '141'), ('meter', '7/8')), (('bpm', '141'), ('key', 'A minor'), ('meter', '7/8')))
    >>> merged_info(a, b.with_info(bpm="87.3", meter="3/4"))
    ()
    """
    mine, theirs = dict(a.info), dict(b.info)
    merged = {**theirs, **mine}
    differ = [k for k in GRID_INFO if k in mine and k in theirs and not _same(mine[k], theirs[k])]
    if differ:
        for k in GRID_INFO:
            merged.pop(k, None)
        if ctx is not None:
            said = [" ".join(d[k] + (" bpm" if k == "bpm" else "") for k in GRID_INFO if k in d)
                    for d in (mine, theirs)]
            ctx.warn(f"a is at {said[0]} and b at {said[1]}: the joined clip carries no tempo or meter (an export "
                     "writes none); set bpm= and meter= on the export to tag one")
    return tuple(sorted(merged.items()))


def _same(x: str, y: str) -> bool:
    try:
        return float(x) == float(y)
    except ValueError:
        return x.strip() == y.strip()


def joined_markers(a: Audio, b: Audio, offset: int) -> dict[str, tuple]:
    """``markers`` and ``marker_times`` of a clip placed where ``a`` is, with ``b`` (same rate) starting
    ``offset`` frames into it: ``b``'s markers (and their exact times) move by the same whole frames."""
    shift = Fraction(a.start_frame + offset - b.start_frame, a.sample_rate)
    times_a = a.marker_times or (None,) * len(a.markers)
    times_b = tuple(None if t is None else t + shift for t in (b.marker_times or (None,) * len(b.markers)))
    joined = sorted(zip(a.markers + tuple((f + offset, label) for f, label in b.markers), times_a + times_b),
                    key=lambda m: m[0])
    return {"markers": tuple(m for m, _ in joined), "marker_times": tuple(t for _, t in joined)}


def exact_after(a: Audio, b: Audio, offset: int) -> tuple[np.ndarray, dict[str, Fraction | None]]:
    """``b``'s samples to place ``offset`` frames into a clip placed where ``a`` is (after ``a``, a
    whole-frame gap or overlap away), and that clip's exact start and end.

    ``b`` starts at the exact time after ``a``'s exact end that ``offset`` says, and the joined clip
    ends ``b``'s exact length after that: it is one sample longer (``b``'s last held) or shorter where
    the rounding of ``b``'s length and of where it lands differ.  A window of a bar at 97.5 bpm is
    434215.385 samples at 44.1 kHz: looped 16 times end to end it drifted 6 samples off the grid
    (QA58); placed by exact time, every repetition starts on its bar."""
    rate = a.sample_rate
    start_a, end_a = a.span
    start_b, end_b = b.span
    end = end_a + Fraction(offset - a.frames, rate) + (end_b - start_b)
    frames = round(end * rate) - (a.start_frame + offset)
    x = b.samples
    if b.frames and abs(frames - b.frames) == 1:       # (more is not a rounding: the spans are not b's)
        x = x[:, :frames] if frames < b.frames else np.concatenate([x, x[:, -1:]], axis=1)
    return x, {"exact_start": a.exact_start, "exact_end": end}


def project_rate(ctx) -> int | None:
    """The graph's project sample rate (``graph.metadata["sample_rate"]``), or ``None`` when unset."""
    from nodeflow.validation import project_rate as checked
    graph = getattr(ctx, "graph", None)
    return checked((getattr(graph, "metadata", None) or {}).get(PROJECT_RATE_KEY))


def project_rate_fingerprint(params: dict, ctx) -> int | None:
    """Cache-key part of nodes that conform to the project rate: a new project rate re-runs them."""
    try:
        return project_rate(ctx)
    except ParameterError:
        return None
