"""dsp.gain, dsp.fade, dsp.trim, dsp.concat, dsp.mix and dsp.channels."""
from __future__ import annotations

import numpy as np
import pytest

from tests.nodes._signals import noise, rms_db, sine
from nodeflow.audio import Audio
from nodeflow.errors import AudioError, ParameterError
from nodes.dsp.basic import channels, concat, fade, gain, mix, trim
from nodes.dsp.crossfade import crossfade

RATE = 32000


# ---------------------------------------------------------------------------------------- gain
@pytest.mark.parametrize("gain_db", [-60.0, -6.0, 0.0, 3.5, 24.0])
def test_gain_changes_level_by_the_asked_decibels(gain_db):
    x = noise(0.2, RATE, rms=0.01, channels=2)
    y = gain.fn(x, gain_db=gain_db)
    assert rms_db(y.samples) - rms_db(x.samples) == pytest.approx(gain_db, abs=1e-4)


def test_gain_keeps_window_placement():
    w = noise(0.1, RATE).replace(start_frame=640, index=4, tokens=5, overlap_frames=64)
    y = gain.fn(w, gain_db=-3.0)
    assert (y.start_frame, y.index, y.tokens, y.overlap_frames) == (640, 4, 5, 64)


# ---------------------------------------------------------------------------------------- fade
@pytest.mark.parametrize("curve", ["linear", "equal_power"])
def test_fades_start_and_end_silent_and_leave_the_middle_alone(curve):
    x = Audio(np.ones((2, RATE)), RATE)
    y = fade.fn(x, fade_in_s=0.25, fade_out_s=0.5, curve=curve).samples
    assert not y[:, 0].any() and not y[:, -1].any()
    np.testing.assert_array_equal(y[:, 8000:16000], 1.0)
    assert np.all(np.diff(y[0, :8000]) >= 0) and np.all(np.diff(y[0, 16000:]) <= 0)


@pytest.mark.parametrize("curve", ["linear", "equal_power"])
@pytest.mark.parametrize("frames,fade_in_s,fade_out_s", [(10, 0.003, 0.004), (1000, 0.5, 0.7), (200_001, 3.0, 0.4),
                                                          (200_001, 150.0, 100.0), (200_001, 0.0, 200.001)])
def test_fade_in_blocks_equals_one_whole_clip_envelope(curve, frames, fade_in_s, fade_out_s):
    """Only the fades are computed (no full-length float64 envelope), bit-identical to one envelope."""
    from nodes.dsp._curves import fade_in_gain, fade_out_gain
    x = Audio(np.random.default_rng(frames).standard_normal((2, frames)).astype(np.float32), 1000)
    n_in, n_out = x.frames_at(fade_in_s), x.frames_at(fade_out_s)
    env = np.ones(frames)
    env[:n_in] *= fade_in_gain(n_in, curve)
    env[frames - n_out:] *= fade_out_gain(n_out, curve)
    got = fade.fn(x, fade_in_s=fade_in_s, fade_out_s=fade_out_s, curve=curve).samples
    assert np.array_equal(got, (x.samples * env).astype(np.float32))


def test_equal_power_fade_is_louder_halfway_than_linear():
    x = Audio(np.ones(1000), 1000)
    lin = fade.fn(x, fade_in_s=1.0, curve="linear").samples[0, 500]
    pow_ = fade.fn(x, fade_in_s=1.0, curve="equal_power").samples[0, 500]
    assert lin == pytest.approx(0.5) and pow_ == pytest.approx(np.sqrt(0.5))


def test_fade_longer_than_the_clip_is_an_error():
    with pytest.raises(ParameterError, match=r"fade_out_s=2 exceeds input length 1.000 s"):
        fade.fn(noise(1.0, RATE), fade_out_s=2.0)


# ---------------------------------------------------------------------------------------- trim
def test_trim_keeps_the_asked_span_and_moves_placement():
    x = noise(2.0, RATE).replace(start_frame=100, overlap_frames=8000)
    y = trim.fn(x, start_s=0.125, end_s=1.5)
    assert y.frames == RATE * 3 // 2 - 4000
    np.testing.assert_array_equal(y.samples, x.samples[:, 4000:48000])
    assert (y.start_frame, y.overlap_frames) == (4100, 4000)


