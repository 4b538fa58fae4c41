"""Bright, hot masters: peaks between samples near the top of the band.

A limited master with hats and clipped kicks up to the Nyquist frequency can peak between samples
over its ceiling where the BS.1770 meter (4x oversampled) reads it more than a dB under.  The
export then reads the written file's band-limited peak too, and limits again by what is over; once
it has, every later encode of that master is read the same way (QA78 D2: an encode limited lower
read -2.02 dBTP, more than the meter's gate under the -1 ceiling, and went out at -0.91
band-limited)."""
from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest
import soundfile as sf

from nodeflow import Graph
from nodeflow.executor import Executor
from nodes.io import _encode
from nodes.io._loudness import band_limited_peak_file, measure_file

RATE = 48000


def bright(seconds: float, bpm: float, seed: int) -> np.ndarray:
    """A saw chord, hats of differentiated noise (brightest at the Nyquist frequency) on the
    eighths and kicks clipped at full scale on the beats, stereo, half scale."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    y = np.zeros((2, n))
    for k, f0 in enumerate((110.0, 164.8, 220.0, 277.2)):
        y += 0.2 * (2 * ((f0 * t * (1 + 0.001 * k)) % 1.0) - 1)
    beat = 60 / bpm
    for b in np.arange(0, seconds, beat / 2):
        a = int(b * RATE)
        m = min(n - a, int(0.04 * RATE))
        y[:, a:a + m] += 0.5 * np.diff(rng.standard_normal(m + 1)) * np.exp(-np.arange(m) / (0.008 * RATE))
    for b in np.arange(0, seconds, beat):
        a = int(b * RATE)
        m = min(n - a, int(0.15 * RATE))
        k = np.arange(m) / RATE
        y[:, a:a + m] += np.clip(3 * np.sin(2 * np.pi * 55 * k * (1 + 2 * np.exp(-k * 30))) * np.exp(-k * 12), -1, 1)
    return (0.5 * y).astype(np.float32)


def _ffmpeg_true_peak(path) -> float:
    err = subprocess.run(["ffmpeg", "-nostdin", "-i", str(path), "-af", "ebur128=peak=true", "-f", "null", "-"],
                         capture_output=True, text=True, check=True).stderr
    return float(re.findall(r"Peak:\s+(-?[\d.]+) dBFS", err)[-1])


def test_a_bright_master_limited_again_has_its_band_limited_peak_read_on_every_later_encode(tmp_path, monkeypatch):
    src = tmp_path / "bright.wav"
    sf.write(src, bright(5.0, 310.0, 21).T, RATE, subtype="FLOAT")
    reads: list[tuple[float, float]] = []        # (BS.1770 true peak, band-limited peak) of each encode read

    def over_db(measured, path, peak_db, check, band=False):
        got = real(measured, path, peak_db, check, **({"band": True} if band else {}))
        if band or measured.true_peak_dbtp >= peak_db - _encode.BAND_CHECK_DB:
            reads.append((measured.true_peak_dbtp, 20 * np.log10(band_limited_peak_file(path))))
        return got
    real = _encode._over_db
    monkeypatch.setattr(_encode, "_over_db", over_db)
    g = Graph()
    g.add("io.load", id="load", path=str(src))
    g.add("io.export", id="export", path="master.wav", loudness_lufs=-11.0, peak_db=-1.0, bit_depth="pcm16")
    g.connect("load", "export")
    Executor().run(g, output_dir=tmp_path / "out")
    out = tmp_path / "out" / "master.wav"
    # the first encode is over between samples (-0.39 band-limited); limited again, the meter falls more
    # than its gate (BAND_CHECK_DB) under the ceiling (-2.44 dBTP) while the band-limited peak is still
    # over (-0.96): read, and limited again (before, that encode was written)
    assert reads[0][1] > -1.0 and any(tp < -1.0 - _encode.BAND_CHECK_DB and band > -1.0 for tp, band in reads[1:])
    assert 20 * np.log10(band_limited_peak_file(out)) <= -1.0
    assert measure_file(out).true_peak_dbtp <= -1.0
    assert _ffmpeg_true_peak(out) <= -1.0
