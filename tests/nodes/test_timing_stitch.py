"""time.stitch: the window -> stitch law, concatenation, fixed fades and conforming."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.nodes._signals import TOL, block_rms_db, noise, sine
from nodeflow.audio import Audio
from nodeflow.errors import AudioError
from nodes.timing.stitch import SEAM_FADE_S, stitch
from nodes.timing.window import tokenize_window

RATES = [8000, 22050, 24000, 32000, 44100, 48000]
# profile settings -> tokens per second; the custom one (EnCodec 44.1 kHz, hop 512) has a
# token that is no whole number of samples at any of RATES
PROFILES = {
    "musicgen": (dict(profile="musicgen"), 50.0),
    "bark": (dict(profile="bark"), 75.0),
    "hop512": (dict(profile="custom", custom_rate_hz=44100, custom_tokens_per_s=44100 / 512,
                    custom_window_tokens=100), 44100 / 512),
}


@settings(max_examples=200, deadline=None, database=None)
@given(rate=st.sampled_from(RATES), profile=st.sampled_from(sorted(PROFILES)),
       channels=st.integers(1, 2), size_tokens=st.integers(1, 40), overlap_frac=st.floats(0.0, 0.95),
       length_tokens=st.floats(0.02, 12.0), seed=st.integers(0, 2**16))
def test_window_then_stitch_gives_back_the_input(rate, profile, channels, size_tokens, overlap_frac,
                                                 length_tokens, seed):
    overlap_tokens = min(int(size_tokens * overlap_frac), size_tokens - 1)
    settings_, tokens_per_s = PROFILES[profile]
    frames = max(1, round(length_tokens * size_tokens * rate / tokens_per_s))
    x = Audio(np.random.default_rng(seed).uniform(-1, 1, (channels, frames)), rate)
    wins = tokenize_window.fn(x, unit="tokens", size=size_tokens, overlap=overlap_tokens, **settings_)
    y = stitch.fn(wins, fade_s=0.0 if overlap_tokens == 0 else None)
    assert (y.sample_rate, y.channels, y.frames) == (rate, channels, frames)
    if overlap_tokens == 0:
        np.testing.assert_array_equal(y.samples, x.samples)
    else:
        assert np.abs(y.samples - x.samples).max() <= TOL["roundtrip"]


def test_stitch_without_overlap_and_without_fade_is_concatenation():
    parts = [noise(0.3, 32000, seed=s) for s in range(3)]
    y = stitch.fn(parts, fade_s=0.0)
    np.testing.assert_array_equal(y.samples, np.concatenate([p.samples for p in parts], axis=1))


def test_default_stitch_of_clips_without_overlap_touches_only_5_ms_around_each_seam():
    parts = [noise(0.3, 32000, seed=s) for s in range(3)]
    y = stitch.fn(parts)
    joined = np.concatenate([p.samples for p in parts], axis=1)
    assert y.frames == joined.shape[1]
    changed = np.flatnonzero(np.abs(y.samples[0] - joined[0]) > 0)
    seams = np.array([9600, 19200])
    assert np.abs(changed[:, None] - seams[None, :]).min(axis=1).max() <= 160   # 5 ms at 32 kHz


def test_windows_changed_one_by_one_still_join_without_a_gap():
    x = sine(220.0, 3.0, 32000)
    wins = tokenize_window.fn(x, size=1.0, overlap=0.25)
    quieter = [w.replace(w.samples * 0.5) for w in wins]
    y = stitch.fn(quieter)
    assert y.frames == x.frames
    np.testing.assert_allclose(y.samples, x.samples * 0.5, atol=TOL["roundtrip"])


def test_fixed_fade_between_clips_without_overlap_keeps_their_length():
    a, b = Audio(np.ones(32000), 32000), Audio(np.ones(32000), 32000)
    y = stitch.fn([a, b], fade_s=0.25)
    assert y.frames == 2 * 32000                               # centred on the seam: nothing dropped
    np.testing.assert_allclose(y.samples, 1.0, atol=1e-6)   # identical material: seamless
    assert y.markers == ((32000, "window 2"),)


def test_equal_power_stitch_keeps_noise_level_through_the_joins():
    parts = [noise(1.0, 32000, seed=s) for s in range(3)]
    y = stitch.fn(parts, fade_s=0.5, curve="equal_power")
    levels = block_rms_db(y.samples[0], 3200)
    assert np.abs(levels - (-20.0)).max() < TOL["equal_power_db"]   # 0.1 rms noise is -20 dB; 100 ms blocks


def test_fade_is_clamped_to_what_both_windows_have():
    a = Audio(np.ones(100), 1000)
    b = Audio(np.ones(40), 1000).replace(overlap_frames=500)
    y = stitch.fn([a, b])
    assert y.frames == 100


def test_windows_are_conformed_to_the_first():
    first = Audio(np.zeros((2, 4800)), 48000)
    second = sine(440.0, 0.1, 44100)       # mono, other rate
    y = stitch.fn([first, second])
    assert (y.sample_rate, y.channels, y.frames) == (48000, 2, 9600)
    np.testing.assert_array_equal(y.samples[0], y.samples[1])


def test_result_is_one_clip_placed_where_the_first_window_was():
    wins = tokenize_window.fn(noise(3.0, 32000).replace(start_frame=640), size=1.0)
    y = stitch.fn(wins)
    assert (y.start_frame, y.index, y.tokens, y.overlap_frames) == (640, 0, None, 0)


def test_empty_list_is_an_error():
    with pytest.raises(AudioError, match="windows is an empty list"):
        stitch.fn([])


def test_incompatible_channels_name_the_window():
    with pytest.raises(AudioError, match="window 0 has 2, stitch: window 1 has 3 channels"):
        stitch.fn([Audio(np.zeros((2, 10)), 1000), Audio(np.zeros((3, 10)), 1000)])


# ---------------------------------------------------------------------------------------- unchanged windows
def test_windows_nothing_changed_give_back_the_source_exactly_through_files(tmp_path, monkeypatch):
    """load -> bars -> stitch -> export (float) at 93.7 bpm, 44.1 kHz: the written file is the source,
    to the bit; a kick starts on every bar line, where the default 10 ms seam fade used to soften it
    by 3 dB (and a pad differed by -14 dBFS).  Run twice: the second run, from the cache, writes the
    same file (windows keep their edges through the disk cache: see test_diskcache)."""
    import soundfile as sf
    from nodeflow import Executor, Graph
    from tests.nodes._signals import music
    monkeypatch.setenv("AUDIOCHAIN_CACHE_DIR", str(tmp_path / "cache"))
    x = music(93.7, 4, 12.0, 44100)
    sf.write(tmp_path / "loop.wav", x.samples.T, 44100, subtype="FLOAT")
    g = Graph()
    load = g.add("io.load", path=str(tmp_path / "loop.wav"))
    win = g.add("time.tokenize_window", unit="bars", size=1, bpm=93.7, beats_per_bar=4)
    st_ = g.add("time.stitch")
    exp = g.add("io.export", path="out.wav", bit_depth="float32", peak_db=0.0, markers=False)
    g.connect(load.out, win.audio)
    g.connect(win.out, st_.windows)
    g.connect(st_.out, exp.audio)
    for run in ("first", "cached"):
        Executor().run(g, output_dir=tmp_path / run)
        y, rate = sf.read(tmp_path / run / "out.wav", dtype="float32", always_2d=True)
        assert rate == 44100
        np.testing.assert_array_equal(y.T, x.samples)


def test_a_changed_window_is_still_crossfaded_at_its_seams():
    x = sine(220.0, 3.0, 32000)
    wins = tokenize_window.fn(x, size=1.0)
    changed = [wins[0], wins[1].replace(wins[1].samples * 0.25), wins[2]]
    y = stitch.fn(changed)
    ref = np.concatenate([w.samples for w in changed], axis=1)
    differs = np.flatnonzero(np.abs(y.samples[0] - ref[0]) > 0)
    assert differs.size and np.abs(differs[:, None] - np.array([32000, 64000])[None, :]).min(axis=1).max() <= 160
    # and the unchanged windows' far edges are exact: no fade where nothing changed
    np.testing.assert_array_equal(y.samples[:, :31800], x.samples[:, :31800])


def test_windows_at_a_graph_project_rate_are_the_whole_piece_resampled():
    """Windows of a 44.1 kHz piece stitched in a graph whose project rate is 48 kHz: the result is the
    piece resampled whole, to the frame (window by window, each landed 0.3-0.4 frame off, the seams
    stepped and the piece came out a frame short)."""
    from nodeflow import Graph
    from nodeflow.node import Context
    from nodes.dsp._conform import resample_audio
    from tests.nodes._signals import music
    x = music(93.7, 4, 11.0, 44100)
    g = Graph()
    g.metadata["sample_rate"] = 48000
    wins = tokenize_window.fn(x, unit="bars", size=1, bpm=93.7, beats_per_bar=4)
    y = stitch.fn(wins, fade_s=0.0, ctx=Context(graph=g))
    whole = resample_audio(x, 48000)
    assert (y.sample_rate, y.frames) == (48000, whole.frames)
    np.testing.assert_allclose(y.samples, whole.samples, atol=1e-6)


@pytest.mark.parametrize("bpm, rate, channels", [(97.5, 44100, 2), (141.0, 48000, 1), (133.0, 96000, 2)])
def test_windows_taken_to_a_models_rate_and_back_do_not_click_at_the_seams(bpm, rate, channels):
    """QA63 D1: a sustained chord cut into 2-bar windows, each taken to MusicGen's 32 kHz and back (a
    model that changes nothing) and stitched: every seam clicked (0.17 step against the pad's 0.024,
    -12 dB above 5 kHz where the source has -91), each window having been resampled out of silence.
    Now each is resampled as part of its music: near every seam the result is the source to -54 dBFS,
    its steps are the source's own, and nothing rises above 5 kHz more than 40 dB under the click."""
    from nodes.dsp._conform import resample_audio
    t = np.arange(round(8 * 4 * 60 / bpm * rate)) / rate
    pad = sum(0.25 * np.sin(2 * np.pi * f * t + k) for k, f in enumerate((220.0, 277.18, 329.63)))
    x = Audio(np.repeat(pad[None, :], channels, axis=0), rate)
    wins = tokenize_window.fn(x, unit="bars", size=2, bpm=bpm, beats_per_bar=4)
    y = stitch.fn([resample_audio(resample_audio(w, 32000), rate) for w in wins])
    assert y.frames == x.frames
    step = np.abs(np.diff(x.samples)).max()

    def above_5k(a: np.ndarray) -> float:
        spec = np.abs(np.fft.rfft(a * np.hanning(a.size)))
        return 20 * np.log10(spec[np.fft.rfftfreq(a.size, 1 / rate) > 5000].max() + 1e-12)
    for w in wins[1:]:
        s = w.start_frame
        near = slice(s - 400, s + 400)
        assert np.abs(y.samples[:, near] - x.samples[:, near]).max() < 2e-3, s
        assert np.abs(np.diff(y.samples[:, near])).max() <= step * 1.01, s
        assert above_5k(y.samples[0, s - 512:s + 512]) < -50, s       # the click read -12 dB