def test_trim_end_past_the_clip_or_unset_goes_to_the_end():
    x = noise(1.0, RATE)
    assert trim.fn(x, start_s=0.5).frames == trim.fn(x, start_s=0.5, end_s=9.0).frames == RATE // 2


@pytest.mark.parametrize("params, needle", [
    (dict(start_s=1.0), "start_s=1 is at or beyond the input length 1.000 s"),
    (dict(start_s=0.5, end_s=0.5), "end_s=0.5 is not after start_s=0.5"),
])
def test_trim_errors(params, needle):
    with pytest.raises(ParameterError, match=needle):
        trim.fn(noise(1.0, RATE), **params)


# ---------------------------------------------------------------------------------------- concat
def test_concat_with_a_gap_of_silence():
    a, b = noise(0.5, RATE, seed=1), noise(0.25, RATE, seed=2)
    y = concat.fn(a, b, gap_s=0.1)
    assert y.frames == a.frames + 3200 + b.frames
    np.testing.assert_array_equal(y.samples[:, :a.frames], a.samples)
    assert not y.samples[:, a.frames:a.frames + 3200].any()
    np.testing.assert_array_equal(y.samples[:, a.frames + 3200:], b.samples)


def test_concat_conforms_both_to_the_higher_rate():
    y = concat.fn(noise(0.5, RATE, channels=2), sine(440.0, 0.5, 44100))
    assert (y.sample_rate, y.channels, y.frames) == (44100, 2, 44100)


def _sine(freq: float, start: int, frames: int, rate: int, channels: int = 1) -> np.ndarray:
    x = 0.4 * np.sin(2 * np.pi * freq * (start + np.arange(frames)) / rate + 1.2)
    return np.repeat(x[None, :], channels, axis=0)


