"""Small stub nodes for engine tests (no torch, no audio libraries): counting, identity, failing."""
from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Annotated, NamedTuple

import numpy as np

from nodeflow import Audio, ChoiceEnum, Context, FilePath, Range, Registry, node

CALLS: Counter = Counter()
_lock = threading.Lock()


def _count(name: str) -> None:
    with _lock:
        CALLS[name] += 1


class Shape(ChoiceEnum):
    SINE = "sine"
    SQUARE = "square"


@node("test.tone")
def tone(*, freq_hz: Annotated[float, Range(1.0, 20000.0, unit="Hz")] = 440.0,
         duration_s: Annotated[float, Range(0.0, 3600.0, unit="s")] = 1.0,
         sample_rate: Annotated[int, Range(1000, 192000, unit="Hz")] = 8000, shape: Shape = Shape.SINE) -> Audio:
    """A test tone."""
    _count("tone")
    t = np.arange(round(duration_s * sample_rate)) / sample_rate
    x = np.sin(2 * np.pi * freq_hz * t)
    if shape is Shape.SQUARE:
        x = np.sign(x)
    return Audio(0.5 * x, sample_rate)


@node("test.gain")
def gain(audio: Audio, *, gain_db: Annotated[float, Range(-60.0, 24.0, unit="dB")] = 0.0) -> Audio:
    """Gain."""
    _count("gain")
    return audio.replace(audio.samples * 10 ** (gain_db / 20))


@node("test.split")
def split(audio: Audio, *, parts: Annotated[int, Range(1, 1000)] = 4) -> list[Audio]:
    """Split into equal parts."""
    _count("split")
    n = audio.frames // parts
    return [audio.replace(audio.samples[:, i * n:(i + 1) * n], start_frame=i * n, index=i) for i in range(parts)]


@node("test.join")
def join(parts: list[Audio]) -> Audio:
    """Concatenate parts."""
    _count("join")
    return Audio(np.concatenate([p.samples for p in parts], axis=1), parts[0].sample_rate)


@node("test.mix")
def mix(a: Audio, b: Audio | None = None) -> Audio:
    """Sum two clips (b optional)."""
    _count("mix")
    if b is None:
        return a
    n = min(a.frames, b.frames)
    return Audio(a.samples[:, :n] + b.samples[:, :n], a.sample_rate)


class Stats(NamedTuple):
    peak: float
    rms: float


@node("test.stats")
def stats(audio: Audio) -> Stats:
    """Peak and RMS."""
    _count("stats")
    return Stats(float(np.abs(audio.samples).max()), float(np.sqrt(np.mean(audio.samples ** 2))))


@node("test.number")
def number(x: float) -> float:
    """Identity on numbers."""
    return x


@node("test.fail")
def fail(audio: Audio, *, message: str = "boom") -> Audio:
    """Always fails."""
    _count("fail")
    raise RuntimeError(message)


@node("test.slow")
def slow(audio: Audio, *, steps: Annotated[int, Range(1, 10000)] = 50, step_s: float = 0.01,
         ctx: Context = None) -> Audio:
    """Sleeps in steps, reporting progress and honouring cancellation."""
    _count("slow")
    for i in range(steps):
        time.sleep(step_s)
        ctx.progress(i + 1, steps)
    return audio


@node("test.busy")
def busy(audio: Audio, *, seconds: float = 0.3) -> Audio:
    """Sleeps (releases the GIL like numpy/soxr do) to show branches run concurrently."""
    _count("busy")
    time.sleep(seconds)
    return audio


@node("test.read")
def read(*, path: Annotated[str, FilePath(mode="read")] = "", ctx: Context = None) -> str:
    """Reads a text file."""
    _count("read")
    return ctx.resolve_input(path).read_text()


@node("test.sink", side_effect=True)
def sink(audio: Audio, *, name: str = "x") -> str:
    """A side-effect sink."""
    _count("sink")
    return f"{name}:{audio.frames}"


ALL = [tone, gain, split, join, mix, stats, number, fail, slow, busy, read, sink]


def registry() -> Registry:
    r = Registry()
    r.load_pack("stubs", lambda reg: reg.add_all(ALL), "1.0")
    return r
