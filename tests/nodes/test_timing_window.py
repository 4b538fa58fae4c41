"""time.tokenize_window and window_bounds: sizes in whole tokens, exact positions, last-window policies."""
from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest

from tests.nodes._signals import noise, sine
from nodeflow.cli import main
from nodeflow.audio import Audio
from nodeflow.errors import AudioError, ParameterError
from nodeflow.timebase import PROFILES, profile_from_rates
from nodes.timing.window import grid_bounds, window_bounds, tokenize_window

# EnCodec-44.1k-like time base: hop 512 at 44.1 kHz, so a token is 557.28... samples at 48 kHz
ODD_PROFILE = profile_from_rates(44100, Fraction(44100, 512), 2583)


def _frame_of_token(token: int, rate: int, tokens_per_s: Fraction) -> int:
    """The sample a token boundary falls on, computed from scratch: round(token * rate / tokens_per_s)."""
    return round(Fraction(token * rate) / tokens_per_s)


@pytest.mark.parametrize("rate", [44100, 48000])
@pytest.mark.parametrize("profile, size_tokens, hop_tokens", [
    (PROFILES["musicgen"], 1500, 900),     # 30 s windows, 12 s prompt overlap (audiocraft's extend)
    (PROFILES["bark"], 1125, 1124),
    (ODD_PROFILE, 2583, 1777),
])
def test_an_hour_of_windows_lands_on_exact_samples(rate, profile, size_tokens, hop_tokens):
    n_frames = 3600 * rate + 12345
    bounds = window_bounds(n_frames, rate, profile, size_tokens, hop_tokens)
    for k, (start, end, tokens) in enumerate(bounds):
        assert start == _frame_of_token(k * hop_tokens, rate, profile.frame_rate)
        if k < len(bounds) - 1:
            assert end == _frame_of_token(k * hop_tokens + size_tokens, rate, profile.frame_rate)
            assert tokens == size_tokens
    assert bounds[-1][1] == n_frames
    assert bounds[-2][1] < n_frames          # the last window is the first to reach the end
    hour_tokens = 3600 * profile.frame_rate
    assert len(bounds) >= hour_tokens / hop_tokens - 1


def test_window_bounds_accepts_a_profile_name():
    assert window_bounds(32000, 32000, "musicgen", 25, 25) == [(0, 16000, 25), (16000, 32000, 25)]


@pytest.mark.parametrize("last, expected", [
    ("keep", [(0, 320000, 500), (320000, 640000, 500), (640000, 800000, 250)]),
    ("pad", [(0, 320000, 500), (320000, 640000, 500), (640000, 960000, 500)]),
    ("drop", [(0, 320000, 500), (320000, 640000, 500)]),
])
def test_last_window_policy_bounds(last, expected):
    assert window_bounds(800000, 32000, "musicgen", 500, 500, last) == expected


def test_keep_counts_the_tokens_that_cover_a_partial_last_window():
    (_, (start, end, tokens)) = window_bounds(32000 + 1, 32000, "musicgen", 50, 50, "keep")
    assert (start, end, tokens) == (32000, 32001, 1)


def test_windows_carry_placement_and_samples():
    x = noise(25.0, 44100, seed=1, channels=2).replace(start_frame=1000)
    wins = tokenize_window.fn(x, size=10.0, overlap=2.0)
    assert [w.index for w in wins] == [0, 1, 2]
    assert [w.start_frame for w in wins] == [1000, 1000 + 8 * 44100, 1000 + 16 * 44100]
    assert [w.frames for w in wins] == [441000, 441000, 9 * 44100]
    assert [w.tokens for w in wins] == [500, 500, 450]
    assert [w.overlap_frames for w in wins] == [0, 2 * 44100, 2 * 44100]
    for w in wins:
        assert w.sample_rate == 44100 and w.channels == 2
        offset = w.start_frame - 1000
        np.testing.assert_array_equal(w.samples, x.samples[:, offset:offset + w.frames])


@pytest.mark.parametrize("param, value, offered", [("size", 0.4, "1"), ("size", 0.5, "1"), ("size", 2.5, "3"),
                                                    ("overlap", 0.4, "0"), ("overlap", 1.5, "2")])
