"""``time.stitch`` and windows of a few frames between others (blips: another take's frames left by a trim or a
rounding).  Cuts that close were mended one by one, each with a frame or two of room, and clicked (QA105, QA107);
now a blip becomes its neighbour's continuation and the one cut left is mended as any other edit."""
from __future__ import annotations

import numpy as np
import pytest

from tests.nodes._signals import music
from nodeflow.audio import Audio
from nodes.dsp.basic import gain, trim
from nodes.timing.stitch import join_windows, stitch
from nodes.timing.window import tokenize_window


def sine(f: float, frames: int, phase: float, rate: int) -> Audio:
    return Audio((0.5 * np.sin(2 * np.pi * f * np.arange(frames) / rate + phase))[None].astype(np.float32), rate)


def largest_step(y: Audio) -> float:
    return float(np.abs(np.diff(y.samples.astype(np.float64), axis=1)).max())


@pytest.mark.parametrize("rate", [8000, 44100, 48000, 96000])
def test_a_window_of_a_frame_or_two_between_others_is_mended_as_any_other(rate):
    """QA105: a 2-frame window between two that abut raised a broadcast error; then it stitched, but the
    cuts either side of a window of 1 to 40 frames stepped up to 28.6 times the music's largest step."""
    own = 0.5 * 2 * np.pi * 440 / rate                 # the largest step of the music either side
    ms = rate / 1000
    for frames in sorted({1, 2, 3, 5, round(ms / 3), round(ms), round(1.5 * ms), round(2 * ms) - 1, round(2 * ms),
                          round(3 * ms)} - {0}):
        for phase in (0.0, 1.0, 2.5, 4.0):
            a, c = sine(220, rate, 0.0, rate), sine(440, rate, 2.0 + phase, rate)
            y = stitch.fn([a, sine(330, frames, phase, rate), c])
            assert y.frames == 2 * rate + frames and np.isfinite(y.samples).all()
            away = rate // 50                                                       # 20 ms
            assert np.array_equal(y.samples[:, :rate - away], a.samples[:, :rate - away])
            assert np.array_equal(y.samples[:, rate + frames + away:], c.samples[:, away:])
            assert largest_step(y) <= 1.1 * own, (frames, phase, largest_step(y) / own)
            assert np.abs(y.samples).max() <= 0.55, (frames, phase)         # a mend's offset, no more


def test_blips_before_a_window_of_a_millisecond_or_more_do_not_click():
    """QA107 D1: a blip followed by a window of 1-5 ms: the mend after that window reached back to the
    blip's cut and left it unmended (steps of 14-24 times the music's)."""
    r = 44100
    own = 0.5 * 2 * np.pi * 440 / r
    for mid in ((1, 60), (2, 100), (1, 45), (8, 150)):
        for phase in (0.0, 2.6):
            y = stitch.fn([sine(220, r, 0, r), sine(330, mid[0], phase, r), sine(440, mid[1], phase + 2, r),
                           sine(440, r, phase + 2.5, r)])
            assert largest_step(y) <= 1.1 * own, (mid, phase)
            assert np.abs(y.samples).max() <= 0.55