def test_windows_changed_alike_keep_their_downbeats_and_reordered_ones_are_mended():
    """Windows each turned down 6 dB: a crossfade over a made-up continuation softened every downbeat's
    kick by 3-4 dB (the seams are continuous, nothing needed hiding).  Untouched windows put in another
    order no longer neighbour what they were cut next to: their cuts are mended, not left."""
    rate, beat = 44100, 60 / 93.7
    t = np.arange(round(12.0 * rate)) / rate
    loop = 0.2 * np.sin(2 * np.pi * 110 * t)                          # a pad that carries on across the bars
    for k in range(int(12.0 / beat) + 1):                               # a kick starting on every beat
        k0 = round(k * beat * rate)
        u = t[:len(t) - k0][:round(0.12 * rate)]
        loop[k0:k0 + len(u)] += 0.6 * np.sin(2 * np.pi * (50 + 80 * np.exp(-u * 40)) * u) * np.exp(-u * 25)
    x = Audio(loop, rate)
    wins = tokenize_window.fn(x, unit="bars", size=1, bpm=93.7, beats_per_bar=4)
    quieter = stitch.fn([w.replace(w.samples * 0.5) for w in wins])
    seams = [w.start_frame for w in wins[1:]]
    h = 220                                                            # 5 ms
    near = np.zeros(x.frames, bool)
    for s in seams:
        near[s - h:s + h] = True
        ref = x.samples[:, s:s + h] * 0.5
        assert abs(20 * np.log10(np.sqrt(np.mean(quieter.samples[:, s:s + h] ** 2)) / np.sqrt(np.mean(ref ** 2)))) < 0.1
        assert np.abs(quieter.samples[:, s - h:s + h] - x.samples[:, s - h:s + h] * 0.5).max() < 1e-2
    np.testing.assert_array_equal(quieter.samples[:, ~near], x.samples[:, ~near] * np.float32(0.5))   # untouched
    turned = stitch.fn(list(reversed(wins)))
    joined = np.concatenate([w.samples for w in reversed(wins)], axis=1)
    cut = wins[-1].frames
    assert not np.array_equal(turned.samples[:, cut - h:cut + h], joined[:, cut - h:cut + h])      # mended
    steps = np.abs(np.diff(turned.samples[0, cut - h:cut + h]))
    assert steps.max() <= np.abs(np.diff(joined[0, cut - h:cut + h])).max()


