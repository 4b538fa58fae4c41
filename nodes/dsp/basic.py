"""Everyday edits: gain, fades, trim, concatenate, mix and channel layout."""
from __future__ import annotations

from typing import Annotated

import numpy as np

from nodeflow.audio import Audio, seconds_to_frames
from nodeflow.costs import Shape, join_rate
from nodeflow.errors import AudioError, ParameterError
from nodeflow.node import Context, node
from nodeflow.streaming import Stream
from nodeflow.timebase import exact_time
from nodeflow.types import ChoiceEnum, Range

from ._conform import conform_all, exact_after, joined_markers, merged_info, project_rate, project_rate_fingerprint, resample_joined
from ._curves import Curve, curve_gain

__all__ = ["gain", "fade", "trim", "concat", "mix", "channels", "ChannelMode", "db_to_amplitude"]


def _pair(a: Audio, b: Audio, what: str, ctx: Context | None) -> tuple[Audio, Audio]:
    """``a`` and ``b`` ready to join: both at the higher rate (or the graph's project rate); a mono
    side spread to the other's channels (a mono melody mixed with a stereo loop gives stereo,
    whichever input it is on)."""
    a, b = conform_all([a, b], rate=project_rate(ctx), what=[f"{what}: a", f"{what}: b"], check=_check(ctx))
    return a.replace(info=merged_info(a, b, ctx)), b


def _check(ctx: Context | None):
    return ctx.check_cancelled if ctx is not None else None


def db_to_amplitude(db: float) -> float:
    """Linear amplitude factor of a level change in dB.

    >>> round(db_to_amplitude(-6.0206), 4)
    0.5
    """
    return 10.0 ** (db / 20.0)


def _gain_stream(inputs: dict, params: dict, ctx: Context) -> Stream:
    s = inputs["audio"]
    if params["gain_db"] == 0.0:
        return s
    k = np.float32(db_to_amplitude(params["gain_db"]))
    return s.map(lambda b: b * k)


def _same_shape(inputs: dict[str, Shape], params: dict) -> dict[str, Shape]:
    """The estimate of a node whose output is its input's size (exact, so what follows is no guess)."""
    a = inputs["audio"]
    return {"out": Shape(a.frames, a.channels, a.rate, a.items, a.span)}


@node("dsp.gain", version=1, stream=_gain_stream, estimate=_same_shape, working=0.0)
def gain(audio: Audio, *, gain_db: Annotated[float, Range(-60.0, 24.0, unit="dB")] = 0.0) -> Audio:
    """Change the level by `gain_db` decibels (+6 dB is about twice the amplitude).

    Parameters
    ----------
    audio : Audio
        The clip to make louder or quieter.
    gain_db : float, dB
        Level change, -60 to +24 dB: -6 dB halves the amplitude, 0 leaves the clip as it is.

    Examples
    --------
    >>> gain.fn(Audio(np.full(4, 0.5), 32000), gain_db=6.0206).samples.round(3).tolist()
    [[1.0, 1.0, 1.0, 1.0]]
    """
    if gain_db == 0.0:
        return audio
    return audio.replace(audio.samples * np.float32(db_to_amplitude(gain_db)))


def _fade_frames(frames: int, rate: int, fade_in_s: float, fade_out_s: float) -> tuple[int, int]:
    for name, seconds in (("fade_in_s", fade_in_s), ("fade_out_s", fade_out_s)):
        if seconds_to_frames(seconds, rate) > frames:
            raise ParameterError(f"fade: {name}={seconds:g} exceeds input length {frames / rate:.3f} s; "
                                 "shorten the fade")
    return seconds_to_frames(fade_in_s, rate), seconds_to_frames(fade_out_s, rate)


