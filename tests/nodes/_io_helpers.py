"""Signals, files and measurements for the io/speech tests (real codecs, files made in tmp_path)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nodeflow.node import Context

RATE = 44100

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
                                  reason="ffmpeg/ffprobe not installed")

# files written by soundfile.write: (format, subtype) -> largest |decoded - source| inside [-1, 1].
# libsndfile floors (not rounds) floats to PCM, so 1 LSB; io.export rounds itself (0.5 LSB).
LOSSLESS_TOL = {("WAV", "FLOAT"): 0.0, ("WAV", "PCM_24"): 2.0 ** -23, ("WAV", "PCM_16"): 2.0 ** -15,
                ("FLAC", "PCM_24"): 2.0 ** -23, ("FLAC", "PCM_16"): 2.0 ** -15}
LOSSY_MIN_CORR = 0.98     # correlation of a lossy decode with its (tonal) source


def tones(seconds: float, rate: int = RATE, channels: int = 2, amp: float = 0.5) -> np.ndarray:
    """``[channels, frames]`` float32: a few harmonics per channel (different pitch on each), 10 ms fades."""
    n = round(seconds * rate)
    t = np.arange(n) / rate
    out = np.empty((channels, n))
    for c in range(channels):
        f0 = 220.0 * 2 ** (c / 4)
        out[c] = sum(np.sin(2 * np.pi * f0 * h * t + c) / h for h in (1, 2, 3))
    fade = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.01 * rate))
    out *= fade * amp / np.abs(out).max()
    return out.astype(np.float32)


def context(tmp_path: Path, **kw) -> Context:
    return Context("test", base_dir=tmp_path, output_dir=tmp_path / "out", **kw)


def write(path: Path, samples: np.ndarray, rate: int = RATE, **kw) -> Path:
    sf.write(str(path), samples.T, rate, **kw)
    return path


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", *args], check=True)


def encode(src: Path, dest: Path, *codec: str) -> Path:
    ffmpeg("-i", str(src), *codec, str(dest))
    return dest


def corr(a: np.ndarray, b: np.ndarray) -> float:
    n = min(a.shape[-1], b.shape[-1])
    return float(np.corrcoef(np.ravel(a[..., :n]), np.ravel(b[..., :n]))[0, 1])


def best_lag(a: np.ndarray, b: np.ndarray, max_lag: int = 2048) -> int:
    """Shift of ``a`` against ``b`` (1-D) with the largest correlation, by FFT."""
    n = min(len(a), len(b))
    size = 1 << int(np.ceil(np.log2(2 * n)))
    xc = np.fft.irfft(np.fft.rfft(a[:n], size) * np.conj(np.fft.rfft(b[:n], size)), size)
    lags = np.r_[np.arange(0, max_lag + 1), np.arange(-max_lag, 0)]
    return int(lags[np.argmax(xc[lags])])


def fundamental_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(np.asarray(x, np.float64) * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))