@pytest.mark.parametrize("rates", [(22050, 48000), (48000, 22050), (44100, 32000)])
def test_a_piece_cut_in_two_at_two_rates_joins_whole_through_files(tmp_path, rates):
    """A 55 Hz sine, its first second a 22.05 kHz mono file and the rest a 48 kHz stereo one, joined by
    concat and written as float: around the seam the file is the whole sine at 48 kHz (within 1e-4),
    with no step larger than the sine's own.  Resampled each on its own, the clip jumped by 0.2 there
    (its end rang against a hard edge)."""
    import soundfile as sf
    from nodeflow import Executor, Graph
    ra, rb = rates
    out_rate = max(ra, rb)
    sf.write(tmp_path / "a.wav", _sine(55.0, 0, ra, ra)[0], ra, subtype="FLOAT")
    sf.write(tmp_path / "b.wav", _sine(55.0, rb, rb, rb, channels=2).T, rb, subtype="FLOAT")
    g = Graph()
    a, b = g.add("io.load", path=str(tmp_path / "a.wav")), g.add("io.load", path=str(tmp_path / "b.wav"))
    c = g.add("dsp.concat")
    e = g.add("io.export", path="joined.wav", bit_depth="float32", peak_db=0.0)
    g.connect(a.out, c.a)
    g.connect(b.out, c.b)
    g.connect(c.out, e.audio)
    Executor().run(g, output_dir=tmp_path / "out")
    y, rate = sf.read(tmp_path / "out" / "joined.wav", dtype="float64", always_2d=True)
    assert rate == out_rate and y.shape == (2 * out_rate, 2)
    seam = slice(out_rate - out_rate // 100, out_rate + out_rate // 100)      # 20 ms around it
    ideal = _sine(55.0, 0, 2 * out_rate, out_rate)[0]
    assert np.abs(y[seam, 0] - ideal[seam]).max() < 1e-4
    assert np.abs(np.diff(y[seam, 0])).max() <= np.abs(np.diff(ideal)).max() * 1.01


@pytest.mark.parametrize("rate", [44100, 22050])
def test_two_halves_at_one_rate_join_whole_at_a_project_rate(rate):
    """Both halves of a 55 Hz sine at 44.1 kHz, joined in a graph whose project rate is 48 kHz, stepped
    0.056 at the seam (each resampled alone): the seamless join ran only when the two rates differed."""
    from nodeflow import Graph
    from nodeflow.node import Context
    g = Graph()
    g.metadata["sample_rate"] = 48000
    y = concat.fn(Audio(_sine(55.0, 0, rate, rate), rate), Audio(_sine(55.0, rate, rate, rate), rate),
                  ctx=Context(graph=g))
    ideal = _sine(55.0, 0, 96000, 48000)[0]
    seam = slice(48000 - 480, 48000 + 480)
    assert y.sample_rate == 48000 and np.abs(y.samples[0, seam] - ideal[seam]).max() < 1e-4


@pytest.mark.parametrize("join", [mix, concat, crossfade])
def test_joins_never_go_down_to_the_lower_rate(join):
    """The shipped espeak example mixed a 44.1 kHz loop with 22.05 kHz speech and got 22.05 kHz."""
    speech, loop = sine(300.0, 1.0, 22050), noise(1.0, 44100, seed=2, channels=2)
    for a, b in ((speech, loop), (loop, speech)):
        y = join.fn(a, b)
        assert (y.sample_rate, y.channels) == (44100, 2)


def test_a_graph_project_rate_wins_over_both_inputs():
    from nodeflow import Graph
    from nodeflow.node import Context
    g = Graph()
    g.metadata["sample_rate"] = 48000
    y = mix.fn(sine(440.0, 0.5, 44100), sine(220.0, 0.5, 32000), ctx=Context(graph=g))
    assert (y.sample_rate, y.frames) == (48000, 24000)


# ---------------------------------------------------------------------------------------- mix
def test_mix_is_as_long_as_the_longer_input_and_applies_gains():
    a, b = Audio(np.full(100, 0.5), 1000), Audio(np.full(300, 0.5), 1000)
    y = mix.fn(a, b, gain_a_db=0.0, gain_b_db=-6.0206)
    assert y.frames == 300
    np.testing.assert_allclose(y.samples[0, :100], 0.75, atol=1e-6)
    np.testing.assert_allclose(y.samples[0, 100:], 0.25, atol=1e-6)


def test_mixing_a_signal_with_its_inverse_is_silence():
    x = noise(0.5, RATE, seed=5, channels=2)
    assert not mix.fn(x, x.replace(-x.samples)).samples.any()


def test_mix_conforms_b():
    y = mix.fn(Audio(np.zeros((2, 4800)), 48000), sine(440.0, 0.2, 24000))
    assert (y.sample_rate, y.channels, y.frames) == (48000, 2, 9600)


@pytest.mark.parametrize("join", [mix, concat])
def test_a_mono_first_input_joins_a_stereo_second_as_stereo(join):
    # the README's branch example mixes a mono melody with a stereo loop (it used to be refused)
    a = sine(440.0, 0.25, 44100)
    b = Audio(np.zeros((2, 11025)), 44100).replace(np.vstack([noise(0.25, 44100, seed=3).samples, np.zeros((1, 11025))]))
    y = join.fn(a, b)
    assert (y.sample_rate, y.channels) == (44100, 2)
    assert y.frames == (11025 if join is mix else 22050)
    # the melody sits on both sides at its own level; the loop's silent right side stays the melody alone
    head = y.samples[:, :11025]
    np.testing.assert_allclose(head[1], a.samples[0], atol=1e-7)
    assert abs(rms_db(head[1]) - rms_db(a.samples)) < 0.01
    if join is concat:
        np.testing.assert_array_equal(head[0], head[1])
        np.testing.assert_array_equal(y.samples[:, 11025:], b.samples)


def test_two_multichannel_inputs_that_differ_are_still_refused():
    with pytest.raises(AudioError, match="mix: a has 3, mix: b has 2 channels"):
        mix.fn(Audio(np.zeros((3, 100)), 1000), Audio(np.zeros((2, 100)), 1000))


# ---------------------------------------------------------------------------------------- channels
STEREO = Audio(np.array([[0.5, 0.5, 0.5], [0.1, 0.2, 0.3]]), 1000)
MONO = Audio(np.array([0.1, 0.2, 0.3]), 1000)


@pytest.mark.parametrize("source, mode, expected", [
    (STEREO, "mono", [[0.3, 0.35, 0.4]]),
    (STEREO, "stereo", STEREO.samples.tolist()),
    (STEREO, "left", [[0.5, 0.5, 0.5]]),
    (STEREO, "right", [[0.1, 0.2, 0.3]]),
    (STEREO, "swap", [[0.1, 0.2, 0.3], [0.5, 0.5, 0.5]]),
    (MONO, "mono", [[0.1, 0.2, 0.3]]),
    (MONO, "stereo", [[0.1, 0.2, 0.3], [0.1, 0.2, 0.3]]),
    (MONO, "left", [[0.1, 0.2, 0.3]]),
    (MONO, "right", [[0.1, 0.2, 0.3]]),
    (MONO, "swap", [[0.1, 0.2, 0.3]]),
])
def test_channel_modes(source, mode, expected):
    np.testing.assert_allclose(channels.fn(source, mode=mode).samples, expected, atol=1e-7)


def test_mono_of_many_channels_is_their_average():
    x = Audio(np.arange(6.0).reshape(6, 1) * np.ones((6, 4)), 1000)
    np.testing.assert_allclose(channels.fn(x, mode="mono").samples, 2.5)


@pytest.mark.parametrize("mode", ["stereo", "left", "right", "swap"])
def test_channel_modes_other_than_mono_need_one_or_two_channels(mode):
    with pytest.raises(AudioError, match=f"mode={mode} needs a mono or stereo input; got 6 channels"):
        channels.fn(Audio(np.zeros((6, 10)), 1000), mode=mode)


def test_trim_keeps_the_cut_placed_in_its_source_and_its_markers():
    x = Audio(np.zeros(1000), 1000).replace(start_frame=5000, markers=((100, "bar 2"), (600, "bar 3")))
    y = trim.fn(x, start_s=0.2, end_s=0.9)
    assert (y.start_frame, y.markers) == (5200, ((400, "bar 3"),))


def test_changing_the_graph_project_rate_re_runs_the_joins(tmp_path):
    import soundfile as sf

    from nodeflow import Executor, Graph
    sf.write(tmp_path / "a.wav", sine(440.0, 0.5, 22050).samples.T, 22050)
    sf.write(tmp_path / "b.wav", sine(220.0, 0.5, 44100).samples.T, 44100)
    g = Graph()
    a, b = g.add("io.load", path=str(tmp_path / "a.wav")), g.add("io.load", path=str(tmp_path / "b.wav"))
    m = g.add("dsp.mix")
    g.connect(a.out, m.a)
    g.connect(b.out, m.b)
    ex = Executor()
    assert ex.run(g)[m.id]["out"].sample_rate == 44100            # the higher rate, not the first input's
    g.metadata["sample_rate"] = 48000
    res = ex.run(g)
    assert res[m.id]["out"].sample_rate == 48000 and m.id in res.ran and a.id in res.cached


def test_validate_says_a_trim_start_far_past_the_end(tmp_path):
    """QA: dsp.trim start_s=1e308 passed validate (its estimate overflowed) and was refused by the run."""
    import soundfile as sf

    from nodeflow import Graph
    sf.write(tmp_path / "a.wav", np.zeros((48000, 2), np.float32), 48000)
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "a.wav"))
    g.add("dsp.trim", id="trim", start_s=1e308)
    g.connect("load", "trim")
    assert any("start_s=1e+308 is at or beyond the input length 1.000 s" in p for p in g.problems()), g.problems()