def _fade_estimate(inputs: dict[str, Shape], params: dict) -> dict[str, Shape]:
    """The input's size; a fade longer than a known input is what validate reports (run refuses it)."""
    out = _same_shape(inputs, params)
    a = inputs["audio"]
    if a.frames and a.rate:
        try:
            _fade_frames(a.frames, a.rate, params["fade_in_s"], params["fade_out_s"])
        except ParameterError as e:
            return {"out": Shape(0, a.channels, a.rate, problem=str(e))}     # (what follows: unknown)
    return out


def _fade_stream(inputs: dict, params: dict, ctx: Context) -> Stream:
    s = inputs["audio"]
    n_in, n_out = _fade_frames(s.head.frames, s.head.sample_rate, params["fade_in_s"], params["fade_out_s"])
    if n_in == 0 and n_out == 0:
        return s
    frames, curve = s.head.frames, params["curve"]

    def blocks():
        pos = 0
        for b in s.blocks:
            n = b.shape[1]
            yield fade_block(b, pos, frames, n_in, n_out, curve) if pos < n_in or pos + n > frames - n_out else b
            pos += n
    return Stream(s.head, blocks())


_FADE_BLOCK = 1 << 16     # frames of a fade computed at a time (float64 temporaries of this size only)


def fade_block(x: np.ndarray, a: int, frames: int, n_in: int, n_out: int, curve: Curve) -> np.ndarray:
    """Frames ``[a, a + n)`` of a clip of ``frames`` frames, faded in over ``n_in`` and out over
    ``n_out`` frames: the same float64 gains and rounding as one whole-clip envelope (``ones``,
    times the fade-in, times the fade-out), so a clip faded block by block is bit-identical."""
    b = a + x.shape[1]
    env = np.ones(b - a, np.float64)
    lo, hi = a, min(b, n_in)
    if hi > lo:
        env[:hi - a] *= curve_gain(np.arange(lo, hi, dtype=np.float64) / max(n_in, 1), curve)
    lo, hi = max(a, frames - n_out), b
    if hi > lo and n_out:
        env[lo - a:] *= curve_gain(np.arange(frames - 1 - lo, frames - 1 - hi, -1, dtype=np.float64) / n_out, curve)
    return (x * env).astype(np.float32)


@node("dsp.fade", version=1, stream=_fade_stream, estimate=_fade_estimate, working=0.0)
def fade(audio: Audio, *,
         fade_in_s: Annotated[float, Range(0.0, 600.0, unit="s")] = 0.0,
         fade_out_s: Annotated[float, Range(0.0, 600.0, unit="s")] = 0.0,
         curve: Curve = Curve.LINEAR) -> Audio:
    """Fade in from silence over `fade_in_s` and out to silence over `fade_out_s` seconds.

    The first frame of a fade-in and the last frame of a fade-out are silent.  Fades longer than
    half the clip overlap (their gains multiply).

    Parameters
    ----------
    audio : Audio
        The clip to fade.
    fade_in_s : float, seconds
        Length of the fade-in from silence at the start, 0-600 s (0: none).
    fade_out_s : float, seconds
        Length of the fade-out to silence at the end, 0-600 s (0: none).
    curve : Curve
        Fade shape: linear, or equal_power (constant loudness through the fade).

    Examples
    --------
    >>> fade.fn(Audio(np.ones(4), 4), fade_in_s=1.0).samples.tolist()
    [[0.0, 0.25, 0.5, 0.75]]
    """
    n_in, n_out = _fade_frames(audio.frames, audio.sample_rate, fade_in_s, fade_out_s)
    if n_in == 0 and n_out == 0:
        return audio
    x, frames = audio.samples, audio.frames
    out = np.array(x)                     # the middle passes unchanged: only the fades are computed
    spans = [(0, n_in), (frames - n_out, frames)] if frames - n_out > n_in else [(0, frames)]
    for lo, hi in spans:
        for a in range(lo, hi, _FADE_BLOCK):
            b = min(hi, a + _FADE_BLOCK)
            out[:, a:b] = fade_block(x[:, a:b], a, frames, n_in, n_out, curve)
    return audio.replace(out)


