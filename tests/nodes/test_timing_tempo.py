"""time.detect_tempo and bpm=auto: tempo and meter found in music rendered at odd tempi, carried to
later nodes, and explained when they cannot be found."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from tests.nodes._signals import music, noise
from nodeflow.audio import Audio
from nodeflow.errors import AudioError, ParameterError
from nodes.timing.tempo import detect_tempo
from nodes.timing.window import tokenize_window

pytest.importorskip("librosa")


@pytest.mark.parametrize("bpm, beats, rate", [(80, 4, 44100), (97, 3, 44100), (128, 4, 48000), (133, 4, 32000),
                                              (150, 3, 22050), (174, 4, 44100), (97.5, 4, 44100),
                                              (110, 5, 48000), (100, 7, 44100)])    # 5/4 was found as 3/4 (QA)
def test_tempo_and_meter_are_found_in_music(bpm, beats, rate):
    clip = detect_tempo.fn(music(bpm, beats, 30.0, rate, seed=2))
    info = dict(clip.info)
    assert abs(float(info["bpm"]) - bpm) / bpm < 0.005
    if float(bpm).is_integer():
        assert float(info["bpm"]) == bpm          # whole tempi exactly: no drift of the bar grid
    assert info["meter"] == f"{beats}/4"


def test_bpm_auto_windows_follow_the_detected_tempo():
    x = music(133.0, 4, 40.0, 32000, seed=4)
    wins = tokenize_window.fn(x, unit="bars", size=2, bpm="auto", beats_per_bar="auto")
    found = float(dict(wins[0].info)["bpm"])
    assert abs(found - 133.0) < 0.7
    for k, w in enumerate(wins):
        assert w.start_frame == round(k * 2 * 4 * Fraction(60) / Fraction(str(found)) * 32000)


def test_a_tempo_the_audio_carries_is_used_without_detection():
    x = Audio(np.zeros(44100 * 10), 44100).with_info(bpm="97.5", meter="3/4")   # e.g. from a file's tags
    wins = tokenize_window.fn(x, unit="bars", size=1, bpm="auto", beats_per_bar="auto")
    assert wins[1].start_frame == round(Fraction(3 * 60 * 44100) / Fraction(195, 2))
    assert dict(wins[1].info) == {"bpm": "97.5", "meter": "3/4"}


def test_typed_parameters_override_what_is_detected():
    clip = detect_tempo.fn(music(128, 4, 20.0, 44100), bpm=64.0, beats_per_bar=7)
    assert dict(clip.info) == {"bpm": "64", "meter": "7/4"}


@pytest.mark.parametrize("clip, needle", [(Audio(np.zeros(44100 * 2), 44100), "at least 4 s"),
                                          (Audio(np.zeros(44100 * 8), 44100), "silent")])
def test_what_has_no_beat_gets_one_clear_line(clip, needle):
    with pytest.raises(AudioError) as info:
        detect_tempo.fn(clip)
    assert needle in str(info.value) and "bpm=" in str(info.value)


def test_bpm_auto_is_accepted_from_text_and_refused_for_words():
    from nodeflow import Graph
    g = Graph()
    n = g.add("time.tokenize_window", bpm="auto")
    assert g.nodes[n.id].params["bpm"] is None
    with pytest.raises(ParameterError, match="expected a number or auto"):
        g.add("time.tokenize_window", bpm="fast")


def test_a_note_value_alone_counts_the_detected_bar_in_those_notes():
    """detect_tempo(note_value=8) on a 6/8 loop said 3/8: the detected bar (three quarter notes) is six eighths."""
    pytest.importorskip("librosa")
    from tests.nodes._signals import music
    from nodes.timing.tempo import detect_tempo
    clip = music(100.0, 3, 30.0, 22050, channels=1)        # three quarter notes a bar at 100 bpm
    meter = dict(detect_tempo.fn(clip, note_value=8).info)["meter"]
    assert meter == "6/8", meter
