"""dsp.resample and the shared resample/conform helpers."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.nodes._signals import QUALITY_TOL, TOL, noise, rms_db, sine, sine_samples, snr_db
from nodeflow.audio import Audio
from nodeflow.errors import AudioError, ParameterError
from nodeflow.timebase import PROFILES
from nodes.dsp._conform import conform, resample_audio, scale_frames
from nodes.dsp.resample import resample

RATE_PAIRS = [(44100, 32000), (48000, 32000), (32000, 48000), (22050, 24000), (44100, 24000), (8000, 44100)]
LENGTHS_S = [0.25, 1.3]


def _interior(x: np.ndarray, rate: int) -> np.ndarray:
    """Drop 20 ms at both ends, where any resampler's filter sees the edge of the clip."""
    edge = rate // 50
    return x[..., edge:x.shape[-1] - edge]


@pytest.mark.parametrize("src, dst", RATE_PAIRS)
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("seconds", LENGTHS_S)
def test_tone_keeps_level_and_matches_tone_generated_at_target_rate(src, dst, channels, seconds):
    x = Audio(sine_samples(1000.0, round(seconds * src) + 7, src, channels=channels), src)
    y = resample.fn(x, rate_hz=dst)
    assert y.sample_rate == dst
    assert y.channels == channels
    assert y.frames == round(x.frames * dst / src)
    reference = sine_samples(1000.0, y.frames, dst, channels=channels)
    got, want = _interior(y.samples, dst), _interior(reference, dst)
    assert abs(rms_db(got) - rms_db(want)) < TOL["passband_db"]
    assert snr_db(got, want) > TOL["resample_snr_db"]


@pytest.mark.parametrize("quality", list(QUALITY_TOL))
def test_every_quality_passes_an_in_band_tone(quality):
    level_tol, min_snr = QUALITY_TOL[quality]
    x = sine(1000.0, 0.5, 44100)
    y = resample.fn(x, rate_hz=32000, quality=quality)
    reference = sine_samples(1000.0, y.frames, 32000)
    got, want = _interior(y.samples, 32000), _interior(reference, 32000)
    assert abs(rms_db(got) - rms_db(want)) < level_tol
    assert snr_db(got, want) > min_snr


def test_tone_above_the_new_nyquist_is_removed():
    y = resample.fn(sine(20000.0, 0.5, 48000), rate_hz=32000)
    assert rms_db(_interior(y.samples, 32000)) < -90.0


def test_resampling_does_not_depend_on_where_the_clip_was_cut():
    x = noise(2.0, 44100, seed=3, channels=2)
    whole = resample_audio(x, 32000).samples
    start, length = 441 * 50, 441 * 80          # 441 frames at 44.1 kHz are exactly 320 at 32 kHz
    part = resample_audio(x.replace(x.samples[:, start:start + length]), 32000).samples
    same_span = whole[:, 320 * 50:320 * 50 + part.shape[1]]
    edge = 100
    assert np.abs(part[:, edge:-edge] - same_span[:, edge:-edge]).max() < TOL["segment_invariance"]


def test_channels_are_resampled_independently():
    x = noise(0.5, 48000, seed=4, channels=2)
    both = resample_audio(x, 24000).samples
    for c in range(2):
        alone = resample_audio(Audio(x.samples[c], 48000), 24000).samples[0]
        np.testing.assert_array_equal(both[c], alone)


@pytest.mark.parametrize("profile", ["musicgen", "musicgen_melody", "bark"])
def test_profile_sets_the_model_rate_and_overrides_rate_hz(profile):
    y = resample.fn(sine(440.0, 0.2, 44100), rate_hz=96000, profile=profile)
    assert y.sample_rate == PROFILES[profile].sample_rate


def test_same_rate_returns_the_input_itself():
    x = sine(440.0, 0.1, 32000)
    assert resample.fn(x, rate_hz=32000) is x


def test_window_placement_is_scaled_to_the_new_rate():
    x = noise(0.5, 44100, seed=5).replace(start_frame=441_000, index=3, tokens=25, overlap_frames=4410)
    y = resample.fn(x, rate_hz=32000)
    assert (y.start_frame, y.overlap_frames, y.index, y.tokens) == (320_000, 3200, 3, 25)