def _hard_downbeats(bpm: float, bars: int, rate: int) -> Audio:
    """A kick whose attack starts at full level exactly on each bar line, over a pad that carries on."""
    n = round(bars * 4 * 60 / bpm * rate)
    t = np.arange(n) / rate
    x = 0.2 * np.sin(2 * np.pi * 110 * t)
    for k in range(bars):
        k0 = round(k * 4 * 60 / bpm * rate)
        u = t[:n - k0][:round(0.15 * rate)]
        x[k0:k0 + len(u)] += 0.6 * np.cos(2 * np.pi * 55 * u) * np.exp(-u * 20)     # 0.6 at once on the line
    return Audio(x, rate)


def test_windows_turned_down_alike_keep_every_downbeat_to_the_bit():
    """QA: a kick with a hard attack on each bar line lost 2.8 dB of its first 2 ms and gained a ramp 5 ms
    before the line (the mend took the attack for a click); a chain gain(-3) | stitch differed by 0.283."""
    x = _hard_downbeats(131.0, 4, 44100)
    wins = tokenize_window.fn(x, unit="bars", size=1, bpm=131.0)
    g = np.float32(10 ** (-3 / 20))
    for fade_s in (None, 0.05):
        y = stitch.fn([w.replace(w.samples * g) for w in wins], fade_s=fade_s)
        np.testing.assert_allclose(y.samples, x.samples * g, rtol=0, atol=1e-6)
        s = wins[1].start_frame
        assert np.abs(y.samples[0, s:s + 88]).max() == pytest.approx(np.abs(x.samples[0, s:s + 88]).max() * g, rel=1e-6)


def test_windows_mixed_to_other_channels_keep_every_downbeat_to_the_bit():
    """QA: windows mixed down to mono, or taken from mono to stereo, lost their downbeats (a kick 0.684 for
    0.823, -8 dB of error): a channel mix, like a gain, is an exact edit of the source and the seam is
    the source's own.  A new take in the same channels is still mended."""
    from nodes.dsp.basic import channels
    mono = _hard_downbeats(131.0, 4, 44100)
    stereo = mono.replace(np.stack([mono.samples[0], np.roll(mono.samples[0], 3) * np.float32(0.7)]))
    for x, mode in ((stereo, "mono"), (mono, "stereo")):
        wins = tokenize_window.fn(x, unit="bars", size=1, bpm=131.0)
        y = stitch.fn([channels.fn(w, mode=mode) for w in wins])
        np.testing.assert_array_equal(y.samples, channels.fn(x, mode=mode).samples)
        y = stitch.fn([channels.fn(w, mode=mode) for w in wins], fade_s=0.1, curve="equal_power")
        np.testing.assert_allclose(y.samples, channels.fn(x, mode=mode).samples, rtol=0, atol=1e-6)   # crossfaded
    width = np.array([[0.8, 0.2], [0.3, 0.7]], np.float32)               # a stereo width change, per window
    wins = tokenize_window.fn(stereo, unit="bars", size=1, bpm=131.0)
    y = stitch.fn([w.replace(width @ w.samples) for w in wins])
    np.testing.assert_allclose(y.samples, width @ stereo.samples, rtol=0, atol=1e-6)
    takes = [channels.fn(w, mode="mono") for w in wins]
    rng = np.random.default_rng(1)
    # a new take, starting further from the previous window than the source's own attack there (a step
    # no larger than that is left: a downbeat's attack in a transposed window is music, QA58)
    takes[2] = takes[2].replace(rng.uniform(0.7, 0.9, takes[2].samples.shape).astype(np.float32))
    y, s = stitch.fn(takes), wins[2].start_frame
    joined = np.concatenate([w.samples for w in takes], axis=1)
    assert not np.array_equal(y.samples[:, s - 200:s + 200], joined[:, s - 200:s + 200])       # mended
    np.testing.assert_array_equal(y.samples[:, wins[1].start_frame - 300:wins[1].start_frame + 300],
                                  joined[:, wins[1].start_frame - 300:wins[1].start_frame + 300])   # the mix's seam kept


