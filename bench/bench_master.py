"""Mastering benchmarks (issue 10): true-peak limiting export vs a plain export, and true-peak
metering vs a plain read, as ratios against baselines run here (wall and CPU time)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from bench._util import best_times as _times, report
from nodeflow.audio import Audio
from nodeflow.node import Context


def _music(seconds: float, rate: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(round(seconds * rate)) / rate
    kick_t = t % 0.5
    x = 0.3 * ((110 * t) % 1 - 0.5) + 0.8 * np.sin(2 * np.pi * 55 * kick_t) * np.exp(-kick_t * 15)
    x = np.stack([x, x]) + 0.1 * rng.standard_normal((2, len(t)))
    return (x / np.abs(x).max() * 0.98).astype(np.float32)


def bench_limited_export(seconds: float = 60.0, rate: int = 44100) -> None:
    from nodes.io.export import export
    audio = Audio(_music(seconds, rate), rate)
    quiet = Audio(audio.samples * np.float32(0.5), rate)        # under the ceiling: nothing to limit
    with tempfile.TemporaryDirectory() as d:
        def run(a: Audio, **kw) -> None:
            args = {k: export.params[k].default for k in export.params}
            args.update(path="a.wav", embed_graph=False, **kw)
            export.fn(a, ctx=Context("export", base_dir=Path(d), output_dir=Path(d)), **args)
        plain = _times(lambda: run(quiet, peak_db=0.0))
        limited = _times(lambda: run(audio, loudness_lufs=-9.0, peak_db=-1.0))
    report("export_true_peak_limited_vs_plain_wall", limited[0] / plain[0],
           f"goal < 15: -9 LUFS at -1 dBTP vs plain export, {seconds:.0f} s stereo 44.1 kHz wav24")
    report("export_true_peak_limited_vs_plain_cpu", limited[1] / plain[1], "goal < 15: the same in CPU time")


def bench_true_peak_meter(seconds: float = 60.0, rate: int = 48000) -> None:
    from nodes.io._loudness import measure_file
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "a.wav"
        sf.write(path, _music(seconds, rate).T, rate, subtype="PCM_24")

        def read() -> None:
            with sf.SoundFile(str(path)) as f:
                for _ in f.blocks(blocksize=1 << 16, dtype="float32"):
                    pass
        plain = _times(read)
        metered = _times(lambda: measure_file(path))
    minutes = seconds / 60
    report("measure_true_peak_lufs_lra_vs_read_wall", metered[0] / plain[0],
           f"goal: informational; {metered[0] / minutes:.2f} s per minute of 48 kHz stereo")
    report("measure_true_peak_lufs_lra_vs_read_cpu", metered[1] / plain[1],
           f"goal: informational; {metered[1] / minutes:.2f} CPU s per minute of 48 kHz stereo")


def main() -> None:
    bench_limited_export()
    bench_true_peak_meter()


if __name__ == "__main__":
    main()
