"""The export's meter (nodes/io/_loudness.py) against the standards' own test signals and against the
reference implementation, libebur128 (through pyebur128): integrated loudness, loudness range and
true peak, for several sample rates and channel layouts, fed whole or in odd-sized blocks."""
from __future__ import annotations

import numpy as np
import pytest

from nodes.io._loudness import LoudnessMeter, TruePeakMeter, channel_weights, measure

pyebur128 = pytest.importorskip("pyebur128")

# tolerances: EBU Tech 3341/3342 compliance, and agreement with libebur128 (the figures)
TOL = {"tech3341_lu": 0.1, "tech3342_lra_lu": 1.0, "ref_lu": 0.05, "ref_lra_lu": 0.05, "ref_tp_db": 0.2,
       "tech3341_tp_db": (0.4, 0.2)}      # true peak: -0.4 / +0.2 dB (Tech 3341, section 2.9)


def tone(levels: list[tuple[float, float]], rate: int = 48000, channels: int = 2, freq: float = 1000.0) -> np.ndarray:
    """1 kHz sine in ``channels`` channels, a sequence of ``(dBFS, seconds)`` segments (Tech 3341/3342)."""
    parts = []
    for db, seconds in levels:
        n = round(seconds * rate)
        parts.append(10 ** (db / 20) * np.sin(2 * np.pi * freq * np.arange(n) / rate))
    return np.tile(np.concatenate(parts), (channels, 1))


def reference(x: np.ndarray, rate: int, channel_map: list | None = None) -> tuple[float, float, float]:
    """libebur128's (integrated LUFS, LRA LU, true peak dBTP) of ``x[channels, frames]``."""
    mode = pyebur128.MeasurementMode
    state = pyebur128.R128State(x.shape[0], rate, mode.MODE_I | mode.MODE_LRA | mode.MODE_TRUE_PEAK)
    for i, kind in enumerate(channel_map or []):
        state.set_channel(i, kind)
    state.add_frames(np.ascontiguousarray(x.T, np.float64).ravel(), x.shape[1])
    tp = max(pyebur128.get_true_peak(state, c) for c in range(x.shape[0]))
    return pyebur128.get_loudness_global(state), pyebur128.get_loudness_range(state), 20 * np.log10(tp)


def music(rate: int, channels: int, seconds: float = 12.0, seed: int = 0) -> np.ndarray:
    """Music-like: a chord of saw-ish tones, a kick every 0.5 s, hats, a quiet intro and a loud chorus
    (so LRA is not zero), different on every channel."""
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    t = np.arange(n) / rate
    out = np.empty((channels, n))
    for c in range(channels):
        x = sum(0.1 * ((f * (1 + 0.01 * c) * t) % 1.0 - 0.5) for f in (110.0, 138.6, 164.8, 220.0))
        x = x + 0.05 * rng.standard_normal(n) * (np.sin(2 * np.pi * 4 * t) > 0.7)
        kick_t = t % 0.5
        x = x + 0.6 * np.sin(2 * np.pi * 55 * kick_t) * np.exp(-kick_t * 15)
        x *= np.where(t < seconds / 3, 0.15, 1.0)
        out[c] = x
    return out / np.abs(out).max() * 0.9


# ---------------------------------------------------------------------------------------- EBU Tech 3341
@pytest.mark.parametrize("case,levels,expected", [
    (1, [(-23.0, 20.0)], -23.0),
    (2, [(-33.0, 20.0)], -33.0),
    (3, [(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)], -23.0),
    (4, [(-72.0, 10.0), (-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0), (-72.0, 10.0)], -23.0),
    (5, [(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)], -23.0),
])
def test_tech_3341_integrated_cases(case, levels, expected):
    assert measure(tone(levels), 48000).integrated_lufs == pytest.approx(expected, abs=TOL["tech3341_lu"])


@pytest.mark.parametrize("channels", [5, 6, 8])
def test_tech_3341_case_6_surround_with_the_lfe_excluded(channels):
    """Case 6: 5.0 at L,R -28, C -24, Ls,Rs -30 dBFS reads -23 LUFS; a 5.1 file (WAV order L R C LFE
    Ls Rs) reads the same however loud its LFE, and 7.1 adds its back pair at the surround weight."""
    levels = {5: [-28, -28, -24, -30, -30], 6: [-28, -28, -24, 0, -30, -30], 8: [-28, -28, -24, 0, -33, -33, -33, -33]}
    x = np.concatenate([tone([(db, 20.0)], channels=1) for db in levels[channels]])
    assert measure(x, 48000).integrated_lufs == pytest.approx(-23.0, abs=TOL["tech3341_lu"])