def test_windows_at_different_gains_only_lose_the_step_between_the_gains():
    """Every other window 6 dB down: the level step at each seam is mended (no click), the attack stays:
    the seam's step is the source's, at the later window's gain."""
    x = _hard_downbeats(131.0, 4, 44100)
    wins = tokenize_window.fn(x, unit="bars", size=1, bpm=131.0)
    gains = [1.0 if k % 2 == 0 else 0.5 for k in range(len(wins))]
    y = stitch.fn([w.replace(w.samples * np.float32(g)) for w, g in zip(wins, gains)])
    ref = np.concatenate([w.samples * np.float32(g) for w, g in zip(wins, gains)], axis=1)
    for k, w in enumerate(wins[1:], 1):
        s = w.start_frame
        assert np.abs(y.samples[:, s - 221:s + 221] - ref[:, s - 221:s + 221]).max() < 0.05     # 5 ms each side
        np.testing.assert_array_equal(y.samples[:, s + 221:s + 2000], ref[:, s + 221:s + 2000])
        attack = y.samples[0, s] - y.samples[0, s - 1]
        assert attack == pytest.approx(0.6 * gains[k], abs=0.02)           # the downbeat's own step, kept


def test_a_crossfade_over_windows_that_are_the_source_scaled_is_the_source_under_a_gain_ramp():
    """fade_s over unchanged windows put a reversed copy of each downbeat before the bar line (QA: -7.5
    dBFS); over windows at two gains each side now continues as its neighbour, not as a mirror image."""
    x = _hard_downbeats(131.0, 4, 44100)
    wins = tokenize_window.fn(x, unit="bars", size=1, bpm=131.0)
    np.testing.assert_array_equal(stitch.fn(wins, fade_s=0.25).samples, x.samples)
    np.testing.assert_array_equal(stitch.fn(wins, fade_s=0.05, curve="equal_power").samples, x.samples)
    y = stitch.fn([wins[0], wins[1].replace(wins[1].samples * np.float32(0.5))] + wins[2:], fade_s=0.1)
    s, h = wins[1].start_frame, round(0.05 * 44100)
    ramp = np.linspace(1.0, 0.5, 2 * h + 2)[1:-1]
    np.testing.assert_allclose(y.samples[0, s - h:s + h], x.samples[0, s - h:s + h] * ramp, atol=2e-4)


def test_where_no_window_plays_the_stitch_is_silent():
    """QA: windows trimmed short, or a bar left out, left gaps the stitch filled with the window before
    played backwards at full level (-13 dBFS, correlation 0.999)."""
    from nodes.dsp.basic import trim
    x = _hard_downbeats(120.0, 3, 44100)
    wins = tokenize_window.fn(x, unit="bars", size=1, bpm=120.0)
    short = [trim.fn(w, end_s=1.0) for w in wins]
    for fade_s in (None, 0.0, 0.05):
        y = stitch.fn(short, fade_s=fade_s)
        assert y.frames == wins[-1].start_frame + 44100
        for w in wins[:-1]:
            np.testing.assert_array_equal(y.samples[:, w.start_frame:w.start_frame + 44100],
                                          x.samples[:, w.start_frame:w.start_frame + 44100])
            assert not y.samples[:, w.start_frame + 44100:w.start_frame + w.frames].any()
    left_out = stitch.fn([wins[0], wins[2]])
    assert left_out.frames == x.frames and not left_out.samples[:, wins[1].start_frame:wins[2].start_frame].any()
    np.testing.assert_array_equal(left_out.samples[:, wins[2].start_frame:], x.samples[:, wins[2].start_frame:])


def test_a_padded_last_window_comes_back_at_the_source_length():
    """QA: last="pad" made the stitched piece longer than the source (483948 -> 484948 frames)."""
    x = _hard_downbeats(131.0, 4, 44100)
    x = x.replace(x.samples[:, :-1000])
    wins = tokenize_window.fn(x, unit="bars", size=1, bpm=131.0, last="pad")
    assert wins[-1].frames > x.frames - wins[-1].start_frame
    for w8 in (wins, [w.replace(w.samples * np.float32(0.5)) for w in wins]):
        y = stitch.fn(w8)
        assert y.frames == x.frames
    np.testing.assert_array_equal(stitch.fn(wins).samples, x.samples)


def _regenerated(w: Audio) -> Audio:
    """A model-like node: a new take of the window's length (music in its padding too), via ``replace``."""
    rng = np.random.default_rng(w.index)
    return w.replace((0.3 * rng.standard_normal(w.samples.shape)).astype(np.float32))