def test_empty_clip_resamples_to_empty_clip():
    y = resample_audio(Audio(np.zeros((2, 0)), 44100), 32000)
    assert y.samples.shape == (2, 0) and y.sample_rate == 32000


def test_scale_frames_is_exact():
    assert scale_frames(44100 * 3600, 44100, 32000) == 32000 * 3600
    assert scale_frames(1, 3, 2) == 1   # 2/3 rounds to 1


@pytest.mark.parametrize("rate, quality, needle", [(0, "HQ", "rate=0"), (32000.5, "HQ", "rate=32000.5"),
                                                   (32000, "best", "quality='best'")])
def test_resample_audio_rejects_bad_arguments(rate, quality, needle):
    with pytest.raises(ParameterError, match=needle):
        resample_audio(sine(440.0, 0.1, 44100), rate, quality)


def test_conform_matches_rate_and_spreads_mono():
    a = Audio(np.zeros((2, 4800)), 48000)
    b = conform(a, sine(440.0, 0.1, 44100))
    assert (b.sample_rate, b.channels, b.frames) == (48000, 2, 4800)
    np.testing.assert_array_equal(b.samples[0], b.samples[1])


def test_conform_refuses_to_guess_a_channel_mapping():
    a = Audio(np.zeros((2, 100)), 32000)
    with pytest.raises(AudioError, match="3 channels, expected 2.*dsp.channels"):
        conform(a, Audio(np.zeros((3, 100)), 32000))


# ---------------------------------------------------------------- streaming into the output
def _one_shot(x: Audio, rate: int, quality: str) -> np.ndarray:
    """What a single ``soxr.resample`` call gives, trimmed or zero-padded to the node's length."""
    import soxr
    y = soxr.resample(np.ascontiguousarray(x.samples.T), x.sample_rate, rate, quality=quality).T
    frames = scale_frames(x.frames, x.sample_rate, rate)
    return np.pad(y[:, :frames], ((0, 0), (0, max(0, frames - y.shape[1]))))


@pytest.mark.parametrize("src, dst", [(48000, 44100), (44100, 32000), (22050, 48000), (8000, 44100)])
@pytest.mark.parametrize("quality", ["QQ", "HQ", "VHQ"])
@pytest.mark.parametrize("frames", [1, 37, 131072, 131073, 131072 * 2 + 5])  # one call; streamed in blocks
def test_streamed_resampling_equals_one_shot_soxr(src, dst, quality, frames):
    x = Audio(noise(frames / src + 1, src, seed=frames, channels=3).samples[:, :frames], src)
    y = resample_audio(x, dst, quality)
    want = _one_shot(x, dst, quality)
    assert y.samples.shape == want.shape
    np.testing.assert_allclose(y.samples, want, rtol=0, atol=1e-7)


@pytest.mark.parametrize("block", [1000, 4096, 50_001])
def test_resampling_does_not_depend_on_the_block_size(monkeypatch, block):
    import nodes.dsp._conform as conform_mod
    x = noise(3.0, 44100, seed=8, channels=2)
    whole = resample_audio(x, 48000).samples
    monkeypatch.setattr(conform_mod, "_BLOCK_FRAMES", block)
    np.testing.assert_allclose(resample_audio(x, 48000).samples, whole, rtol=0, atol=1e-7)


_PEAK_SCRIPT = """
import resource, sys
import numpy as np
from nodeflow.audio import Audio
from nodes.dsp._conform import resample_audio
buf = np.empty((2, 48000 * 150), np.float32)
rng = np.random.default_rng(0)
for i in range(0, buf.shape[1], 1 << 18):
    buf[:, i:i + (1 << 18)] = rng.standard_normal((2, buf[:, i:i + (1 << 18)].shape[1]), dtype=np.float32) * 0.1
x = Audio(buf, 48000)
del buf
resample_audio(Audio(x.samples[:, :4800], 48000), 44100)   # soxr's own set-up, outside the measure
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
y = resample_audio(x, 44100)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before) / y.samples.nbytes)
"""