def _trim_estimate(inputs: dict[str, Shape], params: dict) -> dict[str, Shape]:
    """The kept part's size; a cut a known input does not have is what validate reports."""
    a = inputs["audio"]
    start, end = seconds_to_frames(params["start_s"], a.rate), a.frames     # (exact: 1e308 s overflowed a float)
    if params.get("end_s") is not None:
        end = min(end, seconds_to_frames(params["end_s"], a.rate))
    out = Shape(max(end - start, 0), a.channels, a.rate)
    if a.frames and a.rate:
        try:
            _trim_frames(a.frames, a.rate, params["start_s"], params.get("end_s"))
        except ParameterError as e:
            out = Shape(0, a.channels, a.rate, problem=str(e))             # (what follows: unknown)
    return {"out": out}


def _join_estimate(kind: str):
    """Estimates of the joins: both inputs at the join rate, the output as long as the join makes it."""
    def estimate(inputs: dict[str, Shape], params: dict) -> dict[str, Shape]:
        known = [s for s in (inputs.get("a"), inputs.get("b")) if s is not None and s.rate]
        rate = join_rate(*known)
        ch = max(s.channels for s in known)
        a, b = (s.at(rate, ch) if s is not None and s.rate else Shape(0, ch, rate)
                for s in (inputs.get("a"), inputs.get("b")))
        if kind == "concat":
            frames = a.frames + round(params["gap_s"] * rate) + b.frames
        elif kind == "mix":
            frames = max(a.frames, b.frames)
        else:   # crossfade
            frames = a.frames + b.frames - min(round(params["duration_s"] * rate), a.frames, b.frames)
        return {"out": Shape(frames, ch, rate)}
    return estimate


def _trim_frames(frames: int, rate: int, start_s: float, end_s: float | None) -> tuple[int, int]:
    start = seconds_to_frames(start_s, rate)
    if start >= frames:
        raise ParameterError(f"start_s={start_s:g} is at or beyond the input length {frames / rate:.3f} s; "
                             "use a smaller start")
    end = frames if end_s is None else min(seconds_to_frames(end_s, rate), frames)
    if end <= start:
        raise ParameterError(f"end_s={end_s:g} is not after start_s={start_s:g}; the cut would be empty")
    return start, end


def _trim_placement(audio: Audio, start: int, end: int, start_s: float, end_s: float | None) -> dict:
    """Where the cut lies in the clip's source: its samples, and the times typed, exact (a cut at a bar
    line between two samples lands on the bar's sample at every rate it is taken to; QA58: a clip cut
    at 2 bars of 141 bpm began a sample late at 88.2 kHz).  The times are kept only where they round
    to the cut's samples (:class:`~nodeflow.audio.Audio` drops them otherwise)."""
    origin, stop = audio.span
    return dict(start_frame=audio.start_frame + start, overlap_frames=max(audio.overlap_frames - start, 0),
                exact_start=origin + exact_time(float(start_s)),
                exact_end=stop if end == audio.frames else origin + exact_time(float(end_s)),
                **audio.markers_within(start, end))


def _trim_stream(inputs: dict, params: dict, ctx: Context) -> Stream:
    s = inputs["audio"]
    start, end = _trim_frames(s.head.frames, s.head.sample_rate, params["start_s"], params["end_s"])

    def blocks():
        pos = 0
        for b in s.blocks:
            a, z = max(start - pos, 0), min(end - pos, b.shape[1])
            if z > a:
                yield b[:, a:z]
            pos += b.shape[1]
            if pos >= end:
                return
    return Stream(s.head.replace(frames=end - start, **_trim_placement(s.head, start, end, params["start_s"],
                                                                       params["end_s"])), blocks())


