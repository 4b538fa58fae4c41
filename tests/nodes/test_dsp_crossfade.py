"""dsp.crossfade and the fade curves behind it."""
from __future__ import annotations

import numpy as np
import pytest

from tests.nodes._signals import TOL, block_rms_db, noise, sine, sine_samples
from nodeflow.audio import Audio
from nodeflow.errors import AudioError, ParameterError
from nodes.dsp._curves import Curve, crossfade_gains
from nodes.dsp.basic import concat
from nodes.dsp.crossfade import crossfade

RATE = 32000
BLOCK = RATE // 10   # 100 ms level blocks: noise level estimates wobble about 0.1 dB


def _fade_region_levels(curve: str) -> np.ndarray:
    a, b = noise(2.0, RATE, seed=1), noise(2.0, RATE, seed=2)     # uncorrelated, both -20 dB
    y = crossfade.fn(a, b, duration_s=1.0, curve=curve)
    return block_rms_db(y.samples[0, RATE:2 * RATE], BLOCK)      # the second of the fade


def test_equal_power_keeps_uncorrelated_noise_at_constant_level():
    assert np.abs(_fade_region_levels("equal_power") - (-20.0)).max() < TOL["equal_power_db"]


def test_linear_dips_uncorrelated_noise_in_the_middle():
    middle = _fade_region_levels("linear")[4:6].mean()
    assert middle == pytest.approx(-23.0, abs=0.5)                  # sum of two half-amplitude noises


def test_linear_crossfade_of_identical_material_is_seamless():
    whole = sine_samples(330.0, 3 * RATE, RATE, channels=2)
    fade = RATE // 2
    a = Audio(whole[:, :2 * RATE], RATE)
    b = Audio(whole[:, 2 * RATE - fade:], RATE)                    # b repeats a's last half second
    y = crossfade.fn(a, b, duration_s=0.5, curve="linear")
    np.testing.assert_allclose(y.samples, whole, atol=TOL["roundtrip"])


@pytest.mark.parametrize("seconds_a, seconds_b, fade_s", [(1.0, 2.0, 0.5), (0.3, 0.3, 0.3), (1.0, 1.0, 0.0)])
def test_result_length_is_both_minus_the_fade(seconds_a, seconds_b, fade_s):
    y = crossfade.fn(noise(seconds_a, RATE), noise(seconds_b, RATE, seed=9), duration_s=fade_s)
    assert y.frames == round((seconds_a + seconds_b - fade_s) * RATE)


def test_zero_length_fade_is_concatenation():
    a, b = noise(0.5, RATE, seed=1, channels=2), noise(0.7, RATE, seed=2, channels=2)
    assert crossfade.fn(a, b, duration_s=0.0) == concat.fn(a, b)


def test_both_are_conformed_to_the_higher_rate():
    a = noise(1.0, RATE, seed=1, channels=2)
    y = crossfade.fn(a, sine(440.0, 1.0, 48000), duration_s=0.25)
    assert (y.sample_rate, y.channels, y.frames) == (48000, 2, 2 * 48000 - 48000 // 4)


def test_fade_longer_than_an_input_names_both_lengths():
    with pytest.raises(ParameterError) as info:
        crossfade.fn(noise(2.0, RATE), noise(0.5, RATE), duration_s=1.0)
    message = str(info.value)
    assert "duration_s=1" in message and "a 2.000 s" in message and "b 0.500 s" in message


def test_an_empty_clip_is_named_not_the_fade():
    """QA47: "shorten the fade to at most 0.000 s or pad the inputs" when b had no samples."""
    a, empty = sine(440, 1.0, 8000), Audio(np.zeros((1, 0)), 8000)
    with pytest.raises(AudioError, match=r"^crossfade: input 'b' is empty \(0 frames\), so there is nothing to "
                                         r"fade into; connect audio that has samples"):
        crossfade.fn(a, empty, duration_s=1.0)
    with pytest.raises(AudioError, match=r"input 'a' is empty .* nothing to fade from"):
        crossfade.fn(empty, a, duration_s=0.5)
    assert crossfade.fn(a, empty, duration_s=0.0).frames == a.frames


def test_channel_counts_that_cannot_be_matched_are_an_error():
    with pytest.raises(AudioError, match="crossfade: a has 2, crossfade: b has 3 channels"):
        crossfade.fn(noise(1.0, RATE, channels=2), noise(1.0, RATE, channels=3))


@pytest.mark.parametrize("curve", list(Curve))
def test_crossfade_gains_are_mirror_images(curve):
    fade_out, fade_in = crossfade_gains(101, curve)
    np.testing.assert_allclose(fade_out, fade_in[::-1], atol=1e-15)
    assert np.all(np.diff(fade_in) > 0)


def test_gain_laws():
    out_lin, in_lin = crossfade_gains(64, Curve.LINEAR)
    out_pow, in_pow = crossfade_gains(64, Curve.EQUAL_POWER)
    np.testing.assert_allclose(out_lin + in_lin, 1.0, atol=1e-15)
    np.testing.assert_allclose(out_pow ** 2 + in_pow ** 2, 1.0, atol=1e-15)


def test_the_later_clips_markers_move_with_it():
    a = noise(1.0, RATE, seed=1).replace(markers=((100, "a"),))
    b = noise(1.0, RATE, seed=2).replace(markers=((0, "bar 1"), (RATE // 2, "bar 2")))
    y = crossfade.fn(a, b, duration_s=0.25)
    assert y.markers == ((100, "a"), (RATE - RATE // 4, "bar 1"), (RATE - RATE // 4 + RATE // 2, "bar 2"))


def test_a_fade_as_long_as_the_shorter_clip_at_its_own_rate_runs():
    """QA103 D4: the editor holds a typed overlap at the shorter input's length; a 32 kHz clip of 1655 frames
    is 2482.5 frames at 48 kHz, its length there rounded to 2483, and the run refused the held value."""
    import random
    rnd = random.Random(3)
    for _ in range(300):
        ra, rb = rnd.choice([22050, 32000, 44100, 48000, 96000]), rnd.choice([16000, 24000, 32000, 44100, 48000])
        a = Audio(np.zeros((1, rnd.randrange(800, 40000)), np.float32), ra)
        b = Audio(np.zeros((1, rnd.randrange(800, 40000)), np.float32), rb)
        assert crossfade.fn(a, b, duration_s=min(a.duration_s, b.duration_s)).frames > 0      # (refused: raises)
    with pytest.raises(ParameterError, match="exceeds the input lengths"):     # two frames past it: refused
        crossfade.fn(Audio(np.zeros((1, 4800), np.float32), 48000), Audio(np.zeros((1, 4800), np.float32), 48000),
                     duration_s=4802 / 48000)