@pytest.mark.parametrize("rate,bpm,overlap", [(44100, 174.9, 0), (48000, 87.3, 0), (22050, 141.0, 1)])
def test_padded_windows_changed_by_any_node_stitch_back_at_the_source_length(rate, bpm, overlap):
    """QA45: last="pad" windows through dsp.variation (+2 st) stitched to 484117 frames for 441000: the
    pitch shifter's ringing past the real end made stitch keep all 43,117 frames of padding (0.98 s).
    Transposed, reversed, stretched (to ``round(source * ratio)``), turned down or regenerated, the
    stitched piece ends where the source did, to the sample."""
    from nodes.dsp.basic import gain
    from nodes.dsp.variation import variation
    from tests.nodes._signals import music
    x = music(bpm, 4, 6.0, rate)
    x = x.replace(x.samples[:, :-1237])                                 # ends off the beat grid
    wins = tokenize_window.fn(x, unit="beats", size=4, overlap=overlap, bpm=bpm, last="pad")
    assert wins[-1].frames - (x.frames - wins[-1].start_frame) > rate // 2      # a long pad
    changes = [(lambda w: variation.fn(w, semitones=2), 1.0),
               (lambda w: variation.fn(w, semitones=2, reverse=True), 1.0),
               (lambda w: variation.fn(w, stretch_ratio=1.37), 1.37),
               (lambda w: variation.fn(w, stretch_ratio=0.8, semitones=-3), 0.8),
               (lambda w: gain.fn(w, gain_db=-3.0), 1.0),
               (_regenerated, 1.0)]
    for change, ratio in changes:
        y = stitch.fn([change(w) for w in wins])
        assert y.frames == round(x.frames * ratio), (change, ratio)


def test_a_stretched_padded_window_records_its_padding_to_the_frame():
    """Stretched windows stitch to ``round(source * ratio)`` frames whatever the rounding of each
    window's start and length (in proportion the padding landed a frame off in 14 of 72 cases)."""
    import nodes.dsp.variation as V
    rng = np.random.default_rng(3)
    for rate, bpm in ((22050, 87.3), (44100, 141.0), (48000, 174.9), (44100, 97.5)):
        x = Audio(rng.uniform(-0.5, 0.5, (1, int(rng.integers(3 * rate, 5 * rate)))), rate)
        wins = tokenize_window.fn(x, unit="beats", size=4, bpm=bpm, last="pad")
        for ratio in (0.61, 0.8, 1.37, 1.5, 2.0, 3.3):
            stretched = [w.replace(np.zeros((1, round(w.frames * ratio)), np.float32),       # Rubber Band's
                                   start_frame=round(w.start_frame * ratio),                # placement,
                                   edges=V._stretched_cut(w, round(w.frames * ratio), ratio))  # without it
                         for w in wins]
            assert stitch.fn(stretched).frames == round(x.frames * ratio), (rate, bpm, ratio)


@pytest.mark.parametrize("curve", ["linear", "equal_power"])
def test_a_crossfade_over_the_source_keeps_its_level_whatever_the_curve(curve):
    """QA: windows all at -6 dB stitched with fade_s=0.25, equal_power (the README's own settings) came back
    3 dB up at each seam; a fade_s longer than the overlap broke unchanged overlapping windows (-12 dBFS)."""
    x = _hard_downbeats(131.0, 4, 44100)
    g = np.float32(0.5)
    wins = tokenize_window.fn(x, unit="bars", size=1, bpm=131.0)
    y = stitch.fn([w.replace(w.samples * g) for w in wins], fade_s=0.25, curve=curve)
    np.testing.assert_allclose(y.samples, x.samples * g, rtol=0, atol=1e-6)
    over = tokenize_window.fn(x, size=1.0, overlap=0.5)
    for fade_s in (0.1, 1.0, None):
        np.testing.assert_allclose(stitch.fn(over, fade_s=fade_s, curve=curve).samples, x.samples, rtol=0, atol=1e-6)


def test_a_padded_last_window_resampled_comes_back_at_the_source_length_at_its_new_rate():
    """QA round 2: windows resampled to 48 kHz kept last=pad's silence (384000 frames for 350400)."""
    from nodes.dsp._conform import resample_audio
    x = _hard_downbeats(131.0, 4, 44100)
    x = x.replace(x.samples[:, :-7000])
    wins = tokenize_window.fn(x, unit="bars", size=1, bpm=131.0, last="pad")
    y = stitch.fn([resample_audio(w, 48000) for w in wins])
    assert y.sample_rate == 48000 and abs(y.frames - round(x.frames * 48000 / 44100)) <= 1


def test_seam_labels_count_from_where_the_piece_starts_when_a_window_is_left_out():
    """QA: with window 0 left out, the seams at bars 3 and 4 were labelled "bar 2" and "bar 3" (and,
    without a tempo, "window 2" and "window 3" for windows 3 and 4)."""
    from nodes.timing.window import tokenize_window
    rate = 8000
    x = Audio(np.random.default_rng(5).uniform(-0.5, 0.5, rate * 8).astype(np.float32), rate)
    bars = tokenize_window.fn(x, unit="bars", size=1, bpm=120)          # 2 s bars
    y = stitch.fn(bars[1:])
    assert y.start_frame == 2 * rate
    assert y.markers == ((2 * rate, "bar 3"), (4 * rate, "bar 4"))
    secs = tokenize_window.fn(x, size=2.0)                               # no tempo: the windows' numbers
    assert stitch.fn(secs[1:]).markers == ((2 * rate, "window 3"), (4 * rate, "window 4"))
    assert stitch.fn(secs).markers[0] == (2 * rate, "window 2")