@node("dsp.trim", version=2, estimate=_trim_estimate, stream=_trim_stream, working=0.0)
def trim(audio: Audio, *,
         start_s: Annotated[float, Range(0.0, None, unit="s")] = 0.0,
         end_s: Annotated[float | None, Range(0.0, None, unit="s")] = None) -> Audio:
    """Keep the part from `start_s` to `end_s` seconds (`end_s` empty or past the end: to the end).

    ``start_frame`` moves with the cut so the clip still knows where it sits in its source.

    Parameters
    ----------
    audio : Audio
        The clip to cut.
    start_s : float, seconds
        Where the kept part starts, in seconds from the clip's start (must be inside the clip).
    end_s : float or None, seconds
        Where the kept part ends, in seconds from the clip's start; empty or past the end: to the
        end.

    Examples
    --------
    >>> trim.fn(Audio(np.arange(10.0), 10), start_s=0.2, end_s=0.5).samples.tolist()
    [[2.0, 3.0, 4.0]]
    """
    start, end = _trim_frames(audio.frames, audio.sample_rate, start_s, end_s)
    return audio.replace(audio.samples[:, start:end], **_trim_placement(audio, start, end, start_s, end_s))


# working: a copy of an input at the other's rate or layout (measured: 0 for alike inputs, 0.52 of the inputs
# with one at 44.1 kHz)
@node("dsp.concat", version=4, fingerprint=project_rate_fingerprint, estimate=_join_estimate("concat"), working=0.6)
def concat(a: Audio, b: Audio, *, gap_s: Annotated[float, Range(0.0, 600.0, unit="s")] = 0.0,
           ctx: Context | None = None) -> Audio:
    """Play `b` after `a`, with `gap_s` seconds of silence between them.

    Both are brought to the higher of their rates (or the graph's project rate, graph metadata
    ``sample_rate``); a mono input is spread to the other's channels.

    Parameters
    ----------
    a, b : Audio
        The first clip, then the one played after it.
    gap_s : float, seconds
        Silence between the end of `a` and the start of `b`, 0-600 s.

    Examples
    --------
    >>> concat.fn(Audio(np.ones(2), 4), Audio(np.ones(2), 4), gap_s=0.5).samples.tolist()
    [[1.0, 1.0, 0.0, 0.0, 1.0, 1.0]]
    """
    rate = project_rate(ctx) or max(a.sample_rate, b.sample_rate)
    if gap_s == 0 and (a.sample_rate != rate or b.sample_rate != rate):
        check = _check(ctx)    # one seam: each side resampled up to it, not to an edge
        a, b = resample_joined(a, rate, after=b, check=check), resample_joined(b, rate, before=a, check=check)
    a, b = _pair(a, b, "concat", ctx)
    gap = np.zeros((a.channels, a.frames_at(gap_s)), np.float32)
    x, exact = exact_after(a, b, a.frames + gap.shape[1])       # b on its exact time: no drift off the grid
    return a.replace(np.concatenate([a.samples, gap, x], axis=1),
                     **joined_markers(a, b, a.frames + gap.shape[1]), **exact)


# working: the sum before it is cast, and an input conformed (measured: 0.5 of the inputs alike, 1.04 with one
# at 44.1 kHz, 1.33 with a mono one spread)
@node("dsp.mix", version=2, fingerprint=project_rate_fingerprint, estimate=_join_estimate("mix"), working=1.4)
def mix(a: Audio, b: Audio, *,
        gain_a_db: Annotated[float, Range(-60.0, 24.0, unit="dB")] = 0.0,
        gain_b_db: Annotated[float, Range(-60.0, 24.0, unit="dB")] = 0.0,
        ctx: Context | None = None) -> Audio:
    """Sum `a` and `b` (each with its own gain), as long as the longer one.

    Both start together; the shorter is followed by silence.  Both are brought to the higher of
    their rates (or the graph's project rate, graph metadata ``sample_rate``), never down to the
    lower one; a mono input is spread to the other's channels.  The sum is not limited: lower the gains if it goes over full scale.

    Parameters
    ----------
    a, b : Audio
        The two clips to sum; both start at time zero.
    gain_a_db : float, dB
        Level change applied to `a` before summing, -60 to +24 dB.
    gain_b_db : float, dB
        Level change applied to `b` before summing, -60 to +24 dB.

    Examples
    --------
    >>> mix.fn(Audio(np.full(3, 0.25), 3), Audio(np.full(1, 0.5), 3)).samples.tolist()
    [[0.75, 0.25, 0.25]]
    """
    a, b = _pair(a, b, "mix", ctx)
    out = np.zeros((a.channels, max(a.frames, b.frames)), np.float32)
    out[:, :a.frames] += a.samples * np.float32(db_to_amplitude(gain_a_db))
    out[:, :b.frames] += b.samples * np.float32(db_to_amplitude(gain_b_db))
    return a.replace(out, **joined_markers(a, b, 0))


