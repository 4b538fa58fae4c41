"""The K-weighting filter runs in numpy (``SosFilter``) so that exports need no ``scipy.signal``
import (~1 s): it matches ``sosfilt`` whatever the block sizes, and a stream can move to ``sosfilt``
mid-way (long programmes) without a seam."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import sosfilt

from nodes.io import _loudness
from nodes.io._loudness import LoudnessMeter, SosFilter, k_weighting

TOL = 1e-9    # absolute, on unit-variance noise whose filtered peak is ~8 (measured: 3e-10 at 192 kHz, 8e-12 at 48 kHz)


def _blocks(n: int, sizes: list[int]):
    i, k = 0, 0
    while i < n:
        yield slice(i, min(n, i + sizes[k % len(sizes)]))
        i, k = i + sizes[k % len(sizes)], k + 1


@pytest.mark.parametrize("rate", [8000, 44100, 48000, 192000])
@pytest.mark.parametrize("channels", [1, 2, 6])
@pytest.mark.parametrize("sizes", [[65536], [1, 63, 64, 65, 1000], [7]], ids=["whole", "ragged", "tiny"])
def test_matches_sosfilt_across_blocks(rate, channels, sizes):
    x = np.random.default_rng(rate + channels).standard_normal((rate // 2, channels))
    sos = k_weighting(rate)
    want = sosfilt(sos, x, axis=0)
    f = SosFilter(sos, channels)
    got = np.concatenate([f(x[s]) for s in _blocks(len(x), sizes)])
    assert np.abs(got - want).max() < TOL
    _, zf = sosfilt(sos, x, axis=0, zi=np.zeros((2, 2, channels)))
    assert np.abs(f.zi - zf).max() < TOL                  # the state is sosfilt's, ready to hand over


def test_meter_hands_over_to_sosfilt_without_a_seam(monkeypatch):
    rate = 48000
    x = (np.random.default_rng(3).standard_normal((2, rate * 3)) * 0.1).astype(np.float32)

    def energies(limit):
        monkeypatch.setattr(_loudness, "SCIPY_AFTER_SAMPLES", limit)
        meter = LoudnessMeter(rate, 2)
        for s in _blocks(x.shape[1], [10007]):
            meter.add(x[:, s])
        return meter, meter.energies()

    numpy_only, a = energies(1 << 40)
    handed, b = energies(rate)                              # moves to sosfilt after half a second
    assert numpy_only.filter is not None and handed.filter is None
    assert len(a) == len(b) == 30
    assert np.abs(a / b - 1).max() < 1e-9


def test_an_export_is_the_same_bytes_whether_or_not_scipy_signal_was_imported(tmp_path):
    """QA71 D1: the meter moved to ``sosfilt`` as soon as anything had imported ``scipy.signal`` (an upstream
    high-pass), and the two filters round apart: a cache-warm run (the high-pass served from the cache, so
    never imported) wrote 52 samples 1 LSB off the cold run's master.  The meter's filter now depends on
    the audio alone."""
    import hashlib
    import subprocess
    import sys
    from pathlib import Path

    import soundfile as sf
    rate = 44100
    t = np.arange(rate * 6) / rate
    beat = (np.sin(2 * np.pi * 55 * t) * np.exp(-(t % (60 / 133)) * 9)
            + 0.3 * np.sin(2 * np.pi * 440 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.3 * t)))
    sf.write(tmp_path / "in.wav", np.stack([beat, 0.8 * beat]).T.astype(np.float32) * 0.3, rate, subtype="FLOAT")
    code = ("import sys\nif sys.argv[3] == 'scipy': import scipy.signal\n"
            "from nodeflow import Graph, Executor\n"
            "g = Graph(); g.add('io.load', id='load', path=sys.argv[1])\n"
            "g.add('io.export', id='export', path=sys.argv[2], loudness_lufs=-11.0, peak_db=-1.0, bit_depth='pcm24',"
            " embed_graph=False)\n"
            "g.connect('load', 'export'); Executor(disk_cache=None).run(g)\n")
    digests = []
    for first in ("numpy", "scipy"):
        out = tmp_path / f"{first}.wav"
        p = subprocess.run([sys.executable, "-c", code, str(tmp_path / "in.wav"), str(out), first],
                           cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr[-2000:]
        digests.append(hashlib.md5(sf.read(out, dtype="int32")[0].tobytes()).hexdigest())
    assert digests[0] == digests[1]