@pytest.mark.parametrize("bpm, rate", [(133.0, 44100), (97.5, 48000)])
def test_a_transposed_windows_downbeat_hit_after_a_rest_keeps_its_attack_and_the_rest(bpm, rate):
    """QA58: drum windows cut on the downbeats and transposed were mended as if each kick were the edit's
    jump: an offset ramped up over the 5 ms of silence before the beat and the attack went from 0.855
    to 0.14 (an offset that large also lifted later peaks, to 1.2 for 0.82).  Now a hit after a rest
    keeps the rest silent and its own peak; a step no larger than half the music's own within 2 ms is
    left as it is; nothing clicks."""
    from fractions import Fraction

    from tests.nodes._signals import drum_loop
    from nodes.dsp.variation import variation

    windows = [variation.fn(w, pattern_semitones="0 5 -2 7") for w in
               tokenize_window.fn(drum_loop(bpm, 4, rate), unit="bars", size=1, bpm=bpm)]
    out = stitch.fn(windows).samples
    half, near, ten = round(SEAM_FADE_S / 2 * rate), rate // 500, rate // 100
    for k in range(1, 4):
        s = round(k * Fraction(240) / Fraction(str(bpm)) * rate)
        assert np.array_equal(out[:, s - half:s], windows[k - 1].samples[:, -half:])       # the rest stays a rest
        own = max(np.abs(np.diff(windows[k].samples[:, :near])).max(), np.abs(np.diff(windows[k - 1].samples[:, -near:])).max())
        assert np.abs(np.diff(out[:, s - near:s + near])).max() <= 1.1 * own                # no click
        peak, made = np.abs(out[:, s:s + ten]).max(), np.abs(windows[k].samples[:, :ten]).max()
        assert 0.9 * made <= peak <= made                                                    # the hit as made


@pytest.mark.parametrize("rate", [44100, 48000])
def test_transposed_windows_of_sustained_music_do_not_tick_at_the_seams(tmp_path, rate):
    """QA67 M2: a chord pad with a sung-like vibrato (nothing above about 2 kHz), 2-bar windows at
    97.5 bpm each transposed (0 5 -2 7) and stitched with the default mend: the mend left half the
    music's largest step and all of the kink at each cut, a tick 3-6 dB above anything else the piece
    has above 6 kHz.  Now every seam is under the piece's own level there."""
    from nodeflow import Executor, Graph
    import soundfile as sf
    n = round(8 * 4 * 60 / 97.5 * rate)
    t = np.arange(n) / rate
    chord = sum(np.sin(2 * np.pi * f * t + i) for i, f in enumerate((220.0, 277.18, 329.63, 440.0))) * 0.15
    phase = 2 * np.pi * np.cumsum(330.0 * (1 + 0.02 * np.sin(2 * np.pi * 5.5 * t))) / rate
    voice = 0.3 * (np.sin(phase) + 0.3 * np.sin(2 * phase) + 0.1 * np.sin(3 * phase))
    x = np.stack([chord * (1 + 0.3 * np.sin(2 * np.pi * 0.25 * t)) + voice,
                  chord * (1 - 0.3 * np.sin(2 * np.pi * 0.25 * t + 1)) + voice]).astype(np.float32)
    sf.write(tmp_path / "padvib.wav", x.T, rate, subtype="FLOAT")
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "padvib.wav"))
    g.add("time.tokenize_window", id="win", unit="bars", size=2, bpm=97.5)
    g.add("dsp.variation", id="var", pattern_semitones="0 5 -2 7")
    g.add("time.stitch", id="stitch")
    for a, b in (("load", "win"), ("win", "var"), ("var", "stitch")):
        g.connect(a, b)
    y = Executor(disk_cache=None).run(g, ["stitch"])["stitch"]["out"].samples.astype(np.float64)
    assert y.shape[1] == n
    k = np.arange(-255, 256)                    # a windowed-sinc high-pass at 6 kHz (-80 dB below 4 kHz)
    low = np.sinc(2 * 6000 / rate * k) * 2 * 6000 / rate * np.blackman(k.size)
    hp = -low / low.sum()
    hp[255] += 1.0
    high = np.abs(np.stack([np.convolve(c, hp, mode="same") for c in y]))    # what the piece has above 6 kHz
    seams = [round(j * 2 * 240 / 97.5 * rate) for j in (1, 2, 3)]
    away = np.zeros(n, bool)
    away[1000:-1000] = True                     # (not the piece's own ends)
    for s in seams:
        away[s - 3000:s + 3000] = False
    own = high[:, away].max()
    for s in seams:
        at = high[:, s - 500:s + 500].max()
        assert at < own, (s, 20 * np.log10(at), 20 * np.log10(own))       # before: -43 against -46 dBFS


def test_bars_comped_from_two_takes_cut_on_one_grid_are_mended_not_joined_raw():
    """QA83 D3: bars alternated from two takes cut on the same grid (and a bar copied to another bar's place)
    sat as neighbours would and were unchanged since their cut, so stitch joined them raw, fade_s or not:
    steps of 0.29 to 0.41 against the takes' own 0.022.  Only neighbours in one source join exactly."""
    r, bpm = 48000, 128
    t = np.arange(int(8.3 * r)) / r
    a = Audio(np.stack([0.5 * np.sin(2 * np.pi * 220 * t)] * 2).astype(np.float32), r)
    b = Audio(np.stack([0.5 * np.sin(2 * np.pi * 330 * t + 1.0)] * 2).astype(np.float32), r)
    wa, wb = (tokenize_window.fn(x, unit="bars", size=1, bpm=bpm) for x in (a, b))
    comped = [wa[k] if k % 2 == 0 else wb[k] for k in range(len(wa))]
    copied = [*wa[:2], wa[0].replace(start_frame=wa[2].start_frame), *wa[3:]]
    own = 0.5 * 2 * np.pi * 330 / r                     # the largest step either take makes
    for windows in (comped, copied):
        for fade_s in (None, 0.02):
            y = stitch.fn(windows, fade_s=fade_s).samples
            assert y.shape == a.samples.shape
            steps = [float(np.abs(y[:, w.start_frame] - y[:, w.start_frame - 1]).max()) for w in wa[1:]]
            assert max(steps) <= own, (fade_s, steps)
    assert np.array_equal(stitch.fn(wa).samples, a.samples)        # one take's own bars still join exactly