@pytest.mark.parametrize("rate", [22050, 32000, 44100, 96000])
def test_windows_either_side_of_the_blip_length_do_not_click(rate):
    """QA109 D5: windows of 1.0-1.1 ms (44 frames at 44.1 kHz, 22 at 22.05 kHz), just over what was a blip,
    were mended one by one and stepped 1.6-2.4 times the music's largest step."""
    def s(f, n, phase):
        return Audio((0.5 * np.sin(2 * np.pi * f * np.arange(n) / rate + phase))[None].astype(np.float32), rate)
    for n in range(max(1, rate // 1000 - 3), rate // 500 + 8, 3):
        ws = [s(220, rate // 2, 22.0), s(220 * 2 ** (2 / 12), n, 12.0 + n), s(220 * 2 ** (4 / 12), rate // 2, 2.0 + n)]
        y = stitch.fn(ws)
        assert largest_step(y) <= 1.1 * max(largest_step(w) for w in ws), n


def test_a_long_run_of_short_windows_is_music_and_kept():
    """QA109 D1: 25 windows of 40 frames (each under 2 ms, 23 ms in all) of one tone were taken for blips and
    filled from the window before, mirrored, then silent: 900 frames of zeros in a held 440 Hz tone."""
    r = 44100

    def s(n, at, amp=0.5):
        return Audio((amp * np.sin(2 * np.pi * 440 * (np.arange(n) + at) / r))[None].astype(np.float32), r)
    ws = [s(r, 0), s(50, r)] + [s(40, r + 50 + 40 * i, 0.45 if i % 2 else 0.5) for i in range(25)] + [s(r, r + 1050)]
    y = stitch.fn(ws).samples[0, r:r + 1050]
    assert not (y == 0).any() and np.sqrt(np.mean(y[-300:] ** 2)) > 0.3


def test_a_piece_under_one_gain_stitches_to_the_source_under_it_exactly():
    """QA109 D2: every bar under -3 dB, the piece's last window 3 frames long: the 3 frames were taken for a
    blip and replaced (0.015 off); gain then stitch is stitch then gain, to the bit."""
    x = music(120.0, 4, 4.0, 48000, seed=2)
    x = Audio(x.samples[:, :3 * 48000 + 3], 48000)
    y = stitch.fn([gain.fn(w, gain_db=-3.0) for w in tokenize_window.fn(x, size=1.0)])
    assert np.array_equal(y.samples, gain.fn(x, gain_db=-3.0).samples)


def test_a_run_of_blips_lifts_nothing():
    """QA107 D2: several windows of a few frames mended together lifted a sine at 0.5 to 1.07 (+6.6 dB, over
    full scale once exported)."""
    r = 44100
    own = 0.5 * 2 * np.pi * 440 / r
    for mid in ((1, 40), (3, 40), (5,) * 10, (1, 1, 1, 30)):
        y = stitch.fn([sine(220, r, 0, r)] + [sine(330 + 50 * i, n, 2.6 + i, r) for i, n in enumerate(mid)]
                      + [sine(440, r, 5.1, r)])
        assert y.frames == 2 * r + sum(mid)
        assert np.abs(y.samples).max() <= 0.55 and largest_step(y) <= 1.1 * own, mid


def test_a_rest_beside_blips_stays_a_rest():
    """QA107 D4: a rest before a blip swelled to 0.225 in its last 5 ms (and clicked before that)."""
    r = 44100
    rest = Audio(np.zeros((1, r), np.float32), r)
    for n in (1, 3, 8):
        y = stitch.fn([rest, sine(330, n, 1.0, r), sine(440, r, 1.3, r)])
        assert not y.samples[:, :r + n].any()                           # the rest, and the blip in it: silent
        assert largest_step(y) <= 1.1 * 0.5 * 2 * np.pi * 440 / r       # the note comes in without a click
        y = stitch.fn([sine(440, r, 1.3, r), sine(330, n, 1.0, r), rest])
        assert not y.samples[:, r + n:].any()


def test_a_hit_after_blips_keeps_its_level():
    """QA107 D3: comped bars with a blip before the next bar lifted its downbeat kick by 1.1 dB; with the blip
    the kick is as it is, and the bar before bends as it does with no blip (an edit to a bar as its source
    starts it)."""
    r = 44100
    w = tokenize_window.fn(music(97.0, 3, 12.0, r, seed=3), unit="bars", size=1.0, bpm=97.0, beats_per_bar=3)
    kick = np.abs(w[3].samples[:, :482]).max()
    plain, _ = join_windows([w[0], w[1], w[3], w[4]], _end_to_end([w[0], w[1], w[3]]), None, default_frames=441)
    c = w[0].frames + w[1].frames
    for short in ((1,), (8,), (30,), (1, 40)):
        ws = [w[0], w[1]] + [trim.fn(w[5 + i], start_s=0, end_s=n / r) for i, n in enumerate(short)] + [w[3], w[4]]
        y = stitch.fn(ws)
        e = c + sum(short)
        assert np.abs(y.samples[:, e:e + 482]).max() == pytest.approx(kick, abs=1e-6), short
        assert np.abs(y.samples[:, c - 441:c]).max() <= np.abs(plain[:, c - 441:c]).max() + 1e-6
        assert np.array_equal(y.samples[:, :c - 441], plain[:, :c - 441])


def _end_to_end(ws: list[Audio]) -> list[int]:
    return [int(p) for p in np.cumsum([0] + [w.frames for w in ws])]


def test_blips_at_either_end_of_the_list_are_their_neighbours_continuation():
    """QA107 D5: blips first or last still stepped 2-4 times the music's largest step."""
    r = 44100
    own = 0.5 * 2 * np.pi * 440 / r
    for n in (1, 3):
        for ws in ([sine(440, r, 0, r), sine(330, n, 1, r), sine(330, n, 2, r)],
                   [sine(330, n, 1, r), sine(330, n, 2, r), sine(440, r, 0, r)]):
            y = stitch.fn(ws)
            assert y.frames == r + 2 * n and largest_step(y) <= 1.1 * own
            assert np.abs(y.samples).max() <= 0.5 + 1e-6


def test_noise_around_blips_is_not_lifted():
    """QA107 D6: noise either side of a blip rose from a peak of 0.61 to 0.85-0.90 (its own steps taken for the
    cut's)."""
    rng = np.random.default_rng(0)
    r = 44100
    for n in (1, 3, 20):
        ws = [Audio((0.2 * rng.standard_normal((1, k))).astype(np.float32), r) for k in (r, n, r)]
        y = stitch.fn(ws)
        assert np.abs(y.samples).max() <= max(np.abs(w.samples).max() for w in ws) + 1e-6


def test_a_run_of_blips_in_stereo_music_stitches_without_a_click():
    """Blips of 1 to 7 frames in a row between bars of stereo music (another take's frames each): the bars
    either side are the same sample for sample 10 ms away, and no frame steps more than the music does."""
    x = music(97.0, 3, 4.0, 44100, seed=3)
    other = music(131.0, 4, 4.0, 44100, seed=8).samples
    cut, short = 2 * 44100, (2, 1, 7, 3)
    pieces = [Audio(x.samples[:, :cut], 44100)]
    at = cut
    for n in short:
        pieces.append(Audio(other[:, at:at + n].copy(), 44100))
        at += n
    pieces.append(Audio(x.samples[:, at:], 44100))
    y = stitch.fn(pieces)
    assert y.frames == x.frames
    m = 441                                                                      # 10 ms
    assert np.array_equal(y.samples[:, :cut - m], x.samples[:, :cut - m])
    assert np.array_equal(y.samples[:, at + m:], x.samples[:, at + m:])
    own = max(np.abs(np.diff(x.samples[:, cut - m:cut], axis=1)).max(),
              np.abs(np.diff(x.samples[:, at:at + m], axis=1)).max())
    assert np.abs(np.diff(y.samples[:, cut - m:at + m], axis=1)).max() <= 1.1 * own


def test_a_window_as_the_source_cut_it_is_kept_however_short():
    """A piece's last window of 3 frames that still has the edges it was cut with is the source itself:
    joined exactly, never replaced; under another gain than the bar before it, it is a blip like any other."""
    x = music(120.0, 4, 4.0, 48000, seed=2)
    x = Audio(x.samples[:, :3 * 48000 + 3], 48000)
    wins = tokenize_window.fn(x, size=1.0)
    assert [w.frames for w in wins] == [48000, 48000, 48000, 3]
    y = stitch.fn(wins)
    assert np.array_equal(y.samples, x.samples)
    y = stitch.fn([gain.fn(w, gain_db=-3.0) for w in wins[:-1]] + wins[-1:])
    assert y.frames == x.frames and largest_step(y) <= largest_step(x)


@pytest.mark.parametrize("rate", [44100, 48000])
def test_a_blip_that_is_the_source_beside_one_neighbour_is_mended_across_to_the_other(rate):
    """QA110 D1: a bar's first frame (still the source: it continues the bar before) and then another take's bar:
    the cut after it had no room and stayed raw (0.109, 14 times the music's step there); so did the mirror case,
    another take's bar and then the frames just before a bar as cut.  Now each is one cut, mended across the
    blip into the window it continues; past the mend, the source is the source, to the bit."""
    x, o = music(120.0, 4, 4.0, rate, seed=2), music(120.0, 4, 4.0, rate, seed=7)
    w, wo = tokenize_window.fn(x, size=1.0), tokenize_window.fn(o, size=1.0)
    two_ms = rate // 500
    for n in (1, 3, 5, 20):
        first = trim.fn(w[2], start_s=0, end_s=n / rate)                 # bar 2's first frames, then bar 3 of o
        y = stitch.fn([w[0], w[1], first, wo[3].replace(start_frame=2 * rate + n)]).samples
        c = 2 * rate + n
        own = max(np.abs(np.diff(x.samples[:, c - 1 - two_ms:c - 1])).max(),
                  np.abs(np.diff(o.samples[:, c:c + two_ms])).max())
        assert np.abs(np.diff(y[:, c - 1:c + 1])).max() <= 1.1 * own, n
        assert np.array_equal(y[:, :2 * rate - 300], x.samples[:, :2 * rate - 300])
        last = trim.fn(w[2], start_s=(rate - n) / rate, end_s=None)      # o's bar 2, then bar 2's last frames
        head = trim.fn(wo[2], start_s=0, end_s=(rate - n) / rate)
        y = stitch.fn([wo[0], wo[1], head, last.replace(start_frame=3 * rate - n), w[3]]).samples
        c = 3 * rate - n
        own = max(np.abs(np.diff(o.samples[:, c - two_ms:c])).max(), np.abs(np.diff(x.samples[:, c:c + two_ms])).max())
        assert np.abs(np.diff(y[:, c - 1:c + 1])).max() <= 1.1 * own, n
        assert np.array_equal(y[:, 3 * rate + 300:], x.samples[:, 3 * rate + 300:])     # past the mend: as is


def test_a_piece_of_a_few_frames_in_windows_of_a_few_frames_stitches():
    """Found fuzzing the blips (and on the code before them): windows of 1-10 frames making a piece of under 20
    raised a NumPy broadcast error: the mend's kink tent (8 frames each side) had no room at the piece's start."""
    rng = np.random.default_rng(1)
    for lengths in ([10, 2, 10, 5, 5, 1], [1, 1, 0, 3, 5, 40], [3, 3, 5, 10, 2, 5], [2, 5, 5, 3, 0]):
        ws = [Audio((0.5 * rng.standard_normal((1, n))).astype(np.float32), 48000) for n in lengths]
        y = stitch.fn(ws)
        assert y.frames == sum(lengths) and np.isfinite(y.samples).all()


def test_overlapping_windows_whose_last_was_trimmed_short_stitch_whole():
    """Found fuzzing (the code before this stop too): windows cut with overlap, the last one trimmed to a few
    frames, raised a NumPy broadcast error, the window before it reaching past the last one's end.  The piece
    ends where the last window ends, as always: the window before it is cut there."""
    for rate in (22050, 44100):
        x = music(97.0, 3, 3.0, rate, seed=4)
        ws = tokenize_window.fn(x, size=0.25, overlap=0.05)
        last = trim.fn(ws[-1], start_s=0, end_s=12 / rate)
        y = stitch.fn(ws[:-1] + [last])
        end = last.start_frame + last.frames
        assert ws[-2].start_frame + ws[-2].frames > end                   # the window before reaches further
        assert y.frames == end and np.isfinite(y.samples).all()
        assert np.array_equal(y.samples[:, end - 200:end], x.samples[:, end - 200:end])      # the source there