def test_a_fraction_of_a_token_is_offered_a_whole_number_the_window_takes(param, value, offered):
    """QA66 L1: size=0.4 tokens was told "use 0", which is refused in turn (a window is at least one
    token); 0.5 rounded down to 0 (half to even).  The value offered is taken."""
    x = noise(3.0, 32000, seed=3)
    params = {"size": 50.0, "overlap": 0.0, param: value}
    with pytest.raises(ParameterError) as e:
        tokenize_window.fn(x, unit="tokens", **params)
    assert str(e.value).endswith(f"{param}={value:g} tokens is not a whole number of tokens; use {offered}"), e.value
    params[param] = float(offered)
    assert tokenize_window.fn(x, unit="tokens", **params)


def test_pad_fills_the_last_window_with_silence():
    x = noise(2.5, 32000, seed=2)
    wins = tokenize_window.fn(x, size=1.0, last="pad")
    assert [w.frames for w in wins] == [32000, 32000, 32000]
    assert wins[-1].tokens == 50
    np.testing.assert_array_equal(wins[-1].samples[:, :16000], x.samples[:, 64000:])
    assert not wins[-1].samples[:, 16000:].any()


def test_drop_leaves_out_a_partial_last_window():
    wins = tokenize_window.fn(noise(2.5, 32000), size=1.0, last="drop")
    assert [w.frames for w in wins] == [32000, 32000]


def test_bars_at_a_tempo():
    wins = tokenize_window.fn(noise(20.0, 44100), unit="bars", size=4, bpm=120, beats_per_bar=4)
    assert wins[0].frames == 8 * 44100 and wins[0].tokens == 400
    wins = tokenize_window.fn(noise(20.0, 48000), unit="bars", size=2, overlap=1, bpm=90, beats_per_bar=3)
    assert wins[0].frames == 4 * 48000 and wins[1].overlap_frames == 2 * 48000


@pytest.mark.parametrize("profile, seconds", [("musicgen", 30), ("musicgen_melody", 30), ("bark", 15)])
def test_model_window_is_the_profile_longest_audio_window(profile, seconds):
    wins = tokenize_window.fn(Audio(np.zeros(48000 * 40), 48000), profile=profile, unit="model_window", overlap=5.0)
    assert wins[0].frames == seconds * 48000
    assert wins[1].start_frame == (seconds - 5) * 48000
    assert wins[0].tokens == PROFILES[profile].audio_window_tokens


def test_sizes_in_tokens_and_custom_profile():
    x = Audio(np.zeros(10000), 10000)
    wins = tokenize_window.fn(x, profile="custom", custom_rate_hz=10000, custom_tokens_per_s=100.0,
                              custom_window_tokens=300, unit="tokens", size=30, overlap=10)
    assert [(w.start_frame, w.frames) for w in wins] == [(0, 3000), (2000, 3000), (4000, 3000), (6000, 3000),
                                                         (8000, 2000)]


def test_seconds_are_exact_and_tokens_cover_the_window():
    (w, *_) = tokenize_window.fn(noise(2.0, 32000), size=1.009)   # 50.45 tokens: the model makes 51, trimmed
    assert w.frames == 32288 and w.tokens == 51


@pytest.mark.parametrize("params, error, needles", [
    (dict(size=40.0), ParameterError, ["size=40", "2000 tokens", "1500 tokens", "30 s"]),
    (dict(profile="bark", unit="tokens", size=1200), ParameterError, ["size=1200", "1125 tokens"]),
    (dict(size=2.0, overlap=2.0), ParameterError, ["overlap=2", "100 tokens"]),
    (dict(size=1.0, overlap=3.0), ParameterError, ["overlap=3"]),
    (dict(size=0.001), ParameterError, ["size=0.001", "less than one token"]),
    (dict(unit="tokens", size=10.5), ParameterError, ["size=10.5", "whole number"]),
    (dict(size=5.0, last="drop"), AudioError, ["shorter than one window", "last=drop"]),
    # QA45: "852 tokens (17.04 s)" for size=8 bars (17.021 s at 141 bpm in 5/4), and no word of a smaller size
    (dict(unit="bars", size=8, bpm=141.0, beats_per_bar=5, last="drop"), AudioError,
     ["size=8 bars (17.021 s at 141 bpm in 5/4)", "use a smaller size"]),
    (dict(unit="tokens", size=150, last="drop"), AudioError, ["size=150 tokens (3 s)", "use a smaller size"]),
])
def test_bad_settings_give_clear_errors(params, error, needles):
    with pytest.raises(error) as info:
        tokenize_window.fn(noise(2.0, 32000), **params)
    for needle in needles:
        assert needle in str(info.value)