def test_resampling_a_long_clip_allocates_about_one_output(tmp_path):
    """2.5 min of stereo: the peak grows by ~the output alone (no interleaved or transposed full copies)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    r = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT], capture_output=True, text=True, check=True,
                       cwd=str(tmp_path), env=env)
    growth = float(r.stdout.strip().splitlines()[-1])
    assert growth < 1.5, f"resampling grew the peak by {growth:.2f}x the output size"


def test_a_cancelled_run_stops_a_long_resample_between_blocks():
    """An hour of audio must not hold a cancelled run for the whole soxr pass: it stops within a block."""
    import threading

    from nodeflow.errors import Cancelled
    from nodeflow.node import Context
    from nodes.dsp import _conform
    from nodes.dsp.resample import resample
    stop = threading.Event()
    blocks = []

    def check():
        blocks.append(1)
        if len(blocks) == 3:
            stop.set()
        ctx.check_cancelled()

    ctx = Context("rs", cancel_event=stop)
    x = Audio(np.zeros((2, 10 * _conform._BLOCK_FRAMES), np.float32), 48000)
    with pytest.raises(Cancelled):
        _conform.resample_audio(x, 32000, "HQ", check)
    assert len(blocks) == 3                      # stopped at the third block, not after all twenty
    stop.clear()
    ok = resample.fn(x, rate_hz=32000, ctx=Context("rs", cancel_event=stop))
    assert ok.frames == round(x.frames * 32000 / 48000)
    stop.set()
    with pytest.raises(Cancelled):
        resample.fn(x, rate_hz=32000, ctx=Context("rs", cancel_event=stop))


@pytest.mark.parametrize("rate", [44100, 22050, 32000])
def test_windows_resampled_one_by_one_still_tile(rate):
    """QA: 2-bar windows at 87.3 bpm cut from 48 kHz and exported at 44.1 kHz overlapped by one sample
    (start and length each rounded): window 2 ended at 159244949, window 3 started at 159244948.  Each
    window's two ends are rounded now, streamed or not."""
    from nodeflow.streaming import Stream
    from nodes.dsp._conform import resample_audio, resample_stream
    from nodes.timing.window import tokenize_window
    src = 48000
    x = noise(12.0, src, channels=2).samples
    windows = tokenize_window(Audio(x, src), unit="bars", size=2, bpm=87.3)
    out = [resample_audio(w, rate) for w in windows]
    for a, b in zip(out, out[1:]):
        assert a.start_frame + a.frames == b.start_frame
    assert sum(w.frames for w in out) == round(x.shape[1] * rate / src)
    w = windows[2]
    s = Stream.of(w, block=5000)
    streamed = resample_stream(s, rate)
    got = np.concatenate(list(streamed.blocks), axis=1)
    assert streamed.head.frames == got.shape[1] == out[2].frames
    np.testing.assert_array_equal(got, out[2].samples)


def test_a_rate_out_of_range_in_a_graph_file_is_the_one_problem_said(tmp_path, capsys):
    """QA47: a hand-edited file with resample.rate_hz=10 also had the export blamed for the 10 Hz the
    resample would have made ("set this export's sample_rate to 48000", which fixes nothing)."""
    import soundfile as sf

    from nodeflow import Graph, save
    from nodeflow.cli import main
    sf.write(tmp_path / "in.wav", sine(440, 0.5, 44100).samples.T, 44100)
    g = Graph()
    load = g.add("io.load", path=str(tmp_path / "in.wav"))
    rs = g.add("dsp.resample", rate_hz=48000, profile="custom")
    exp = g.add("io.export", path="out.wav", loudness_lufs=-14)
    g.connect(load.out, rs.audio)
    g.connect(rs.out, exp.audio)
    g.nodes[rs.id].params["rate_hz"] = 10          # as a hand-edited file holds it (the API refuses it)
    save(g, tmp_path / "g.msgpack")
    capsys.readouterr()
    assert main(["validate", str(tmp_path / "g.msgpack")]) == 1
    out = capsys.readouterr()
    problems = [line for line in (out.out + out.err).splitlines() if line.lstrip().startswith("- ")]
    assert len(problems) == 1 and "rate_hz=10 is out of range" in problems[0], problems
