"""``time.tokenize_window``: cut audio into windows on the musical grid, sized for a model.

Two grids, both exact and never accumulated (positions come from the *absolute* window index
with ``fractions.Fraction``, so window 10,000 starts where ``10,000 * hop`` says):

- **Time grid** (``unit`` = seconds, bars or beats): window ``k`` starts at
  ``round(k * hop_s * rate)`` at the audio's own rate, whatever the tempo (``bpm=133`` or
  ``97.5``), meter and length.  A window then spans a fractional number of model tokens; its
  ``tokens`` is the count that *covers* it (rounded up), so a model generates that many and the
  model node trims its output to the window's exact length (the fraction of the last token is
  cut off, never the music).
- **Token grid** (``unit`` = tokens or model_window): windows are whole tokens and start on token
  boundaries (``ModelProfile.tokens_to_frames``), for chaining model generations token-exactly
  (a 44.1 kHz EnCodec token, 512/44100 s, is 557.28... samples at 48 kHz).
"""
from __future__ import annotations

import functools
import math
from fractions import Fraction
from typing import Annotated

import numpy as np

from nodeflow.audio import Audio
from nodeflow.cuts import cut_record
from nodeflow.errors import AudioError, ParameterError
from nodeflow.node import Context, node
from nodeflow.timebase import (NOTE_VALUES, ModelProfile, ProfileChoice, bars_to_seconds, beats_to_seconds,
                               grid_frame, profile_from_rates, profile_named)
from nodeflow.types import Auto, ChoiceEnum, Range

from .tempo import audio_tempo, note_value_problem, typed_over_carried

__all__ = ["WindowProfile", "Unit", "Last", "window_bounds", "grid_bounds", "tokenize_window"]

_SHORTEST_OF = 512      # whole windows whose lengths the estimate compares (see _count)
_CHECK_EVERY = 256      # windows between cancel checks: an hour in 50 ms windows is 72,000 of them


class WindowProfile(ProfileChoice):
    """Which model the windows are cut for (its token rate and longest window): the nominal time
    base of a registered model family (built-in or plug-in), or ``custom``."""
    MUSICGEN = "musicgen"       # the default
    CUSTOM = "custom"


class Unit(ChoiceEnum):
    """Unit of ``size`` and ``overlap``."""
    SECONDS = "seconds"
    BARS = "bars"
    BEATS = "beats"
    TOKENS = "tokens"
    MODEL_WINDOW = "model_window"


class Last(ChoiceEnum):
    """What to do with a last window shorter than ``size``."""
    KEEP = "keep"
    PAD = "pad"
    DROP = "drop"


def _token_window(k: int, hop: int, size: int, p: ModelProfile, rate: int) -> tuple[int, int]:
    """Window ``k``'s sample bounds on the token grid (hop and size in tokens): :func:`window_bounds` cuts and
    the estimate counts (:func:`_count`) on these."""
    return p.tokens_to_frames(k * hop, rate), p.tokens_to_frames(k * hop + size, rate)


def _grid_window(k: int, hop_s: Fraction, size_s: Fraction, rate: int) -> tuple[int, int]:
    """Window ``k``'s sample bounds on a time grid, from ``k`` exactly: :func:`grid_bounds` cuts and the
    estimate counts (:func:`_count`) on these."""
    return grid_frame(k * hop_s, rate), grid_frame(k * hop_s + size_s, rate)


