"""Musical time: bar windows on the exact grid at any tempo, stitches that keep length and positions,
seams that do not click, and the README's chain keeping a 60 s piece 60 s long."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.nodes._signals import music, noise
from nodeflow.audio import Audio
from nodes.dsp.variation import variation
from nodes.timing.stitch import stitch
from nodes.timing.window import grid_bounds, tokenize_window

RATES = [8000, 22050, 32000, 44100, 48000, 96000]
tempi = st.floats(40.0, 240.0).map(lambda b: round(b, 3))       # fractional bpm, as typed (97.125)


def _bar_frame(k: int, bars: float, bpm: float, beats: int, rate: int) -> int:
    """Where bar window ``k`` must start, from scratch: round(k * bars * beats * 60 / bpm * rate)."""
    return round(Fraction(k) * Fraction(bars) * beats * 60 * rate / Fraction(bpm))


@settings(max_examples=150, deadline=None, database=None)
@given(bpm=tempi, beats=st.integers(2, 7), bars=st.sampled_from([1, 2, 4, 0.5]), rate=st.sampled_from(RATES),
       seconds=st.floats(1.0, 3600.0))
def test_every_bar_window_starts_on_the_exact_grid_frame_for_up_to_an_hour(bpm, beats, bars, rate, seconds):
    n = round(seconds * rate)
    size = Fraction(bars) * beats * 60 / Fraction(bpm)
    bounds = grid_bounds(n, rate, "musicgen", size, size)
    for k, (start, end, tokens) in enumerate(bounds):
        assert start == _bar_frame(k, bars, bpm, beats, rate)
        assert end == min(n, _bar_frame(k + 1, bars, bpm, beats, rate))
        assert tokens == -(-(end - start) * 50 // rate)            # the tokens that cover the window
    assert bounds[-1][1] == n


@pytest.mark.parametrize("bpm, beats, rate", [(128, 4, 32000), (133, 4, 32000), (97, 3, 44100), (174, 4, 48000),
                                              (80, 2, 44100), (150.5, 4, 22050)])
def test_the_node_cuts_bar_windows_on_the_grid(bpm, beats, rate):
    x = noise(1.0, rate).replace(np.zeros((1, rate * 300)))      # five minutes of frames
    wins = tokenize_window.fn(x, unit="bars", size=2, bpm=bpm, beats_per_bar=beats)
    for k, w in enumerate(wins):
        assert w.start_frame == _bar_frame(k, 2, bpm, beats, rate)
        assert dict(w.info) == {"bpm": f"{bpm:g}", "meter": f"{beats}/4"}
    assert sum(w.frames for w in wins) == x.frames
    if (bpm, rate) == (128, 32000):
        assert wins[32].start_frame == 3840000             # bar 64: was 6,999,552-style drift before (320 ms late)


@pytest.mark.parametrize("unit, size, overlap", [("beats", 3, 1), ("bars", 1, 0.25)])
def test_beats_and_overlaps_are_on_the_grid_too(unit, size, overlap):
    x = Audio(np.zeros(44100 * 20), 44100)
    wins = tokenize_window.fn(x, unit=unit, size=size, overlap=overlap, bpm=133.0, beats_per_bar=4)
    beats = size - overlap if unit == "beats" else (size - overlap) * 4
    for k, w in enumerate(wins):
        assert w.start_frame == round(Fraction(k) * Fraction(beats) * 60 * 44100 / 133)


@settings(max_examples=60, deadline=None, database=None)
@given(bpm=tempi, beats=st.integers(2, 7), rate=st.sampled_from([8000, 22050, 32000]),
       seconds=st.floats(2.0, 90.0), fade=st.sampled_from([None, 0.0, 0.005, 0.05, 0.25, 1.0]),
       seed=st.integers(0, 1000))
def test_windows_without_overlap_stitch_back_to_the_input_length_and_positions(bpm, beats, rate, seconds, fade, seed):
    x = noise(seconds, rate, seed=seed)
    wins = tokenize_window.fn(x, unit="bars", size=1, bpm=bpm, beats_per_bar=beats)
    y = stitch.fn(wins, fade_s=fade)
    assert (y.frames, y.start_frame) == (x.frames, x.start_frame)
    half = (0 if fade == 0.0 else x.frames_at(0.01 if fade is None else fade)) // 2 + 1
    keep = np.ones(x.frames, bool)                # away from every seam's fade, each sample is where it was
    for w in wins[1:]:
        keep[max(0, w.start_frame - half):w.start_frame + half] = False
    np.testing.assert_array_equal(y.samples[:, keep], x.samples[:, keep])
    assert [m for m, _ in y.markers] == [w.start_frame for w in wins[1:]]


def _clicks(y: Audio, windows: list[Audio], seams: list[int], source: Audio | None = None) -> int:
    """Seams where the stitched clip jumps from one sample to the next by more than 1.1 times what either
    window's own material does within 2 ms of its edge (a musical attack on the downbeat is not a
    click; a mended cut's smooth offset adds up to 7% there, a hard cut several times), the step into a
    window that is still its ``source`` there included (its attack, as the source has it at the bar line)."""
    w = y.sample_rate // 500
    d = np.abs(np.diff(y.samples, axis=1)).max(axis=0)
    count = 0
    for k, s in enumerate(seams, 1):
        own = max(np.abs(np.diff(windows[k - 1].samples[:, -w:], axis=1)).max(),
                  np.abs(np.diff(windows[k].samples[:, :w], axis=1)).max())
        if source is not None and np.array_equal(windows[k].samples[:, :w], source.samples[:, s:s + w]):
            own = max(own, np.abs(np.diff(source.samples[:, s - 1:s + 1], axis=1)).max())
        count += d[max(0, s - w):s + w].max() > own * 1.1
    return count


@pytest.mark.slow
@pytest.mark.parametrize("bpm, beats, seed", [(97.0, 4, 3), (133.0, 4, 2), (150.0, 3, 5)])
def test_transposed_bar_windows_stitch_without_clicks(bpm, beats, seed):
    """24 seams of a piece whose 1-bar windows are transposed one by one (Rubber Band): the default
    stitch adds no jump at any seam; a hard cut does at most of them (so this test can fail)."""
    rate = 32000
    x = music(bpm, beats, 60.0, rate, seed=seed, channels=1)
    wins = tokenize_window.fn(x, unit="bars", size=1, bpm=bpm, beats_per_bar=beats)[:25]
    varied = [variation.fn(w, pattern_semitones="0 5 -2 7 3") for w in wins]
    seams = [w.start_frame for w in wins[1:]]
    assert _clicks(stitch.fn(varied), varied, seams, x) == 0
    assert _clicks(stitch.fn(varied, fade_s=0.0), varied, seams, x) >= 12


@pytest.mark.slow
@pytest.mark.parametrize("bpm, beats, rate, seed, late_ms, pattern", [
    (150.0, 3, 32000, 5, 0.0, "0 5 -2 7"), (150.0, 3, 48000, 5, 4.0, "0 5 -2 7"),
    (133.0, 4, 44100, 2, 2.0, "0 5 -2 7 3")])
def test_transposed_bars_starting_on_a_kick_keep_its_level(bpm, beats, rate, seed, late_ms, pattern):
    """Bars transposed one by one and stitched, the band on the beat or playing behind it (every note
    ``late_ms`` after its beat: a kick 2-4 ms past the bar line): no seam lifts a hit above the level
    the two bars have there (the steps at the seams are the even mend's or the music's own:
    test_transposed_bar_windows_stitch_without_clicks).  The even mend rode its offset onto the kick: +1.49,
    +1.15 and +1.70 dB, the piece's peak over its bars' by as much (QA103)."""
    x = music(bpm, beats, 20.0, rate, seed=seed)
    x = Audio(np.roll(x.samples, round(late_ms * rate / 1000), axis=1), rate)
    wins = tokenize_window.fn(x, unit="bars", size=1, bpm=bpm, beats_per_bar=beats)
    varied = [variation.fn(w, pattern_semitones=pattern) for w in wins]
    y = stitch.fn(varied)
    m = rate // 100                                                 # 10 ms either side of each seam
    for k, w in enumerate(varied[1:], 1):
        s = w.start_frame
        bars = max(np.abs(varied[k - 1].samples[:, -m:]).max(), np.abs(w.samples[:, :m]).max())
        assert np.abs(y.samples[:, s - m:s + m]).max() <= bars * 1.0001, f"seam {k}"
    assert np.abs(y.samples).max() <= max(np.abs(v.samples).max() for v in varied) * 1.0001


@pytest.mark.slow
def test_the_readme_chain_keeps_a_60_s_piece_60_s_long(tmp_path):
    """load -> resample(musicgen) -> 2-bar windows -> per-window transposition -> stitch(0.25 s) -> export:
    the exported file is 60 s at 32 kHz, and each varied window starts where its bars were."""
    import soundfile as sf

    from nodes.dsp.resample import resample
    from nodes.io.export import export
    from nodes.io.load import load
    from nodes.timing.window import tokenize_window as tw

    src = tmp_path / "joplin-ish.wav"
    piece = music(100.0, 2, 60.0, 44100, seed=1)
    sf.write(src, piece.samples.T, 44100, subtype="PCM_24")
    chain = (load(path=str(src)) | resample(profile="musicgen") | tw(unit="bars", size=2, bpm=100, beats_per_bar=2)
             | variation(pattern_semitones="0 5 -2 7") | stitch(fade_s=0.25, curve="equal_power")
             | export(path=str(tmp_path / "out.flac"), loudness_lufs=-14))
    chain.run()
    info = sf.info(str(tmp_path / "out.flac"))
    assert (info.samplerate, info.frames) == (32000, 60 * 32000)


def _grid(k: int, bar: Fraction, rate: int) -> int:
    return round(k * bar * rate)


@pytest.mark.parametrize("rate, model_rate, bpm, cut_at_model_rate", [
    (44100, 32000, 133.0, False), (44100, 32000, 133.0, True), (44100, 24000, 127.3, False),
    (48000, 44100, 97.0, True), (44100, 32000, 141.0, True)])
def test_bar_windows_taken_to_a_models_rate_and_back_land_on_the_grid(rate, model_rate, bpm, cut_at_model_rate):
    """Windows cut on bar lines that fall between samples, resampled to a model's rate and back (or
    cut at the model's rate and brought to the project's): every window starts and ends on the grid's
    samples at the rate it comes back at, and the stitched piece has every seam on its bar line.
    Before windows kept their exact span, 5 to 8 of 16 windows started a sample off the grid and 8 to
    14 were 1-2 samples long or short."""
    from nodes.dsp.resample import resample

    x = music(bpm, 4, 40.0, rate, seed=4, channels=2)
    src = resample.fn(x, rate_hz=model_rate, profile="custom") if cut_at_model_rate else x
    wins = tokenize_window.fn(src, unit="bars", size=2, bpm=bpm)
    if not cut_at_model_rate:
        wins = [resample.fn(w, rate_hz=model_rate, profile="custom") for w in wins]
    back = [resample.fn(w, rate_hz=rate, profile="custom") for w in wins]
    two_bars = Fraction(2 * 4 * 60) / Fraction(bpm)
    full = back[:-1]                                   # the last one ends where the piece does
    assert [w.start_frame for w in back] == [_grid(k, two_bars, rate) for k in range(len(back))]
    assert [w.start_frame + w.frames for w in full] == [_grid(k + 1, two_bars, rate) for k in range(len(full))]
    y = stitch.fn(back)
    assert y.frames == x.frames
    assert [m for m, _ in y.markers] == [_grid(k, two_bars, rate) for k in range(1, len(back))]


def test_a_windows_exact_span_is_dropped_where_a_node_moves_or_cuts_it():
    bar = Fraction(240, 133)
    w = tokenize_window.fn(noise(10.0, 44100), unit="bars", size=1, bpm=133.0)[1]
    assert w.span == (bar, 2 * bar) and w.exact_start == bar
    assert w.replace(w.samples * 0.5).span == (bar, 2 * bar)                  # a gain keeps it
    moved = w.replace(start_frame=w.start_frame + 1)
    assert moved.exact_start is None and moved.span[0] == Fraction(moved.start_frame, 44100)
    cut = w.replace(w.samples[:, :-10])
    assert cut.exact_start == bar and cut.exact_end is None
    y = stitch.fn(tokenize_window.fn(noise(10.0, 44100), unit="bars", size=1, bpm=133.0))
    assert y.marker_times[:2] == (bar, 2 * bar)                 # each seam's exact time, marker by marker
    assert y.replace(markers=y.markers[1:]).marker_times == ()   # markers changed without them: dropped


@pytest.mark.parametrize("bpm", [133.0, 127.3])
def test_seams_stay_on_the_grid_through_trim_concat_and_crossfade_at_another_rate(bpm):
    """A piece stitched at 32 kHz, then trimmed, joined to another (concat and crossfade: the second
    moves by whole samples) and taken to 48 kHz: every seam marker lands on its bar line at 48 kHz.
    Before, those nodes rebuilt the markers without their exact times: at 133 bpm 4 of
    11 seams of the trimmed piece and 10 of 26 of the joined ones were a sample off at 48 kHz."""
    from nodes.dsp.basic import concat, trim
    from nodes.dsp.crossfade import crossfade
    from nodes.dsp.resample import resample

    bar, r = Fraction(240) / Fraction(str(bpm)), 32000
    y = stitch.fn(tokenize_window.fn(noise(24.0, r), unit="bars", size=1, bpm=bpm))
    seams = [_grid(k, bar, r) for k in range(1, len(y.markers) + 1)]
    assert [f for f, _ in y.markers] == seams and all(t is not None for t in y.marker_times)

    def at_48k(a: Audio, times: list[Fraction]) -> None:
        up = resample.fn(a, rate_hz=48000, profile="custom")
        assert [f for f, _ in up.markers] == [round(t * 48000) - up.start_frame for t in times]

    cut = trim.fn(y, start_s=1.0, end_s=20.0)
    assert cut.start_frame == r and len(cut.marker_times) == len(cut.markers) > 5
    at_48k(cut, [k * bar for k in range(1, len(y.markers) + 1) if r <= seams[k - 1] < 20 * r])
    both = concat.fn(y, y, gap_s=0.0)
    at_48k(both, [k * bar for k in range(1, len(y.markers) + 1)]
           + [Fraction(y.frames, r) + k * bar for k in range(1, len(y.markers) + 1)])
    faded = crossfade.fn(y, y, duration_s=0.5)
    assert len(faded.markers) == 2 * len(y.markers) and faded.marker_times[-1] == Fraction(y.frames - r // 2, r) + len(y.markers) * bar
    at_48k(faded, [k * bar for k in range(1, len(y.markers) + 1)]
           + [Fraction(y.frames - r // 2, r) + k * bar for k in range(1, len(y.markers) + 1)])


@pytest.mark.parametrize("rate, model_rate", [(44100, 32000), (44100, 24000), (48000, 32000)])
def test_a_files_own_cue_markers_come_back_on_their_samples_from_a_models_rate(tmp_path, rate, model_rate):
    """A WAV's own cue markers (on its samples), taken to a model's rate and back and exported: the
    written file has every cue on the sample the source had it (before, 14 of 40 cues moved a
    sample through 32 kHz: each was scaled frame by frame, twice)."""
    import soundfile as sf

    from nodeflow.audiometa import Metadata, read_metadata, write_metadata
    from nodes.dsp.resample import resample
    from nodes.io.export import export
    from nodes.io.load import load

    src, out = tmp_path / "cues.wav", tmp_path / "out.wav"
    sf.write(src, music(133.0, 4, 20.0, rate, seed=6).samples.T, rate, subtype="PCM_24")
    cues = tuple(sorted({int(f) for f in np.random.default_rng(rate + model_rate).integers(1, 20 * rate, 40)}))
    write_metadata(src, "wav", Metadata(markers=tuple((f, f"cue {i}") for i, f in enumerate(cues))))
    (load(path=str(src)) | resample(rate_hz=model_rate, profile="custom") | resample(rate_hz=rate, profile="custom")
     | export(path=str(out))).run()
    assert [f for f, _ in read_metadata(out).markers] == list(cues)


@pytest.mark.slow
def test_a_graph_taking_bar_windows_through_a_models_rate_puts_every_seam_on_its_bar(tmp_path):
    """load (44.1 kHz, 133 bpm) -> resample(musicgen) -> 2-bar windows -> each back to 44.1 kHz -> stitch
    -> export as a graph run, twice (the second from the disk cache, spans read back from it): the file
    is as long as the source and its cue markers sit on the bar lines at 44.1 kHz."""
    import soundfile as sf

    from nodeflow.audiometa import read_metadata
    from nodeflow.diskcache import DiskCache
    from nodeflow.executor import Executor
    from nodes.dsp.resample import resample
    from nodes.io.export import export
    from nodes.io.load import load

    src, out = tmp_path / "133.wav", tmp_path / "out.wav"
    sf.write(src, music(133.0, 4, 30.0, 44100, seed=2).samples.T, 44100, subtype="PCM_24")
    chain = (load(path=str(src)) | resample(profile="musicgen") | tokenize_window(unit="bars", size=2, bpm=133)
             | resample(rate_hz=44100, profile="custom") | stitch() | export(path=str(out)))
    two_bars = Fraction(480, 133)
    for _ in range(2):           # a fresh executor each time: the second reads the disk cache
        chain.run(executor=Executor(disk_cache=DiskCache(tmp_path / "cache")))
        assert sf.info(str(out)).frames == 30 * 44100
        marks = [f for f, _ in read_metadata(out).markers if f]
        assert marks == [_grid(k, two_bars, 44100) for k in range(1, len(marks) + 1)] and len(marks) == 8


@pytest.mark.slow
def test_seams_stitched_at_a_models_rate_are_on_the_bar_lines_of_an_export_at_another(tmp_path):
    """Windows cut and stitched at MusicGen's 32 kHz, the piece exported at 48 kHz: every cue marker the
    file carries is on its bar line at 48 kHz (before, 8 of 22 at 133 bpm were a sample off: a seam's
    frame at 32 kHz was scaled, not its exact time)."""
    import soundfile as sf

    from nodeflow.audiometa import read_metadata
    from nodes.dsp.resample import resample
    from nodes.io.export import export
    from nodes.io.load import load

    src, out = tmp_path / "133.wav", tmp_path / "out.wav"
    sf.write(src, music(133.0, 4, 30.0, 44100, seed=5).samples.T, 44100, subtype="PCM_24")
    (load(path=str(src)) | resample(profile="musicgen") | tokenize_window(unit="bars", size=1, bpm=133)
     | stitch() | export(path=str(out), sample_rate="48000")).run()
    bar = Fraction(240, 133)
    marks = [f for f, _ in read_metadata(out).markers if f]
    assert sf.info(str(out)).samplerate == 48000 and len(marks) == 16
    assert marks == [_grid(k, bar, 48000) for k in range(1, len(marks) + 1)]


@pytest.mark.parametrize("bpm, rate", [(97.5, 44100), (133.0, 44100), (141.0, 48000)])
def test_a_bar_window_looped_with_concat_or_crossfade_starts_every_repetition_on_its_bar(bpm, rate):
    """QA58: a 4-bar window at 97.5 bpm (434215.385 samples) looped 16 times with concat came 6 samples
    short of 64 bars (+3 at 133 bpm), every repetition a little earlier than its bar: each join added
    its window's rounding.  Now repetition k starts at round(k * 4 bars), as tokenize_window cuts."""
    from nodes.dsp.basic import concat
    from nodes.dsp.crossfade import crossfade

    bar = Fraction(240) / Fraction(str(bpm))
    phrase = 4 * bar
    n = round(4 * phrase * rate)
    x = np.zeros(n)
    x[[round(k * bar * rate) for k in range(16)]] = 1.0        # a click on every bar line of the source
    w = tokenize_window.fn(Audio(x, rate), unit="bars", size=4, bpm=bpm)[0]
    assert w.frames == round(phrase * rate) and w.exact_end == phrase
    song = w
    for _ in range(15):
        song = concat.fn(song, w)
    assert song.frames == round(16 * phrase * rate) and song.span == (0, 16 * phrase)
    clicks = np.flatnonzero(song.samples[0] == 1.0)             # each repetition's bars where the window has them
    assert clicks.tolist() == [round(k * phrase * rate) + round(j * bar * rate) for k in range(16) for j in range(4)]
    faded = w                                                   # overlapped by a bar: 3 bars a repetition
    for _ in range(7):
        faded = crossfade.fn(faded, w, duration_s=float(bar), curve="linear")
    step = phrase - Fraction(round(float(bar) * rate), rate)    # the fade's whole samples
    assert faded.frames == round((7 * step + phrase) * rate) and faded.span == (0, 7 * step + phrase)
    clicks = set(np.flatnonzero(faded.samples[0] >= 0.999).tolist())   # bars 2 and 3 of each: no fade on them
    assert {round(k * step * rate) + round(j * bar * rate) for k in range(8) for j in (1, 2)} <= clicks