def test_empty_input_is_an_error():
    with pytest.raises(AudioError, match="empty"):
        tokenize_window.fn(Audio(np.zeros((1, 0)), 32000))


@pytest.mark.parametrize("hop", [0, 11])
def test_window_bounds_rejects_a_hop_outside_the_window(hop):
    with pytest.raises(ParameterError, match=f"hop_tokens={hop}"):
        window_bounds(1000, 32000, "musicgen", 10, hop)


class _StopAt:
    """A cancel check that raises on its ``n``-th call."""

    def __init__(self, n: int):
        self.n, self.calls = n, 0

    def __call__(self):
        self.calls += 1
        if self.calls >= self.n:
            raise KeyboardInterrupt("cancelled")


@pytest.mark.parametrize("bounds", [
    lambda check: grid_bounds(3600 * 16000, 16000, "musicgen", Fraction(1, 20), Fraction(1, 20), check=check),
    lambda check: window_bounds(3600 * 32000, 32000, "musicgen", 2, 2, check=check),
])
def test_working_out_tens_of_thousands_of_windows_stops_when_cancelled(bounds):
    # an hour in 50 ms (or 2-token) windows: working out the bounds alone took over a second, so a
    # cancel had to wait for it (test_cancellation's tokenize_window case went past its 1 s bound)
    stop = _StopAt(10)
    with pytest.raises(KeyboardInterrupt):
        bounds(stop)
    assert stop.calls == 10


# ---------------------------------------------------------------------------------------- meters in eighths
def test_a_six_eight_bar_is_three_quarter_notes_through_to_the_file_and_the_daw(tmp_path):
    """A 6/8 loop at 100 bpm: "1 bar" windows were 3.6 s (six quarter notes, two real bars), cues said
    "bar 2" at 1.8 s intervals of nothing, and tokenize_window could only ever say 6/4.  Now a bar is
    1.8 s (as DAWs count 6/8: the tempo in quarter notes), said explicitly or taken from the audio."""
    import soundfile as sf
    import zipfile
    from nodeflow import Executor, Graph
    from tests.nodes._signals import music
    x = music(100.0 * 2, 6, 9.0, 44100)              # an eighth-note pulse at 100 quarter notes a minute
    sf.write(tmp_path / "six8.wav", x.samples.T, 44100, subtype="FLOAT")
    g = Graph()
    load = g.add("io.load", path=str(tmp_path / "six8.wav"))
    tag = g.add("time.detect_tempo", bpm=100.0, beats_per_bar=6, note_value=8)
    win = g.add("time.tokenize_window", unit="bars", size=1, bpm=None, beats_per_bar=None)   # auto: the audio's
    e = g.add("io.export", path="bar.wav")
    g.connect(load.out, tag.audio)
    g.connect(tag.out, win.audio)
    g.connect(win.out, e.audio)
    res = Executor().run(g, output_dir=tmp_path / "out", keep=[win.id])
    wins = res[win.id]["out"]
    assert [w.frames for w in wins] == [79380] * 5 and [w.start_frame for w in wins][:3] == [0, 79380, 158760]
    assert dict(wins[0].info)["meter"] == "6/8"
    assert main(["run", str(_saved(g, tmp_path)), "-o", str(tmp_path / "daw"), "-q", "--daw",
                 str(tmp_path / "daw" / "p.dawproject")]) == 0
    with zipfile.ZipFile(tmp_path / "daw" / "p.dawproject") as z:
        xml = z.read("project.xml").decode()
    assert 'numerator="6" denominator="8"' in xml and 'duration="3.0"' in xml


def _saved(g, folder):
    from nodeflow import save
    return save(g, folder / "g.msgpack")


def test_seams_between_bars_say_which_beat():
    """Half-bar windows at 93.7 bpm were labelled bar 1, bar 2, bar 2."""
    from nodes.timing.stitch import stitch
    x = sine(220.0, 6 * 4 * 60 / 93.7, 44100).with_info(bpm="93.7", meter="4/4")
    y = stitch.fn(tokenize_window.fn(x, unit="bars", size=0.5, bpm=93.7, beats_per_bar=4))
    assert [label for _, label in y.markers][:4] == ["bar 1 beat 3", "bar 2", "bar 2 beat 3", "bar 3"]