def window_bounds(n_frames: int, sample_rate: int, profile: ModelProfile | str, size_tokens: int,
                  hop_tokens: int, last: Last | str = Last.KEEP, check=None) -> list[tuple[int, int, int]]:
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
    check : callable, optional
        Called every few hundred windows (a run's ``ctx.check_cancelled``): an hour in 50 ms
        windows is 72,000 of them.

    Examples
    --------
    >>> window_bounds(44100 * 5, 44100, "musicgen", size_tokens=100, hop_tokens=75)
    [(0, 88200, 100), (66150, 154350, 100), (132300, 220500, 100)]
    >>> window_bounds(2000, 32000, "musicgen", size_tokens=2, hop_tokens=2, last="keep")
    [(0, 1280, 2), (1280, 2000, 2)]
    >>> window_bounds(2000, 32000, "musicgen", size_tokens=2, hop_tokens=2, last="drop")
    [(0, 1280, 2)]
    """
    p = profile_named(profile)
    last = Last(last)
    if n_frames <= 0:
        raise AudioError(f"the input is empty ({n_frames} frames); connect audio that has samples")
    if not 1 <= hop_tokens <= size_tokens:
        raise ParameterError(f"hop_tokens={hop_tokens} must be between 1 and "
                             f"size_tokens={size_tokens}; make the overlap smaller than the size")
    bounds: list[tuple[int, int, int]] = []
    k = 0
    while True:
        if check is not None and k % _CHECK_EVERY == 0:
            check()
        first = k * hop_tokens
        start, end = _token_window(k, hop_tokens, size_tokens, p, sample_rate)
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


def grid_bounds(n_frames: int, sample_rate: int, profile: ModelProfile | str, size_s: Fraction, hop_s: Fraction,
                last: Last | str = Last.KEEP, check=None) -> list[tuple[int, int, int]]:
    """Sample bounds ``[(start, end, tokens), ...]`` of windows on a time grid over ``n_frames`` frames.

    Window ``k`` spans ``[round(k * hop_s * rate), round((k * hop_s + size_s) * rate))``, computed
    from ``k`` exactly, so no error accumulates over any length.  ``tokens`` is the number of the
    model's tokens that covers the window (rounded up).  ``last`` and ``check`` are as for
    :func:`window_bounds`.

    Examples
    --------
    >>> from fractions import Fraction
    >>> bar = Fraction(15, 8)                      # one 4/4 bar at 128 bpm
    >>> grid_bounds(32000 * 8, 32000, "musicgen", bar, bar)[:2]
    [(0, 60000, 94), (60000, 120000, 94)]
    """
    p = profile_named(profile)
    last = Last(last)
    if n_frames <= 0:
        raise AudioError(f"the input is empty ({n_frames} frames); connect audio that has samples")
    if not 0 < hop_s <= size_s:
        raise ParameterError(f"the hop ({float(hop_s):g} s) must be positive and at most the "
                             f"window size ({float(size_s):g} s); make the overlap smaller than the size")
    full = p.frames_to_tokens(grid_frame(size_s, sample_rate), sample_rate)
    tokens = functools.lru_cache(maxsize=8)(lambda frames: p.frames_to_tokens(frames, sample_rate))
    bounds: list[tuple[int, int, int]] = []
    k = 0
    while True:
        if check is not None and k % _CHECK_EVERY == 0:
            check()
        start, end = _grid_window(k, hop_s, size_s, sample_rate)
        if start >= n_frames:
            return bounds
        if end <= n_frames or last is Last.PAD:
            bounds.append((start, end, tokens(end - start) if end <= n_frames else full))
        elif last is Last.KEEP:
            bounds.append((start, n_frames, tokens(n_frames - start)))
        if end >= n_frames:
            return bounds
        k += 1


def _profile(profile: WindowProfile, rate_hz: int, tokens_per_s: float, window_tokens: int) -> ModelProfile:
    if profile is WindowProfile.CUSTOM:
        return profile_from_rates(rate_hz, tokens_per_s, window_tokens)
    return profile_named(profile)


def _seconds(value: float, unit: Unit, bpm: float, beats_per_bar: int, note_value: int = 4) -> Fraction:
    """A size or an overlap given in seconds, bars or beats, as exact seconds."""
    if unit is Unit.BARS:
        return bars_to_seconds(value, bpm, beats_per_bar, note_value)
    if unit is Unit.BEATS:
        return beats_to_seconds(value, bpm, note_value)
    return Fraction(value).limit_denominator(10**9)


def _to_tokens(name: str, value: float, p: ModelProfile) -> int:
    """``value`` tokens as a whole number (unit=tokens); the one offered instead is the nearest a
    window takes (a size of at least one token; QA66: size=0.4 was told "use 0", refused in turn).

    >>> _to_tokens("size", 0.4, None)
    Traceback (most recent call last):
    nodeflow.errors.ParameterError: size=0.4 tokens is not a whole number of tokens; use 1
    """
    if not float(value).is_integer():
        nearest = max(math.floor(value + 0.5), 1 if name == "size" else 0)
        raise ParameterError(f"{name}={value:g} tokens is not a whole number of tokens; use {nearest}")
    return int(value)


def _describe(tokens: int, p: ModelProfile) -> str:
    return f"{tokens} tokens ({float(p.tokens_to_seconds(tokens)):g} s)"


def _count(n_frames: int, rate: int, p: ModelProfile, sizes: tuple[int, int, Fraction | None, Fraction | None],
           last: Last) -> tuple[int, int]:
    """How many windows :func:`window_bounds` or :func:`grid_bounds` cuts (``sizes`` as :func:`_sizes` gives
    them), and the shortest one's frames, without cutting them: the first window that reaches the end
    found by bisection on the same bounds, exact at any length (QA121: 3 bars at 97.5 bpm, 325662 samples
    where the grid puts 325661.54, were counted 4 windows, the last 0 s, and a fade on each was refused)."""
    size_tokens, overlap_tokens, size_s, overlap_s = sizes
    if size_s is None or overlap_s is None:
        hop_t = size_tokens - overlap_tokens
        bounds = lambda k: _token_window(k, hop_t, size_tokens, p, rate)                 # noqa: E731
        hop = Fraction(hop_t * rate) / p.frame_rate
    else:
        hop_s = size_s - overlap_s
        bounds = lambda k: _grid_window(k, hop_s, size_s, rate)                          # noqa: E731
        hop = hop_s * rate
    lo, hi = 0, max(1, n_frames)          # a hop is a sample at least on the grid: window n_frames ends past it
    while bounds(hi)[1] < n_frames:       # (a token shorter than a sample: the custom profile's hop may not be)
        hi *= 2
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if bounds(mid)[1] >= n_frames else (mid + 1, hi)
    start, end = bounds(lo)
    # whole windows differ by a sample with rounding; their lengths repeat every hop.denominator windows (the
    # hop's fraction of a sample comes round), so those give the shortest (the first _SHORTEST_OF at most)
    full = min(b - a for a, b in map(bounds, range(min(lo, hop.denominator, _SHORTEST_OF) or 1)))
    if last is Last.DROP:
        return max(1, lo + (end == n_frames)), full     # (none whole: the node refuses it)
    return lo + 1, max(1, min(full, min(end, n_frames) - start) if last is Last.KEEP else full)


def _estimate(inputs: dict, params: dict) -> dict:
    """How many windows, how long: from the input's length and the size and overlap (``bpm=auto``:
    the fastest tempo, 400 bpm, so the count is an upper bound)."""
    from nodeflow.costs import Shape
    a = inputs["audio"]
    if why := note_value_problem(params.get("note_value")):      # (QA: validate said ok)
        return {"out": Shape(0, a.channels, a.rate, problem=why)}
    unit = Unit(params["unit"])
    p = _profile(WindowProfile(params["profile"]), params["custom_rate_hz"], params["custom_tokens_per_s"],
                 params["custom_window_tokens"])
    bpm = params.get("bpm") if isinstance(params.get("bpm"), (int, float)) else 400.0
    beats = params.get("beats_per_bar") if isinstance(params.get("beats_per_bar"), int) else 1
    note = params.get("note_value") if params.get("note_value") in NOTE_VALUES else 4
    known = unit not in (Unit.BARS, Unit.BEATS) or (isinstance(params.get("bpm"), (int, float))
                                                    and isinstance(params.get("beats_per_bar"), int))
    if not known and params["overlap"] >= params["size"]:     # in one unit, whatever tempo is found (QA83 D5)
        return {"out": Shape(0, a.channels, a.rate, problem=f"overlap={params['overlap']:g} {unit.value} is not less "
                             f"than the window size of {params['size']:g} {unit.value}; make the overlap smaller")}
    sizes = None
    if known:     # the grid does not wait for a tempo found in the audio: refuse what the node would
        try:
            sizes = _sizes(params["size"], params["overlap"], unit, bpm, beats, note, a.rate, p)
        except ParameterError as e:
            return {"out": Shape(0, a.channels, a.rate, problem=str(e))}
    if unit is Unit.TOKENS:
        size_s, overlap_s = params["size"] / float(p.frame_rate), params["overlap"] / float(p.frame_rate)
    elif unit is Unit.MODEL_WINDOW:
        size_s, overlap_s = float(p.window_s), params["overlap"]
    else:
        size_s, overlap_s = (float(_seconds(params[k], unit, bpm, beats, note)) for k in ("size", "overlap"))
    size_s = max(size_s, 1 / float(p.frame_rate))       # less than a token is refused when it runs
    # the run's own step: whole tokens in tokens, exact seconds on the grid (QA79 D3: clamped to a token
    # here, 0.999999 s of overlap on 1 s windows was estimated at 351 windows, and made millions)
    hop_s = max(size_s - overlap_s, 1 / float(p.frame_rate) if unit is Unit.TOKENS else 1 / a.rate)
    length_s = a.frames / a.rate
    items = 1 if length_s <= size_s else math.ceil((length_s - size_s) / hop_s) + 1      # (bpm=auto: a bound)
    last = Last(params["last"])
    shortest = None          # a last window cut short, where the grid is known (keep): what it refuses downstream
    if sizes is not None and a.frames > 0:     # the node's own bounds (QA88 D6: a dropped window was counted,
        items, cut = _count(a.frames, a.rate, p, sizes, last)         # and --max-files refused a run that fit)
        shortest = cut if last is Last.KEEP else None
    return {"out": Shape(min(round(size_s * a.rate), max(a.frames, 1)) if last is not Last.PAD
                         else round(size_s * a.rate), a.channels, a.rate, items=items, span=a.frames,
                         shortest=shortest, guess=not known)}


@node("time.tokenize_window", category="time", version=3, estimate=_estimate, working=0.0)
def tokenize_window(audio: Audio, *,
                    profile: WindowProfile = WindowProfile.MUSICGEN,
                    custom_rate_hz: Annotated[int, Range(1000, 384000, step=1, unit="Hz")] = 32000,
                    custom_tokens_per_s: Annotated[float, Range(1.0, 200.0, unit="tokens/s")] = 50.0,   # codecs: 12.5-86
                    custom_window_tokens: Annotated[int, Range(1, 100_000, step=1, unit="tokens")] = 1500,
                    unit: Unit = Unit.SECONDS,
                    size: Annotated[float, Range(0.0, 1_000_000.0)] = 10.0,
                    overlap: Annotated[float, Range(0.0, 1_000_000.0)] = 0.0,
                    bpm: Annotated[float, Range(20.0, 400.0, unit="bpm"), Auto()] | None = 120.0,
                    beats_per_bar: Annotated[int, Range(1, 32, step=1, unit="beats"), Auto()] | None = 4,
                    note_value: Annotated[int, Range(1, 32, step=1), Auto()] | None = None,
                    last: Last = Last.KEEP,
                    ctx: Context | None = None) -> list[Audio]:
    """Cut audio into windows on the bar grid (or in seconds or model tokens), sized for a model.

    ``size`` and ``overlap`` are in ``unit``: seconds, bars (at ``bpm``, ``beats_per_bar`` and
    ``note_value``: a 6/8 bar is six eighths; the tempo counts quarter notes, as DAWs do), beats
    (notes of ``note_value`` at ``bpm``), tokens, or ``model_window`` (size = the profile's longest audio window,
    1500 tokens = 30 s for MusicGen; overlap then in seconds).  In seconds, bars and beats window
    ``k`` starts exactly at ``round(k * (size - overlap) * rate)`` (the grid starts at the clip's
    first sample: trim to the first downbeat) and ``tokens`` counts the tokens that cover it; in
    tokens and model_window, windows are whole tokens on the token grid.  ``bpm=auto`` takes the
    tempo the audio carries (from ``time.detect_tempo`` or the source file's BPM tag) or detects it
    (needs ``pip install -e '.[tempo]'``); ``beats_per_bar=auto`` takes the audio's meter.
    Each window knows ``start_frame`` (at the input's rate, offset by the input's own
    ``start_frame``), ``index``, ``tokens`` and ``overlap_frames`` (frames shared with the previous
    window), and carries the tempo and meter in its ``info``, so ``time.stitch`` puts windows back
    at their original positions and exports can label them.

    Parameters
    ----------
    audio : Audio
        Input at any rate; windows keep its rate and channels.
    profile : WindowProfile
        The model the windows are for (its token rate and longest window): a registered model
        family's (musicgen, musicgen_melody, bark, stable_audio, or one a plug-in declares), or
        custom (the three ``custom_*`` parameters).
    custom_rate_hz : int, Hz
        With ``profile=custom``: the model's sample rate, 1000-384000 Hz.
    custom_tokens_per_s : float, tokens/s
        With ``profile=custom``: the model's token (frame) rate, 1-200 per second (audio codecs: 12.5-86).
    custom_window_tokens : int, tokens
        With ``profile=custom``: the longest window the model takes, in tokens.
    unit : Unit
        Unit of ``size`` and ``overlap``: seconds, bars, beats, tokens or model_window.
    size : float
        Length of each window in ``unit`` (e.g. 2 bars, 10 seconds).
    overlap : float
        How much each window shares with the previous one, in ``unit`` (seconds with model_window);
        less than ``size``.
    bpm : float or auto, bpm
        For ``unit=bars`` or ``unit=beats``: the tempo of the bar and beat grid, 20-400 bpm; auto: the
        tempo the audio carries, else detected (in other units, auto only labels the windows' tempo).
    beats_per_bar : int or auto
        For ``unit=bars`` or ``unit=beats``: beats in a bar (the meter's numerator), 1-32; auto: the
        audio's meter.
    note_value : int or auto
        For ``unit=bars`` or ``unit=beats``: the beat's note value (the meter's lower number: 8 for 6/8,
        7/8), 1, 2, 4, 8, 16 or 32; auto: the audio's meter when it has these beats per bar, else 4.
    last : Last
        keep (shorter last window), pad (pad it with silence to full size) or drop it.

    Examples
    --------
    >>> wins = tokenize_window.fn(Audio(np.zeros(32000 * 25), 32000), size=10.0, overlap=2.0)
    >>> [(w.start_frame, w.frames, w.tokens, w.overlap_frames) for w in wins]
    [(0, 320000, 500, 0), (256000, 320000, 500, 64000), (512000, 288000, 450, 64000)]
    >>> wins = tokenize_window.fn(Audio(np.zeros(32000 * 140), 32000), unit="bars", size=1, bpm=128)
    >>> wins[64].start_frame            # bar 64 at 128 bpm: 64 * 1.875 s * 32 kHz, exactly
    3840000
    """
    profile, unit, last = WindowProfile(profile), Unit(unit), Last(last)
    check = ctx.check_cancelled if ctx is not None else None
    p = _profile(profile, custom_rate_hz, custom_tokens_per_s, custom_window_tokens)
    tempo: dict[str, str] = {}
    note = note_value if isinstance(note_value, int) else 4
    if unit in (Unit.BARS, Unit.BEATS) and ctx is not None and (why := typed_over_carried(audio, bpm, beats_per_bar,
                                                                                       note_value)):
        ctx.warn(why)
    if unit in (Unit.BARS, Unit.BEATS) or not isinstance(bpm, (int, float)) or not isinstance(beats_per_bar, int):
        bpm, beats_per_bar, note, tempo = audio_tempo(audio, bpm, beats_per_bar, note_value, what="tokenize_window",
                                                      check=check)
    size_tokens, overlap_tokens, size_s, overlap_s = _sizes(size, overlap, unit, bpm, beats_per_bar, note,
                                                            audio.sample_rate, p)
    if size_s is None or overlap_s is None:
        bounds = window_bounds(audio.frames, audio.sample_rate, p, size_tokens, size_tokens - overlap_tokens, last,
                               check)
    else:
        bounds = grid_bounds(audio.frames, audio.sample_rate, p, size_s, size_s - overlap_s, last, check)
        times = [(k * (size_s - overlap_s), k * (size_s - overlap_s) + size_s) for k in range(len(bounds))]
    if not bounds:
        if size_s is None:
            window = f"size={size:g} {unit.value} ({float(p.tokens_to_seconds(size_tokens)):g} s)"
        else:                   # (QA45: "852 tokens (17.04 s)" for size=8 bars, 17.021 s at 141 bpm in 5/4)
            grid = f" at {bpm:g} bpm in {beats_per_bar}/{note}" if unit in (Unit.BARS, Unit.BEATS) else ""
            window = f"size={size:g} {unit.value} ({float(size_s):.3f} s{grid})"
        raise AudioError(f"the input ({audio.duration_s:.3f} s) is shorter than one window, {window}, and "
                         "last=drop; use a smaller size, or last=keep or last=pad")
    return _cut(audio.with_info(**tempo) if tempo else audio, bounds, check, times if size_s is not None else None)


def _sizes(size: float, overlap: float, unit: Unit, bpm: float, beats: int, note: int, rate: int,
           p: ModelProfile) -> tuple[int, int, Fraction | None, Fraction | None]:
    """``(size, overlap)`` in tokens, and in exact seconds on the grid units (None in tokens and
    model_window), checked as the node refuses them (:func:`_check_sizes`); the estimate runs it too,
    so validate reports a size of 0 or one longer than the model takes."""
    limit = p.audio_window_tokens
    if unit in (Unit.TOKENS, Unit.MODEL_WINDOW):
        if unit is Unit.MODEL_WINDOW:
            size_tokens = limit
            overlap_tokens = p.seconds_to_tokens(_seconds(overlap, Unit.SECONDS, bpm, beats))
        else:
            size_tokens, overlap_tokens = _to_tokens("size", size, p), _to_tokens("overlap", overlap, p)
        _check_sizes(size, overlap, unit, size_tokens, overlap_tokens, limit, p)
        return size_tokens, overlap_tokens, None, None
    size_s, overlap_s = (_seconds(v, unit, bpm, beats, note) for v in (size, overlap))
    size_tokens = p.frames_to_tokens(grid_frame(size_s, rate), rate)
    whole = p.seconds_to_tokens(size_s, rounding="floor")      # a window shorter than a token is too short
    _check_sizes(size, overlap, unit, min(size_tokens, whole) if whole < 1 else size_tokens,
                 None if overlap_s < size_s else size_tokens, limit, p)
    if overlap_s < size_s and (size_s - overlap_s) * rate < 1:     # (QA79 D3: a hop of 1 us made 8 million
        raise ParameterError(                                       # windows of an 8 s clip, and never ended)
            f"overlap={overlap:g} {unit.value} leaves {float(size_s - overlap_s) * 1e6:.3g} us between the windows' "
            f"starts, less than one sample at {rate} Hz ({1e6 / rate:.3g} us); make the overlap smaller")
    return size_tokens, 0, size_s, overlap_s


def _check_sizes(size: float, overlap: float, unit: Unit, size_tokens: int, overlap_tokens: int | None,
                 limit: int, p: ModelProfile) -> None:
    if size_tokens < 1 or size <= 0:     # the profile named as the parameter (QA84 D4: "for musicgen", no model)
        raise ParameterError(f"size={size:g} {unit.value} is less than one token of profile={p.name} "
                             f"({float(p.tokens_to_seconds(1)):g} s, the shortest window it cuts); make the "
                             "window longer")
    if size_tokens > limit:
        raise ParameterError(f"size={size:g} {unit.value} is {_describe(size_tokens, p)}, more "
                             f"than the {p.name} window of {_describe(limit, p)}; use a smaller size or "
                             f"unit=model_window")
    if overlap_tokens is not None and overlap_tokens >= size_tokens:
        raise ParameterError(f"overlap={overlap:g} {unit.value} is not less than the window size "
                             f"of {size:g} {unit.value} ({_describe(size_tokens, p)}); make the overlap smaller")


def _cut(audio: Audio, bounds: list[tuple[int, int, int]], check=None,
         times: list[tuple[Fraction, Fraction]] | None = None) -> list[Audio]:
    """The windows ``bounds`` gives; ``times``: each one's exact start and end on the grid, in seconds
    from the clip's start (kept as its ``exact_start``/``exact_end``, so it lands on the grid's samples
    at any rate it is taken to: :attr:`Audio.span`)."""
    windows = []
    prev_end = 0
    origin, rate = audio.span[0], audio.sample_rate
    for index, (start, end, tokens) in enumerate(bounds):
        t0, t1 = times[index] if times is not None else (Fraction(start, rate), Fraction(end, rate))
        if round(t1 * rate) != end:             # the last window, kept short: it ends where the clip does
            t1 = audio.span[1] - origin if end == audio.frames else Fraction(end, rate)
        elif end == audio.frames and origin + t1 > audio.span[1]:   # a bar line just past the clip's last
            t1 = audio.span[1] - origin         # sample: it ends where the clip does (QA99 D2: a frame more at 32k)
        if check is not None and index % _CHECK_EVERY == 0:     # tens of thousands of windows take seconds
            check()
        samples = audio.samples[:, start:min(end, audio.frames)]
        if end > audio.frames:
            samples = np.pad(samples, ((0, 0), (0, end - audio.frames)))
        overlap = min(max(prev_end - start, 0), end - start) if index else 0
        windows.append(audio.replace(samples, start_frame=audio.start_frame + start, index=index,
                                     tokens=tokens, overlap_frames=overlap,
                                     edges=cut_record(samples, padded=max(0, end - audio.frames),
                                                      source=audio.samples, start=start),
                                     **audio.markers_within(start, end),     # its own, where it holds them
                                     exact_start=origin + t0, exact_end=origin + t1))
        prev_end = end
    return windows