class ChannelMode(ChoiceEnum):
    """Channel layout conversions."""
    MONO = "mono"
    STEREO = "stereo"
    LEFT = "left"
    RIGHT = "right"
    SWAP = "swap"


def _channels_estimate(inputs: dict[str, Shape], params: dict) -> dict[str, Shape]:
    a, mode = inputs["audio"], ChannelMode(params["mode"])
    ch = {ChannelMode.MONO: 1, ChannelMode.STEREO: 2 if a.channels == 1 else a.channels}.get(mode, a.channels)
    ch = 1 if mode in (ChannelMode.LEFT, ChannelMode.RIGHT) else ch
    return {"out": Shape(a.frames, ch, a.rate)}


def _channels_stream(inputs: dict, params: dict, ctx: Context) -> Stream:
    s = inputs["audio"]
    fn, n = _channel_op(ChannelMode(params["mode"]), s.head.channels)
    if fn is None:
        return s
    return s.map(fn, s.head.replace(channels=n))


def _channel_op(mode: "ChannelMode", n: int):
    """``(fn, channels out)``: what ``mode`` does to ``[n, frames]`` samples (fn None: nothing)."""
    if mode is ChannelMode.MONO:
        return (None, n) if n == 1 else (lambda x: x.mean(axis=0, keepdims=True), 1)
    if n == 1:
        return (lambda x: np.repeat(x, 2, axis=0), 2) if mode is ChannelMode.STEREO else (None, n)
    if n != 2:
        raise AudioError(f"channels: mode={mode.value} needs a mono or stereo input; got {n} channels; "
                         "use mode=mono to mix them down first")
    return {ChannelMode.STEREO: (None, 2), ChannelMode.LEFT: (lambda x: x[:1], 1),
            ChannelMode.RIGHT: (lambda x: x[1:], 1), ChannelMode.SWAP: (lambda x: x[::-1], 2)}[mode]


@node("dsp.channels", version=1, estimate=_channels_estimate, stream=_channels_stream, working=1.0)   # mono spread: 1
def channels(audio: Audio, *, mode: ChannelMode = ChannelMode.MONO) -> Audio:
    """Convert the channel layout: mono (average), stereo, left, right or swap.

    ``mono`` averages all channels; ``stereo`` copies a mono clip to two channels and keeps a
    stereo one; ``left`` / ``right`` keep one channel of a stereo clip as mono (a mono clip is
    both, so it passes through); ``swap`` exchanges left and right (mono passes through).

    Parameters
    ----------
    audio : Audio
        The clip to convert.
    mode : ChannelMode
        mono, stereo, left, right or swap (see above).

    Examples
    --------
    >>> channels.fn(Audio(np.array([[1.0, 1.0], [0.0, 0.5]]), 2), mode="mono").samples.tolist()
    [[0.5, 0.75]]
    """
    fn, _ = _channel_op(ChannelMode(mode), audio.channels)
    return audio if fn is None else audio.replace(fn(audio.samples))