@pytest.mark.parametrize("params, said", [
    (dict(size=0.0), "size=0 bars is less than one token of profile=musicgen (0.02 s, the shortest window it "
                     "cuts); make the window longer"),
    (dict(size=1e6), "more than the musicgen window of 1500 tokens"),
])
def test_validate_reports_a_window_size_the_node_refuses(tmp_path, params, said):
    """validate said ok, then run refused (QA); the grid is known (bpm and beats set), so the estimate checks."""
    import soundfile as sf
    from nodeflow import Graph
    sf.write(tmp_path / "in.wav", np.zeros(32000, np.float32), 32000)
    g = Graph()
    w = g.add("time.tokenize_window", id="win", unit="bars", bpm=93.7, beats_per_bar=4, **params)
    g.add("io.load", id="src", path=str(tmp_path / "in.wav"))
    g.connect("src", w.id)
    found = [p for p in g.problems() if said in p]
    assert len(found) == 1 and found[0].startswith("node 'win' (time.tokenize_window): "), g.problems()


@pytest.mark.parametrize("size, overlap", [(1.0, 2.0), (1.0, 1.0)])
def test_an_overlap_not_under_the_size_with_the_tempo_found_in_the_audio_is_said_as_such(tmp_path, capsys, size,
                                                                                          overlap):
    """QA83 D5: with bpm=auto, overlap=2 bars on 1-bar windows was said as a list of 447,616 items and 22 GiB of
    memory, with advice to raise both limits; the overlap and the size are in one unit whatever the tempo."""
    import soundfile as sf
    from nodeflow import Graph, save
    sf.write(tmp_path / "take.wav", noise(20.0, 44100).samples.T, 44100)
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "take.wav"))
    g.add("time.tokenize_window", id="w", unit="bars", size=size, overlap=overlap, bpm="auto")
    g.connect("load", "w")
    save(g, tmp_path / "g.msgpack")
    for command in ("validate", "run"):
        assert main([command, str(tmp_path / "g.msgpack"), "-o", str(tmp_path / "out")]) == 1
        out = capsys.readouterr()
        assert f"node 'w' (time.tokenize_window): overlap={overlap:g} bars is not less than the window size of " \
               f"{size:g} bars; make the overlap smaller" in out.out + out.err
        assert "items" not in out.out + out.err and "memory" not in out.out + out.err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_an_overlap_a_hair_under_the_size_is_refused_and_estimated_as_the_run_steps(tmp_path, capsys):
    """QA79 D3: 1 s windows with overlap=0.999999 s over 8 s: validate said ok (the estimate stepped a
    token, 351 windows), and the run stepped 1 us, made millions of windows and never ended.  A step
    under one sample is refused, by validate and by the node; the estimate steps as the run does."""
    from nodeflow import Graph, save
    from nodeflow.costs import estimate
    import soundfile as sf
    sf.write(tmp_path / "take.wav", noise(8.0, 44100).samples.T, 44100)
    said = ("overlap=0.999999 seconds leaves 1 us between the windows' starts, less than one sample at 44100 Hz "
            "(22.7 us); make the overlap smaller")
    with pytest.raises(ParameterError, match=re.escape(said)):
        tokenize_window.fn(noise(8.0, 44100), unit="seconds", size=1.0, overlap=0.999999)
    for overlap, items in ((0.999999, None), (0.9999, 70001)):
        g = Graph()
        g.add("io.load", id="load", path=str(tmp_path / "take.wav"))
        g.add("time.tokenize_window", id="w", unit="seconds", size=1.0, overlap=overlap)
        g.connect("load", "w")
        save(g, tmp_path / "g.msgpack")
        if items is None:
            assert main(["validate", str(tmp_path / "g.msgpack")]) == 1
            assert f"node 'w' (time.tokenize_window): {said}" in capsys.readouterr().out
        else:                   # 100 us steps: the run makes 70,001 windows (the estimate: at most one more)
            assert len(grid_bounds(8 * 44100, 44100, "musicgen", Fraction(1), 1 - Fraction("0.9999"))) == items
            assert items <= estimate(g, base_dir=tmp_path).nodes["w"].shapes["out"].items <= items + 1


