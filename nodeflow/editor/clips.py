"""Output values as playable clips, and how a clip reads on its waveform.

What the editor plays of a node's output is one clip (:func:`as_audio`: audio as it is; a list of
clips one after another, or, windows cut from one source, each where it starts there), and what its
waveform shows is that clip's envelope (:func:`preview_envelope`) on a time axis in seconds or, for a
clip that carries its tempo (:func:`tempo_info`), in bars (:func:`time_ticks`, :func:`bar_grid`), a
loop marked on it snapping to the beat (:func:`on_beat`); the level meter reads its peak where the
listener is (:func:`peak_dbfs`).  These are plain functions of a value, kept apart from the transport
that plays it (:class:`.playback.Auditioner`, which re-exports the ones it always offered).  This
module does not import dearpygui.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..audio import Audio
from ..errors import NodeflowError
from .live import LiveClip

__all__ = ["Clip", "as_audio", "bar_grid", "on_beat", "peak_dbfs", "preview_envelope", "tempo_info", "time_ticks",
           "PEAK_WINDOW_S"]

PEAK_WINDOW_S = 0.05          # the level meter reads the peak of the last 50 ms heard

Clip = Audio | LiveClip       # what plays: a value, or a node's output while it is still being generated


def as_audio(value: Any) -> Audio | None:
    """An output value as one playable clip: ``Audio`` as is; a list of clips one after another (with
    the tempo and meter they all carry, so that the waveform of windows cut by bars reads in bars), or,
    for windows that start later and later in their source, each where it starts there, the next one
    taking over where it begins: overlapping windows play as long as their source, on its time axis
    (QA50: played back to back, every overlap twice, 16.2 s for a 14.4 s song under its bar axis).

    >>> w = [Audio(np.full((1, 4), float(i + 1), np.float32), 4, start_frame=2 * i) for i in range(3)]
    >>> as_audio(w).samples.tolist(), as_audio([w[0], w[0]]).frames
    ([[1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 3.0]], 8)
    """
    if isinstance(value, Audio):
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Audio) for v in value):
        rate = value[0].sample_rate
        clips = [v for v in value if v.sample_rate == rate]
        ch = max(v.samples.shape[0] for v in clips)
        starts = [v.start_frame for v in clips]
        if len(clips) > 1 and all(a < b for a, b in zip(starts, starts[1:])):       # placed in their source
            ends = [b - starts[0] for b in starts[1:]] + [starts[-1] - starts[0] + clips[-1].frames]
            out = np.zeros((ch, ends[-1]), np.float32)
            for v, end in zip(clips, ends):
                at = v.start_frame - starts[0]
                n = min(end - at, v.frames)
                out[:, at:at + n] = v.samples[:, :n]
            return Audio(out, rate, info=tempo_info(clips))
        parts = [np.broadcast_to(v.samples, (ch, v.samples.shape[1])) if v.samples.shape[0] != ch else v.samples
                 for v in clips]
        return Audio(np.ascontiguousarray(np.concatenate(parts, axis=1), dtype=np.float32), rate,
                     info=tempo_info(clips))
    return None


def tempo_info(value: Any) -> tuple[tuple[str, str], ...]:
    """The ``bpm`` and ``meter`` a clip carries, or that every clip of a list carries alike.

    >>> a = Audio(np.zeros((1, 10), np.float32), 48000, info=(("bpm", "97.5"), ("meter", "3/4")))
    >>> tempo_info([a, a]), tempo_info([a, Audio(np.zeros((1, 10), np.float32), 48000)])
    ((('bpm', '97.5'), ('meter', '3/4')), ())
    """
    clips = [value] if isinstance(value, Audio) else list(value) if isinstance(value, (list, tuple)) else []
    facts = [dict(v.info) for v in clips if isinstance(v, Audio)]
    if not facts or len(facts) != len(clips):
        return ()
    return tuple((k, facts[0][k]) for k in ("bpm", "meter") if k in facts[0] and all(f.get(k) == facts[0][k] for f in facts))


def peak_dbfs(audio: Clip, at_s: float, window_s: float = PEAK_WINDOW_S) -> float:
    """Sample peak in dBFS of the ``window_s`` of ``audio`` ending at ``at_s`` (-inf when silent).

    >>> a = Audio(np.array([[0.0, 0.5, 0.0, 0.25]]), 4)
    >>> round(peak_dbfs(a, 1.0, 0.5), 2), round(peak_dbfs(a, 0.5, 0.5), 2)
    (-12.04, -6.02)
    """
    rate = audio.sample_rate
    b = min(max(int(round(at_s * rate)), 1), audio.samples.shape[1])
    a = max(b - max(int(window_s * rate), 1), 0)
    peak = float(np.max(np.abs(audio.samples[:, a:b]))) if b > a else 0.0
    return float(20 * np.log10(peak)) if peak > 0 else float("-inf")


def bar_grid(info: Any = ()) -> tuple[float, int] | None:
    """``(bar length in seconds, beats in a bar)`` of a clip whose ``info`` has its ``bpm`` (and
    ``meter``, default 4/4); None without a tempo.

    >>> bar_grid((("bpm", "120"), ("meter", "3/4"))), bar_grid(())
    ((1.5, 3), None)
    """
    from ..timebase import bars_to_seconds, parse_meter
    facts = dict(info or ())
    try:
        bpm = float(facts.get("bpm", 0) or 0)
        beats, note = parse_meter(facts.get("meter") or "4/4")        # a 6/8 bar is three quarter notes
    except (ValueError, NodeflowError):
        return None
    if bpm > 0 and beats > 0:
        return float(bars_to_seconds(1, bpm, beats, note)), int(beats)
    return None


def on_beat(seconds: float, grid: tuple[float, int] | None) -> float:
    """``seconds`` moved to the nearest beat of ``grid`` (:func:`bar_grid`): a loop marked on a waveform
    read in bars starts and ends on the beat, as a DAW snaps to its grid (QA50: shift+clicks on the
    bar 3 and bar 5 ticks of a 184 px waveform gave 3.63-7.27 s for 3.609-7.218 s, a flam on every pass).

    >>> round(on_beat(3.63, (240 / 133, 4)), 4), on_beat(1.0, None)
    (3.609, 1.0)
    """
    if grid is None:
        return seconds
    beat = grid[0] / grid[1]
    return round(seconds / beat) * beat


def time_ticks(duration_s: float, info: Any = ()) -> tuple[str, list[tuple[str, float]]]:
    """The waveform's time axis: ``("bars", ticks)`` (bar numbers) when ``info`` has ``bpm`` (and
    ``meter``, default 4/4), else ``("s", ticks)`` labelled in seconds, or in minutes:seconds from a
    two-minute step; at most 6 labelled ticks (they share 184 px), the first one short (ImPlot
    centres a label on its tick, so the first one reaches past the plot's left edge).

    >>> time_ticks(4.0)
    ('s', [('0', 0.0), ('1s', 1.0), ('2s', 2.0), ('3s', 3.0), ('4s', 4.0)])
    >>> time_ticks(594.0)[1]
    [('0', 0.0), ('2:00', 120.0), ('4:00', 240.0), ('6:00', 360.0), ('8:00', 480.0)]
    >>> time_ticks(8.0, (("bpm", "120"), ("meter", "4/4")))[1][:3]
    [('1', 0.0), ('2', 2.0), ('3', 4.0)]
    """
    grid = bar_grid(info)
    if grid is not None:
        bar = grid[0]
        n = int(duration_s / bar + 1e-9)
        every = max(1, -(-(n + 1) // 6))              # bars per tick
        return "bars", [(str(i + 1), i * bar) for i in range(0, n + 1, every)]
    if duration_s <= 0:
        return "s", [("0", 0.0)]
    step = next((s for s in (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600) if duration_s / s <= 5), 1200)
    ticks: list[tuple[str, float]] = []
    t = 0.0
    while t <= duration_s + 1e-9:
        label = f"{t:g}s" if step < 60 else f"{int(t // 60)}:{int(t % 60):02d}"
        ticks.append(("0" if not ticks else label, round(t, 6)))
        t += step
    return "s", ticks


def preview_envelope(value: Any, points: int = 600) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(times_s, mins, maxs)`` for a waveform preview, or None for a value that is not audio."""
    audio = as_audio(value)
    if audio is None or audio.samples.shape[1] == 0:
        return None
    from .audition import envelope
    return envelope(audio, points=points)