@pytest.mark.parametrize("join", ["concat", "mix", "crossfade"])
def test_clips_in_two_tempi_joined_carry_no_tempo_and_say_so(join):
    """QA45: 141 bpm 7/8 joined to 87.3 bpm 3/4 was tagged 141 bpm 7/8 throughout (the export wrote it,
    and a DAW laid that grid over the second half); one tempo on one side, or the same on both, is kept."""
    fast = sine(440.0, 2.0, 44100).with_info(bpm="141", meter="7/8")
    said: list[str] = []

    class Ctx:                          # what the node uses of its run's context
        graph = None

        def warn(self, message: str) -> None:
            said.append(message)

        def check_cancelled(self) -> None:
            pass
    fn = {"concat": concat.fn, "mix": mix.fn, "crossfade": crossfade.fn}[join]
    slow = sine(330.0, 2.0, 44100).with_info(bpm="87.3", meter="3/4")
    out = fn(fast, slow, ctx=Ctx())
    assert "bpm" not in dict(out.info) and "meter" not in dict(out.info)
    assert said == ["a is at 141 bpm 7/8 and b at 87.3 bpm 3/4: the joined clip carries no tempo or meter (an "
                    "export writes none); set bpm= and meter= on the export to tag one"]
    said.clear()
    for other in (sine(330.0, 2.0, 44100), slow.with_info(bpm="141.0", meter="7/8")):
        assert dict(fn(fast, other, ctx=Ctx()).info) == {"bpm": "141", "meter": "7/8"} and said == []
