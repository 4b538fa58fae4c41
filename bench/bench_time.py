"""Musical-time benchmarks (issue 10): tempo detection per minute of audio, and stitching windows back
at their bars (seam-centred crossfades) against plain concatenation of the same windows, as ratios
measured here (wall and CPU time)."""
from __future__ import annotations


import numpy as np

from bench._util import best_times as _times, report
from nodeflow.audio import Audio


def _piece(bpm: float, seconds: float, rate: int) -> Audio:
    """Kick on every beat, a bass note per bar that changes pitch, noise hats: enough to track."""
    rng = np.random.default_rng(0)
    n = round(seconds * rate)
    x = np.zeros(n)
    beat = 60.0 / bpm
    for k in range(int(seconds / beat)):
        t0 = round(k * beat * rate)
        t = np.arange(min(round(0.1 * rate), n - t0)) / rate
        x[t0:t0 + len(t)] += np.sin(2 * np.pi * (50 + 60 * np.exp(-40 * t)) * t) * np.exp(-25 * t)
        if k % 4 == 0:
            t = np.arange(min(round(4 * beat * rate), n - t0)) / rate
            x[t0:t0 + len(t)] += 0.3 * np.sin(2 * np.pi * 55 * 2 ** (rng.integers(0, 7) / 12) * t)
    x += 0.02 * rng.standard_normal(n)
    return Audio(np.stack([x, x]) * 0.4, rate)


def bench_tempo_detection(minutes: float = 2.0, rate: int = 44100) -> None:
    try:
        import librosa  # noqa: F401
    except ModuleNotFoundError:
        print("# tempo detection skipped: librosa not installed (pip install -e '.[tempo]')")
        return
    from nodes.timing.tempo import estimate_tempo
    from nodes.dsp._conform import resample_audio
    piece = _piece(123.0, 60 * minutes, rate)
    estimate_tempo(_piece(123.0, 8.0, rate))                   # librosa's first call compiles (numba)
    wall, cpu = _times(lambda: estimate_tempo(piece))
    base_wall, base_cpu = _times(lambda: resample_audio(piece, 22050))
    report("tempo_detection_s_per_minute", wall / minutes, "goal < 2 s of wall time per minute of 44.1 kHz stereo")
    report("tempo_detection_cpu_s_per_minute", cpu / minutes, "goal < 2 s of CPU per minute")
    report("tempo_detection_vs_resample_to_22k", wall / base_wall,
           "ratio to resampling the same audio for analysis (the detector's own first step)", "{:.1f}")


def bench_stitch(minutes: float = 10.0, rate: int = 48000) -> None:
    from nodes.timing.stitch import stitch
    from nodes.timing.window import tokenize_window
    piece = _piece(97.0, 60 * minutes, rate)
    windows = tokenize_window.fn(piece, unit="bars", size=1, bpm=97.0)
    plain = _times(lambda: np.concatenate([w.samples for w in windows], axis=1))
    placed = _times(lambda: stitch.fn(windows))
    report("stitch_vs_concatenate_wall", placed[0] / plain[0],
           f"goal < 3: {len(windows)} one-bar windows ({minutes:.0f} min stereo 48 kHz), seam-centred 10 ms fades")
    report("stitch_vs_concatenate_cpu", placed[1] / plain[1], "goal < 3: the same in CPU time")


def main() -> None:
    bench_tempo_detection()
    bench_stitch()


if __name__ == "__main__":
    main()