@pytest.mark.parametrize("freq_div,phase_deg,sample_peak_db,true_peak_db", [
    (4, 0.0, -6.0, -6.0),        # fs/4, samples on the crests
    (4, 45.0, -6.0, -2.99),      # fs/4, 45 degrees: crests between samples (+3.01 dB)
    (4, 45.0, 0.0, 3.01),        # ... at 0 dBFS sample peak: +3.01 dBTP
    (6, 60.0, -6.0, -4.75),      # fs/6, 60 degrees: samples at 0.866 of the crest
])
def test_tech_3341_true_peak_of_sines_between_samples(freq_div, phase_deg, sample_peak_db, true_peak_db):
    rate = 48000
    n = np.arange(rate * 2)
    s = np.sin(2 * np.pi * n / freq_div + np.radians(phase_deg))
    s *= np.minimum(1.0, np.minimum(n, n[::-1]) / 480)   # 10 ms fades: an abrupt start overshoots between samples
    x = np.tile(s * 10 ** (sample_peak_db / 20) / np.abs(s).max(), (2, 1))
    m = measure(x, rate)
    low, high = TOL["tech3341_tp_db"]
    assert true_peak_db - low <= m.true_peak_dbtp <= true_peak_db + high
    assert m.sample_peak_dbfs == pytest.approx(sample_peak_db, abs=1e-6)


# ---------------------------------------------------------------------------------------- EBU Tech 3342
@pytest.mark.parametrize("levels,expected", [
    ([(-20.0, 20.0), (-30.0, 20.0)], 10.0),
    ([(-20.0, 20.0), (-15.0, 20.0)], 5.0),
    ([(-40.0, 20.0), (-20.0, 20.0)], 20.0),
    ([(-50.0, 20.0), (-35.0, 20.0), (-20.0, 20.0), (-35.0, 20.0), (-50.0, 20.0)], 15.0),
])
def test_tech_3342_loudness_range_cases(levels, expected):
    assert measure(tone(levels), 48000).lra_lu == pytest.approx(expected, abs=TOL["tech3342_lra_lu"])


# ---------------------------------------------------------------------------------------- libebur128
@pytest.mark.parametrize("rate", [16000, 44100, 48000, 96000])
@pytest.mark.parametrize("channels", [1, 2, 6])
def test_matches_libebur128(rate, channels):
    x = music(rate, channels, seed=rate + channels)
    m = measure(x, rate)
    integrated, lra, tp = reference(x, rate)
    assert m.integrated_lufs == pytest.approx(integrated, abs=TOL["ref_lu"])
    assert m.lra_lu == pytest.approx(lra, abs=TOL["ref_lra_lu"])
    assert m.true_peak_dbtp == pytest.approx(tp, abs=TOL["ref_tp_db"])


def test_7_1_matches_libebur128_with_its_back_pair_mapped_as_surrounds():
    rate = 48000
    x = music(rate, 8, seconds=6.0)
    ch = pyebur128.ChannelType
    layout = [ch.LEFT, ch.RIGHT, ch.CENTER, ch.UNUSED, ch.LEFT_SURROUND, ch.RIGHT_SURROUND,
              ch.LEFT_SURROUND, ch.RIGHT_SURROUND]
    assert measure(x, rate).integrated_lufs == pytest.approx(reference(x, rate, layout)[0], abs=TOL["ref_lu"])
    assert list(channel_weights(8)) == [1.0, 1.0, 1.0, 0.0, 1.41, 1.41, 1.41, 1.41]


def test_the_old_meter_read_low_and_this_one_does_not():
    """pyloudnorm's fixed biquads read 0.04 (48k) to 0.11 LU (16k) below libebur128; this meter does not."""
    pyloudnorm = pytest.importorskip("pyloudnorm")
    for rate in (16000, 48000):
        x = music(rate, 2, seconds=6.0)
        ref = reference(x, rate)[0]
        assert pyloudnorm.Meter(rate).integrated_loudness(x.T.copy()) < ref - 0.03
        assert measure(x, rate).integrated_lufs == pytest.approx(ref, abs=1e-6)


# ---------------------------------------------------------------------------------------- streaming
def test_meters_do_not_depend_on_the_block_size():
    rate = 44100
    x = music(rate, 2, seconds=5.0)
    results = []
    for size in (x.shape[1], 4410, 997, 31):
        loud, tp = LoudnessMeter(rate, 2), TruePeakMeter(rate, 2)
        env = []
        for a in range(0, x.shape[1], size):
            loud.add(x[:, a:a + size])
            part = tp.add(x[:, a:a + size])
            env += [] if part is None else [part]
        env.append(tp.finish())
        results.append((loud.energies(), np.concatenate(env), tp.true_peak()))
    for energies, env, peak in results[1:]:
        np.testing.assert_allclose(energies, results[0][0], rtol=1e-9)
        # the interpolator is a float32 matrix product (65-term sums) whose rounding may differ by a few
        # units in the last place of the terms with the product's shape (BLAS kernels for edge rows): relative
        # to the clip's peak, not to a value the sum cancels down to (a fresh install saw 1.04e-6 at 0.0076)
        np.testing.assert_allclose(env, results[0][1], rtol=1e-6, atol=1e-6 * float(np.abs(results[0][1]).max()))
        assert peak == pytest.approx(results[0][2], rel=1e-6, abs=0)
    assert len(results[0][1]) == x.shape[1]          # one envelope value per frame
