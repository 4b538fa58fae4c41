"""The loudness search of exports works where the limiter acts: its exact loudness is the limited
audio's own (K-weighted difference filtered over the limiter's ranges), its estimates are close,
its true peak is the whole output's, and a target the limiter cannot reach stops early."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pyebur128
import pytest

from nodes.io import _master
from nodes.io._loudness import TruePeakMeter, integrated_lufs
from tests.nodes._signals import music


def _signal(kind: str, rate: int) -> np.ndarray:
    if kind == "score":       # kicks, hats, bass and melody at an odd tempo, stereo
        return music(97.0, 7, 9.0, rate, seed=3).samples
    rng = np.random.default_rng(5)  # noise bursts over a low hum: a high crest factor, mono
    n = 9 * rate
    t = np.arange(n) / rate
    x = 0.08 * np.sin(2 * np.pi * 60 * t) + 0.02 * rng.standard_normal(n)
    for start in range(0, n - rate // 3, rate // 3):
        x[start:start + rate // 10] += 0.8 * rng.standard_normal(rate // 10) * np.exp(-np.arange(rate // 10) / (0.02 * rate))
    return (x / np.abs(x).max() * 0.9).astype(np.float32)[None]


def _reference_lufs(y: np.ndarray, rate: int) -> float:
    state = pyebur128.R128State(y.shape[0], rate, pyebur128.MeasurementMode.MODE_I)
    state.add_frames(np.ascontiguousarray(y.T).ravel(), y.shape[1])
    return pyebur128.get_loudness_global(state)


@pytest.mark.parametrize("kind,rate", [("score", 44100), ("bursts", 32000), ("score", 48000)])
@pytest.mark.parametrize("gain_db", [4.0, 12.0, 30.0])
def test_limited_loudness_is_the_limited_audios_own_and_the_estimate_is_close(kind, rate, gain_db):
    x = _signal(kind, rate)
    m = _master.Mastered(x, rate, 10 ** (-1 / 20))
    m.knee = 10 ** (3 / 20)
    g = 10 ** (gain_db / 20)
    assert m.limiting(g)
    whole = np.concatenate([y for _, y in m.blocks(g)], axis=1)
    assert m.loudness(g) == pytest.approx(integrated_lufs(whole, rate), abs=1e-6)   # filtered per range
    assert m.loudness(g) == pytest.approx(_reference_lufs(whole, rate), abs=2e-3)  # libebur128
    # a few thousandths of an LU where the limiter rides peaks; deep limiting moves it more (the search
    # measures its result and corrects the estimate by what it missed)
    assert abs(m.estimate(g) - m.loudness(g)) < (0.02 if gain_db < 20 else 0.25), "the search's estimate strays"


@pytest.mark.parametrize("kind,rate", [("score", 44100), ("bursts", 32000)])
@pytest.mark.parametrize("gain_db", [3.0, 10.0, 25.0])
def test_the_true_peak_metered_over_the_limiter_ranges_is_the_whole_outputs(kind, rate, gain_db):
    x = _signal(kind, rate)
    m = _master.Mastered(x, rate, 10 ** (-1 / 20))
    g = 10 ** (gain_db / 20)
    meter = TruePeakMeter(rate, x.shape[0])
    for _, y in m.blocks(g):
        meter.add(y)
    meter.finish()
    assert m.true_peak(g) == meter.true_peak()


def test_search_result_measures_the_target_by_an_independent_meter():
    rate = 44100
    x = _signal("score", rate)
    for target in (-16.0, -10.0, -8.0):
        m = _master.master(x, rate, target, 10 ** (-1 / 20))
        y = m.array()
        assert _reference_lufs(y, rate) == pytest.approx(target, abs=0.05)
        meter = TruePeakMeter(rate, 2)
        meter.add(y)
        meter.finish()
        assert meter.true_peak() <= 10 ** (-1 / 20)


def test_an_unreachable_target_stops_when_more_gain_no_longer_helps(monkeypatch):
    rate = 32000
    x = _signal("bursts", rate)
    tries = []
    real = _master.Mastered.estimate
    monkeypatch.setattr(_master.Mastered, "estimate", lambda self, g: tries.append(g) or real(self, g))
    with pytest.raises(_master.ParameterError, match=r"loudness_lufs=-1 cannot be reached under peak_db=-1 dBTP"):
        _master.master(x, rate, -1.0, 10 ** (-1 / 20))
    # the landed search walked the gain up to +120 dB with one full pass per try (14 per knee)
    assert len(tries) <= 3 * 6, len(tries)
    assert 20 * np.log10(max(tries)) < 80          # not +120 dB


def test_a_run_keeps_numpys_blas_to_one_thread():
    code = ("import json, threadpoolctl, numpy\n"
            "from nodeflow import Executor, Graph\n"
            "def blas(): return [i['num_threads'] for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas']\n"
            "before = blas()\n"
            "Executor().run(Graph())\n"
            "print(json.dumps([before, blas()]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "OPENBLAS_NUM_THREADS": "2"}).stdout
    before, after = json.loads(out)
    assert before == [2] and after == [1]


def _export(tmp_path, x: np.ndarray, rate: int, **params):
    import soundfile as sf

    from nodeflow import Executor, Graph
    src = tmp_path / "in.wav"
    sf.write(str(src), x.T, rate, subtype="FLOAT")
    g = Graph()
    a = g.add("io.load", id="load", path=str(src))
    e = g.add("io.export", id="export", path="out.wav", embed_graph=False, **params)
    g.connect(a.out, e.audio)
    Executor(disk_cache=None).run(g, output_dir=tmp_path)
    y, r = sf.read(str(tmp_path / "out.wav"), always_2d=True)
    return y.T, r


def test_a_pcm_export_checks_the_estimate_on_its_file_and_redoes_a_miss_measured(tmp_path, monkeypatch):
    """A PCM export's search trusts its estimate (no measured pass): the written file is measured
    anyway.  An estimate that strays (forced 0.3 LU off here) gives a file that misses; the export
    then masters again with every step measured, and the file meets the target and the ceiling."""
    rate = 44100
    x = _signal("score", rate)
    calls = []
    real_master, real_estimate = _master.master, _master.Mastered.estimate
    monkeypatch.setattr(_master, "master", lambda *a, **k: calls.append(k.get("verify", True)) or real_master(*a, **k))
    import nodes.io._encode as enc
    monkeypatch.setattr(enc, "master", _master.master)
    loud = []
    real_loudness = _master.Mastered.loudness
    monkeypatch.setattr(_master.Mastered, "loudness", lambda self, g=None, limit=True: loud.append(limit and self.limiting(
        self.gain if g is None else g)) or real_loudness(self, g, limit))
    y, r = _export(tmp_path, x, rate, loudness_lufs=-9.0, peak_db=-1.0, bit_depth="pcm24")
    assert calls == [False] and not any(loud)            # estimated, not measured: the file said it is right
    assert _reference_lufs(y, r) == pytest.approx(-9.0, abs=0.05)

    calls.clear()
    monkeypatch.setattr(_master.Mastered, "estimate", lambda self, g: real_estimate(self, g) + 0.3 if self.limiting(g)
                        and not self.verify else real_estimate(self, g))
    y, r = _export(tmp_path, x, rate, loudness_lufs=-9.0, peak_db=-1.0, bit_depth="pcm24")
    assert calls == [False, True]                        # the file missed: mastered again, measured
    assert _reference_lufs(y, r) == pytest.approx(-9.0, abs=0.05)
    meter = TruePeakMeter(r, y.shape[0])
    meter.add(y)
    meter.finish()
    assert 20 * np.log10(meter.true_peak()) <= -1.0