def _hits_on_every_beat(bpm: float, beats: int, bars: int, rate: int) -> np.ndarray:
    """Stereo music with a hit on every beat (a falling kick and a burst of noise, the downbeat louder)
    over a two-note chord: every bar line is a hit's onset."""
    beat = 60.0 / bpm
    n = int(round(bars * beats * beat * rate))
    t = np.arange(n) / rate
    rng = np.random.default_rng(0)
    x = 0.1 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 330 * t)
    for k in range(bars * beats):
        s = int(round(k * beat * rate))
        long, short = min(n - s, int(0.15 * rate)), min(n - s, int(0.02 * rate))
        tt = np.arange(long) / rate
        x[s:s + long] += (0.5 if k % beats == 0 else 0.3) * np.sin(2 * np.pi * (50 + 100 * np.exp(-tt * 30)) * tt) \
            * np.exp(-tt * 20)
        x[s:s + short] += 0.2 * rng.standard_normal(short) * np.exp(-np.arange(short) / rate * 200)
    return (0.8 * np.stack([x, 0.9 * np.roll(x, 7)])).astype(np.float32)


@pytest.mark.parametrize("bpm, beats, note, rate", [(97.3, 3, 4, 44100), (123.5, 7, 8, 48000), (141.0, 6, 8, 88200)])
def test_windows_taken_to_a_models_rate_and_back_stitch_as_the_piece_does(bpm, beats, note, rate):
    """QA99 D1: 1-bar windows taken to 32 kHz and back, each starting on a hit: the mend took the step of a
    hit's onset (each window's edge frames as the source has them, the rest filtered, and a first frame the
    resampler guessed) for the edit's, and its offset lifted the kick 2.4 dB over anything in the source
    (peak 0.989 for 0.747) and moved the music near the seams 0.12-0.19 RMS from the piece taken there and
    back whole.  Windows only resampled (a gain or a channel mix aside) join as they are, each resampled
    with the source's own frames beside its edges where it has them."""
    from nodes.dsp.resample import resample
    from nodes.dsp.basic import gain
    x = _hits_on_every_beat(bpm, beats, 6, rate)
    for where in ("before", "between", "after"):        # QA100 D1: a gain beside the resamples lifted it again
        steps = [resample(rate_hz=32000), resample(rate_hz=rate)]
        steps.insert({"before": 0, "between": 1, "after": 2}[where], gain(gain_db=-3.0))
        chain = steps[0] | steps[1] | steps[2]
        gained = stitch.fn((tokenize_window(unit="bars", size=1, bpm=bpm, beats_per_bar=beats, note_value=note)
                            | chain).invoke((x, rate))).samples
        assert np.abs(gained).max() <= np.abs(chain.invoke((x, rate)).samples).max() * 1.01, where
    whole = (resample(rate_hz=32000) | resample(rate_hz=rate)).invoke((x, rate)).samples
    windows = (tokenize_window(unit="bars", size=1, bpm=bpm, beats_per_bar=beats, note_value=note)
               | resample(rate_hz=32000) | resample(rate_hz=rate)).invoke((x, rate))
    butted = np.concatenate([w.samples for w in windows], axis=1)
    out = stitch.fn(windows).samples
    assert out.shape == whole.shape
    assert np.abs(out).max() <= np.abs(whole).max() * 1.01, (np.abs(out).max(), np.abs(whole).max())
    h = int(0.005 * rate)
    seams = np.cumsum([w.frames for w in windows])[:-1]

    def worst(a: np.ndarray, piece: np.ndarray = whole, at: np.ndarray = seams, h: int = h) -> float:
        return max(float(np.sqrt(np.mean((a - piece)[:, s - h:s + h] ** 2))) for s in at)
    assert worst(out) <= max(0.04, 3 * worst(butted)), (worst(out), worst(butted))
    # QA100 D2: taken back from 32 kHz with nothing beside it, a bar's first frame was the resampler's guess
    # (0.183, 0.098, 0.225 from the piece's); its neighbours' frames at 32 kHz, kept as the first resample made
    # them, continue it on the way back
    frames = max(float(np.abs((out - whole)[:, s - 3:s + 3]).max()) for s in seams)
    assert frames <= 0.06, frames
    # stitched at the model's rate, each window resampled with the source's frames beside it (a cubic across a
    # hit's onset, in place of a first frame, was 0.14 off where the resampler was 0.02)
    there = (tokenize_window(unit="bars", size=1, bpm=bpm, beats_per_bar=beats, note_value=note)
             | resample(rate_hz=32000)).invoke((x, rate))
    piece = resample(rate_hz=32000).invoke((x, rate)).samples
    at, joined = np.cumsum([w.frames for w in there])[:-1], stitch.fn(there).samples
    assert np.abs(joined - piece).max() <= 0.05 and worst(joined, piece, at, 160) <= 0.01, \
        (np.abs(joined - piece).max(), worst(joined, piece, at, 160))