@pytest.mark.parametrize("rate, seconds, params", [
    (44100, 12.0, dict(unit="bars", size=1, bpm=93.7)),              # 4.69 bars: 4 whole ones
    (48000, 12.0, dict(unit="seconds", size=5.0)),                   # 2 whole, the 2 s left dropped
    (48000, 10.0, dict(unit="seconds", size=5.0)),                   # exactly 2: none dropped
    (44100, 9.0, dict(unit="seconds", size=2.0, overlap=0.5)),       # starts every 1.5 s
    (32000, 7.3, dict(unit="tokens", size=100, overlap=20)),         # MusicGen's 50 tokens/s
])
def test_the_estimate_counts_the_windows_last_drop_keeps(tmp_path, capsys, rate, seconds, params):
    """QA88 D6: with last=drop the estimate counted the short last window the run drops, so an export of
    each window was estimated one file more and --max-files refused a run that fitted."""
    from nodeflow import Graph, save
    from nodeflow.costs import estimate
    import soundfile as sf
    sf.write(tmp_path / "take.wav", noise(seconds, rate).samples.T, rate)
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "take.wav"))
    g.add("time.tokenize_window", id="w", last="drop", **params)
    g.add("io.export", id="export", path="win.wav")
    g.connect("load", "w")
    g.connect("w", "export")
    made = tokenize_window.fn(noise(seconds, rate), last="drop", **params)
    assert estimate(g, base_dir=tmp_path).nodes["w"].shapes["out"].items == len(made)
    save(g, tmp_path / "g.msgpack")
    out = tmp_path / "out"
    assert main(["run", str(tmp_path / "g.msgpack"), "-o", str(out), "-q", "--max-files", str(len(made))]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(f"win_{i + 1}.wav" for i in range(len(made)))


def test_a_typed_grid_over_the_tempo_the_audio_carries_is_said_with_the_fix(tmp_path):
    """QA91 D1: a loop tagged 97.5 bpm, cut in 2-bar windows at the default bpm=120, came out cut at 120
    and re-tagged 120 on export, without a word.  The run now says what the typed grid overrides and
    how to cut on the audio's; bpm=auto cuts there, and a typed grid that agrees says nothing."""
    import soundfile as sf
    from nodeflow import Graph
    from nodeflow.executor import Executor
    from nodes.io.export import export
    from nodes.io.load import load
    rate = 44100
    sf.write(tmp_path / "loop.wav", noise(12.0, rate, channels=2).samples.T, rate, subtype="FLOAT")
    (load(path=str(tmp_path / "loop.wav")) | export(path=str(tmp_path / "tagged.wav"), bpm=97.5, meter="3/4",
                                                    peak_db=None)).run()

    def cut(**grid):
        g = Graph()
        g.add("io.load", id="load", path=str(tmp_path / "tagged.wav"))
        g.add("time.tokenize_window", id="win", unit="bars", size=2, **grid)
        g.add("time.stitch", id="stitch")
        g.connect("load", "win")
        g.connect("win", "stitch")
        res = Executor().run(g, output_dir=tmp_path, keep=["win"])
        return res, [w.frames for w in next(iter(res.outputs["win"].values()))]

    res, frames = cut()
    said = " ".join(res.warnings.get("win", []))
    assert "bpm=120 where the audio carries 97.5 bpm and bars of 4/4 where it carries 3/4" in said, said
    assert "set bpm=auto and beats_per_bar=auto to cut on the audio's" in said
    assert frames[0] == round(8 * 60 / 120 * rate)          # what was typed is what was cut
    for grid in ({"bpm": "auto", "beats_per_bar": "auto"}, {"bpm": 97.5, "beats_per_bar": 3}):     # typed, agreeing
        res, frames = cut(**grid)
        assert not res.warnings, res.warnings
        assert frames[0] == round(Fraction(6 * 60 * rate) / Fraction("97.5"))     # 2 bars of 3/4 at 97.5
    whole = Audio(np.zeros((1, rate * 8), np.float32), rate).with_info(bpm="98", meter="3/4")   # ID3: whole bpm
    from nodes.timing.tempo import typed_over_carried
    assert typed_over_carried(whole, 97.5, 3) == "" and "carries 98 bpm" in typed_over_carried(whole, 96.0, 3)
    # QA94 D1: an eighth typed under an auto bar is a 3/8 bar; the fix names what was typed
    said = typed_over_carried(whole, None, None, 8)
    assert said.startswith("bars of 3/8 where it carries 3/4") and "set note_value=auto to cut" in said, said
    said = typed_over_carried(whole, None, 6, 8)
    assert "bars of 6/8 where it carries 3/4" in said and "set beats_per_bar=auto and note_value=auto" in said, said
    assert typed_over_carried(whole, None, 3, 4) == typed_over_carried(whole, "auto", None, None) == ""


def test_a_last_bar_line_just_past_the_clips_end_ends_the_window_where_the_clip_does():
    """QA99 D2: 8 bars of 7/8 at 123.5 bpm are 652955.46 frames at 48 kHz, the file 652955: the last window
    ended at the bar line, past the clip's last sample, and its windows stitched at 32 kHz made one frame
    more than the clip taken there whole (435304 for 435303)."""
    from fractions import Fraction

    from nodes.dsp.resample import resample
    from nodes.timing.stitch import stitch
    rate, frames = 48000, 652955
    clip = Audio(np.random.default_rng(3).uniform(-0.3, 0.3, (2, frames)).astype(np.float32), rate)
    windows = tokenize_window.fn(clip, unit="bars", size=1, bpm=123.5, beats_per_bar=7, note_value=8)
    assert len(windows) == 8 and windows[-1].span[1] == Fraction(frames, rate)
    assert windows[3].span[1] == 4 * Fraction(420, 247)     # a bar line inside the clip stays exact (3.5 beats)
    at_32k = stitch.fn([resample.fn(w, rate_hz=32000) for w in windows])
    assert at_32k.frames == resample.fn(clip, rate_hz=32000).frames == round(frames * 32000 / rate)


def test_the_estimate_counts_exactly_the_windows_the_run_cuts_at_any_tempo_meter_rate_and_length():
    """QA121 D1: 3 bars of 4/4 at 97.5 bpm, bounced to 325662 samples at 44.1 kHz (the grid puts the end at
    325661.54), were estimated as 4 windows, the last 0 s long: a fade or a loudness target on each window
    refused the graph (`validate`, `run`, `chain.run()`), naming a short last window the run never makes.
    The estimate now counts on the node's own bounds: 600 random cases of clips a whole number of bars long,
    a sample either side, and any length, in every unit and last-window policy."""
    import random
    from nodeflow.costs import Shape
    from nodes.timing.window import _estimate
    rng = random.Random(121)
    defaults = {k: s.default for k, s in tokenize_window.params.items()}
    for case in range(600):
        rate = rng.choice([8000, 22050, 32000, 44100, 48000, 88200, 96000])
        unit = rng.choice(["bars", "bars", "beats", "seconds", "tokens"])
        bpm = rng.choice([60.0, 87.3, 97.5, 120.0, 143.0, 174.0, round(rng.uniform(40, 240), 2)])
        beats, note = rng.choice([(4, 4), (3, 4), (7, 8), (6, 8), (5, 4)])
        size = {"tokens": rng.randint(5, 400), "seconds": round(rng.uniform(0.3, 6.0), 3)}.get(unit, rng.randint(1, 3))
        overlap = rng.choice([0, 0, size / 4 if unit != "tokens" else size // 4])
        params = dict(defaults, unit=unit, size=size, overlap=overlap, bpm=bpm, beats_per_bar=beats, note_value=note,
                      last=rng.choice(["keep", "pad", "drop"]))
        bar_s = beats * (4 / note) * 60 / bpm
        whole = round(rng.randint(1, 9) * bar_s * rate) + rng.choice([-1, 0, 0, 1])
        frames = rng.choice([whole, rng.randint(rate // 2, 20 * rate)])
        try:
            made = tokenize_window.fn(Audio(np.zeros((1, frames), np.float32), rate), **params)
        except AudioError:        # shorter than one window, last=drop: refused by the node (the estimate says 1)
            continue
        shape = _estimate({"audio": Shape(frames, 1, rate)}, params)["out"]
        assert shape.items == len(made), (case, rate, frames, params)
        if params["last"] == "keep":
            assert shape.shortest == min(w.frames for w in made), (case, rate, frames, params)
