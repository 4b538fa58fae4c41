"""Recording the PulseAudio null sink with ``parec`` (a C program, so the recording does not depend on
Python's scheduling) and counting dropouts in a steady tone."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np

RATE = 48000
SILENT = 1e-3          # a 0.25-amplitude sine is below this for ~1 us per zero crossing: far under a sample


class Parec:
    """``with Parec(path) as rec: ...`` records ``nullsink.monitor`` to ``path`` (float32 stereo 48 kHz)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __enter__(self) -> "Parec":
        self.proc = subprocess.Popen(["parec", "-d", "nullsink.monitor", "--format=float32le", f"--rate={RATE}",
                                      "--channels=2", "--latency-msec=50", str(self.path)])
        self._wait_for(0.2)                  # recording for real (parec may take a while on a busy machine)
        return self

    def _frames(self) -> int:
        return self.path.stat().st_size // 8 if self.path.exists() else 0

    def _wait_for(self, seconds: float, timeout: float = 30.0) -> None:
        want, end = self._frames() + int(seconds * RATE), time.monotonic() + timeout
        while self._frames() < want and time.monotonic() < end and self.proc.poll() is None:
            time.sleep(0.02)

    def __exit__(self, *exc) -> None:
        self._wait_for(0.4)                  # the sound's tail is in the file
        self.proc.terminate()
        self.proc.wait(10)

    @property
    def data(self) -> np.ndarray:
        return np.fromfile(self.path, dtype="<f4").reshape(-1, 2)


def dropouts(x: np.ndarray, rate: int = RATE, min_s: float = 0.001) -> dict:
    """Silent runs of at least ``min_s`` inside a recorded steady tone (first to last sound)."""
    m = x[:, 0] if x.ndim == 2 else x
    loud = np.flatnonzero(np.abs(m) > SILENT)
    if not len(loud):
        return {"count": 0, "gap_s": 0.0, "longest_s": 0.0, "span_s": 0.0}
    span = m[loud[0]:loud[-1] + 1]
    quiet = np.concatenate([[0], (np.abs(span) < SILENT).astype(np.int8), [0]])
    d = np.diff(quiet)
    lens = np.flatnonzero(d == -1) - np.flatnonzero(d == 1)
    gaps = lens[lens >= int(min_s * rate)]
    return {"count": int(len(gaps)), "gap_s": float(gaps.sum() / rate),
            "longest_s": float(gaps.max() / rate) if len(gaps) else 0.0, "span_s": len(span) / rate}


def seconds_at(x: np.ndarray, hz: float, rate: int = RATE) -> float:
    """How long the recording is dominated by ``hz`` (10 ms blocks)."""
    m = x[:, 0] if x.ndim == 2 else x
    blk = rate // 100
    n = len(m) // blk
    b = m[:n * blk].reshape(n, blk) * np.hanning(blk)
    spec = np.abs(np.fft.rfft(b, axis=1))
    freqs = np.fft.rfftfreq(blk, 1 / rate)
    loud = np.sqrt(np.mean(b ** 2, axis=1)) > 0.01
    return float(((spec.argmax(axis=1) == np.argmin(np.abs(freqs - hz))) & loud).sum() / 100)