@pytest.mark.parametrize("bpm, beats, note, rate", [(87.0, 4, 4, 44100), (141.0, 6, 8, 88200)])
@pytest.mark.parametrize("there_and_back", [False, True])
def test_reordered_or_comped_bars_keep_each_bars_attack_as_its_source_has_it(bpm, beats, note, rate, there_and_back):
    """QA100 D1: bars that start on a hit, reordered or comped from two takes (as cut, or taken to 32 kHz and
    back): the mend took part of each hit's onset for the edit's jump, and its offset over 5 ms lifted the kick
    (+0.69 dB as cut, up to +2.4 dB after the round trip).  The bar before now bends to end on the frame the
    later bar's source had before it, and the later bar plays as it is, its attack as its source has it."""
    from nodes.dsp.resample import resample
    from nodes.dsp.basic import gain
    cut = tokenize_window(unit="bars", size=1, bpm=bpm, beats_per_bar=beats, note_value=note)
    chain = cut | resample(rate_hz=32000) | resample(rate_hz=rate) if there_and_back else cut
    x = _hits_on_every_beat(bpm, beats, 6, rate)
    take = chain.invoke((x, rate))
    other = (chain | gain(gain_db=-4.0)).invoke((np.ascontiguousarray(x[::-1]), rate))   # a second take, quieter
    half = int(SEAM_FADE_S * rate) // 2
    for bars in ([take[i] for i in (5, 4, 3, 2, 1, 0)], [take[0], other[1], take[2], other[3], other[4], take[5]]):
        out, butted = stitch.fn(bars).samples, np.concatenate([b.samples for b in bars], axis=1)
        seams = np.cumsum([b.frames for b in bars])[:-1]
        assert np.abs(out).max() <= np.abs(butted).max() + 1e-6, (np.abs(out).max(), np.abs(butted).max())
        for s, b in zip(seams, bars[1:]):
            if b.start_frame == 0:      # the source's first bar: nothing before it there, a mend either side
                continue
            assert np.array_equal(out[:, s + 8:s + half], butted[:, s + 8:s + half])    # the later bar as it is
            assert np.abs(out[:, s:s + 8] - butted[:, s:s + 8]).max() <= 0.01        # (a kink's tent at most)
        if not there_and_back and bars[0] is take[5]:   # reordered: each bar after the seam as the source has it,
            for s, b in zip(seams, bars[1:]):          # the frame before it there too
                if b.start_frame:
                    assert np.allclose(out[:, s - 1:s + 1], x[:, b.start_frame - 1:b.start_frame + 1], atol=1e-6)


def test_a_resampler_notes_a_window_that_is_its_source_at_another_rate_under_a_gain_but_not_a_new_take():
    from nodeflow.cuts import read_cut
    from nodes.dsp.basic import gain
    from nodes.dsp.resample import resample
    from nodes.dsp.variation import variation
    x = _hits_on_every_beat(120.0, 4, 2, 44100)
    first = tokenize_window.fn(Audio(x, 44100), unit="bars", size=1, bpm=120.0, beats_per_bar=4)[1]
    there = resample.fn(first, rate_hz=32000)
    back = resample.fn(there, rate_hz=44100)
    assert read_cut(first.edges).again is None
    assert read_cut(there.edges).again_frames == there.frames and read_cut(back.edges).again_frames == back.frames
    assert np.array_equal(read_cut(back.edges).again[:, :4], back.samples[:, :4])     # its frames as made
    quieter = resample.fn(gain.fn(resample.fn(gain.fn(first, gain_db=-3.0), rate_hz=32000), gain_db=-2.0),
                          rate_hz=44100)                                   # gains before and between: noted
    assert read_cut(quieter.edges).again_frames == quieter.frames
    retuned = resample.fn(variation.fn(there, pattern_semitones="5"), rate_hz=44100)    # a new take: not
    assert read_cut(retuned.edges).again is None
    assert read_cut(back.edges).digest == read_cut(first.edges).digest and read_cut(back.edges).head is not None


def test_a_files_bar_cue_moved_by_a_stretch_and_the_seam_on_the_new_grid_are_one_cue():
    """QA102 D2: a file's "bar 7" cue, moved by a 0.8 stretch, rounded one frame from where the stretched grid puts
    bar 7; cut on that grid and stitched, the piece carried both (two "bar 7" cues in the WAV, overlapping FLAC
    chapters).  The seam's cue, on the grid, is the one kept; a cue of another name beside it stays."""
    from nodes.dsp.variation import variation
    rate, bpm = 44100, 93.7
    bar = 5 * 60 / bpm
    n = round(8 * bar * rate)
    x = (0.2 * np.sin(2 * np.pi * 220 * np.arange(n) / rate)).astype(np.float32)[None]
    marks = tuple((round(k * bar * rate), f"bar {k + 1}") for k in range(1, 8)) + ((round(3 * bar * rate) + 1, "verse"),)
    a = Audio(x, rate, markers=marks, info=(("bpm", "93.7"), ("meter", "5/4")))
    out = (variation(stretch_ratio=0.8) | tokenize_window(unit="bars", size=1, bpm="auto", beats_per_bar="auto")
           | stitch()).invoke(a)
    labels = [label for _, label in out.markers]
    assert labels == ["bar 2", "bar 3", "bar 4", "verse", "bar 5", "bar 6", "bar 7", "bar 8"], out.markers
    grid = 5 * 60 / (bpm / 0.8)
    assert [f for f, label in out.markers if label.startswith("bar")] == [round(k * grid * rate) for k in range(1, 8)]


def test_overlapping_windows_stretched_one_by_one_keep_one_cue_per_bar():
    """QA103 D3: 2-bar windows overlapping by a bar, each stretched 0.8, rounded a file's "bar 4" one frame apart
    (the two windows holding it), and the piece carried both (a FLAC chapter to the end of the file)."""
    from nodes.dsp.variation import variation
    rate, bpm = 44100, 93.7
    bar = 4 * 60 / bpm
    n = round(8 * bar * rate)
    x = (0.2 * np.sin(2 * np.pi * 220 * np.arange(n) / rate)).astype(np.float32)[None]
    marks = tuple((round(k * bar * rate), f"bar {k + 1}") for k in range(1, 8))
    a = Audio(x, rate, markers=marks, info=(("bpm", "93.7"), ("meter", "4/4")))
    wins = tokenize_window.fn(a, unit="bars", size=2, overlap=1, bpm=93.7, beats_per_bar=4)
    out = stitch.fn([variation.fn(w, stretch_ratio=0.8) for w in wins])
    labels = [label for _, label in out.markers if not label.startswith("bar 1 ") and " beat " not in label]
    assert len(labels) == len(set(labels)), out.markers