@pytest.mark.parametrize("bpm, rate, out_rate", [(133.0, 44100, 96000), (97.5, 48000, 44100), (141.0, 44100, 88200)])
def test_an_exported_pieces_bar_cues_come_back_on_the_grid_at_any_rate(tmp_path, bpm, rate, out_rate):
    """QA58: a piece stitched in bars and exported (cues 'bar 2', 'bar 3'... on its samples), loaded again
    and exported at another rate put a cue a sample off the bar line (519700 for 519699 at 96 kHz): a cue
    point holds only its sample, the bar line lay between two.  Its label, tempo and meter say where the
    bar line is; trimmed first, the cues still land on the grid."""
    import soundfile as sf

    from nodeflow.audiometa import read_metadata
    from nodes.dsp.basic import trim
    from nodes.io.export import export
    from nodes.io.load import load

    bar = Fraction(240) / Fraction(str(bpm))
    piece, again, cut = tmp_path / "piece.wav", tmp_path / "again.wav", tmp_path / "cut.wav"
    src = tmp_path / "src.wav"
    sf.write(src, music(bpm, 4, 12 * float(bar), rate, seed=8).samples.T, rate, subtype="PCM_24")
    (load(path=str(src)) | tokenize_window(unit="bars", size=1, bpm=bpm) | stitch()
     | export(path=str(piece))).run()
    written = [f for f, _ in read_metadata(piece).markers]
    assert written == [round(k * bar * rate) for k in range(1, len(written) + 1)] and len(written) >= 10
    (load(path=str(piece)) | export(path=str(again), sample_rate=str(out_rate))).run()
    assert [f for f, _ in read_metadata(again).markers] == [round(k * bar * out_rate) for k in range(1, len(written) + 1)]
    (load(path=str(piece)) | trim(start_s=float(2 * bar)) | export(path=str(cut), sample_rate=str(out_rate))).run()
    start = round(2 * bar * out_rate)                    # where the file starts: its time reference
    assert read_metadata(cut).time_reference == start
    assert [start + f for f, _ in read_metadata(cut).markers] == [round(k * bar * out_rate)
                                                                  for k in range(2, len(written) + 1)]
