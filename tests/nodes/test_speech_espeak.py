"""speech.espeak: real espeak-ng speech, offline: speech-length audio that grows with the text, energy,
speed and pitch that do what they say, voices checked against what is installed, in a graph."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from nodeflow import Executor, Graph, audiometa
from nodeflow.errors import ExecutionError

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")

SHORT = "Four bars of drums."
LONG = ("Four bars of drums, then the bass comes in, and after a long break the whole band plays the theme "
        "again, louder and faster than before, until the very last chord rings out.")


def speak(**params):
    g = Graph()
    g.add("speech.espeak", id="speech", **params)
    return Executor().run(g)["speech"]["out"]


def words_s(text: str, wpm: int) -> float:
    return len(text.split()) * 60.0 / wpm


def voiced_fraction(x: np.ndarray, rate: int) -> float:
    frame = rate // 50
    n = x.size // frame
    rms = np.sqrt((x[:n * frame].reshape(n, frame) ** 2).mean(axis=1))
    return float((rms > 0.01).mean())


def f0_hz(x: np.ndarray, rate: int) -> float:
    """Median fundamental of the loud frames, by autocorrelation (60-400 Hz)."""
    frame, out = int(0.04 * rate), []
    for i in range(0, x.size - frame, frame):
        seg = x[i:i + frame] - x[i:i + frame].mean()
        if np.sqrt(np.mean(seg ** 2)) < 0.05:
            continue
        ac = np.correlate(seg, seg, "full")[frame - 1:]
        lo, hi = rate // 400, rate // 60
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] > 0.3 * ac[0]:
            out.append(rate / lag)
    return float(np.median(out))


def test_speech_has_speech_length_and_energy():
    short, long = speak(text=SHORT), speak(text=LONG)
    for audio, text in ((short, SHORT), (long, LONG)):
        assert (audio.sample_rate, audio.channels) == (22050, 1)
        expected = words_s(text, 175)
        assert 0.5 * expected <= audio.duration_s <= 1.6 * expected + 0.5, (audio.duration_s, expected)
        x = audio.samples[0]
        assert 20 * np.log10(np.sqrt(np.mean(x ** 2))) > -30.0       # loud enough to be speech, not noise
        assert voiced_fraction(x, audio.sample_rate) > 0.5            # sound most of the time, with pauses
    assert long.duration_s > 4 * short.duration_s                     # 32 words vs 4


def test_speed_and_pitch_do_what_they_say():
    normal, fast = speak(text=LONG), speak(text=LONG, speed_wpm=350)
    assert 0.4 <= fast.duration_s / normal.duration_s <= 0.75
    low, high = speak(text=LONG, pitch=10), speak(text=LONG, pitch=90)
    assert f0_hz(high.samples[0], 22050) > 1.3 * f0_hz(low.samples[0], 22050)


def test_sample_rate_and_voices():
    a = speak(text=SHORT, sample_rate_hz=16000)
    ref = speak(text=SHORT)
    assert a.sample_rate == 16000 and abs(a.frames - ref.frames * 16000 / 22050) <= 2
    de = speak(text="Vier Takte Schlagzeug.", voice="de")
    assert dict(de.info)["speech_voice"] == "de" and dict(de.info)["speech_engine"].startswith("espeak-ng")
    assert speak(text=SHORT, voice="en+f3").frames > 0


@pytest.mark.parametrize("params,words", [
    (dict(voice="martian"), "espeak-ng has no voice 'martian'"),
    (dict(voice="en+nosuchvariant"), "no variant 'nosuchvariant'"),
    (dict(text="   "), "text is empty"),
])
def test_bad_input_is_one_clear_error(params, words):
    with pytest.raises(ExecutionError, match=words):
        speak(**{"text": SHORT, **params})


def test_text_is_never_read_as_options_or_markup():
    plain = speak(text="--help <speak>hello</speak>")
    assert plain.duration_s > 1.0                                      # spoken, not interpreted


def test_speech_exports_with_its_provenance(tmp_path):
    g = Graph()
    s = g.add("speech.espeak", id="speech", text=SHORT)
    e = g.add("io.export", id="export", path=str(tmp_path / "speech.wav"))
    g.connect(s.out, e.audio)
    res = Executor().run(g)
    tags = audiometa.read_tags(res["export"]["out"])
    assert tags["speech_voice"] == "en" and tags["speech_engine"].startswith("espeak-ng")


def test_speech_streams_while_espeak_is_still_speaking_and_the_pieces_are_the_file(tmp_path):
    """Pieces leave while espeak-ng speaks (before the node is done), concatenate to exactly the
    result, and the result is what espeak-ng writes to a file itself (read by libsndfile)."""
    import subprocess

    import soundfile as sf

    text = " ".join([LONG] * 6)
    g = Graph()
    g.add("speech.espeak", id="speech", text=text)
    events = []
    pieces = list(Executor().stream(g, "speech", on_event=lambda ev: events.append((ev.kind, ev.node_id))))
    whole = Executor().run(g)["speech"]["out"]
    assert len(pieces) >= 3
    assert [p.start_frame for p in pieces] == list(np.cumsum([0] + [p.frames for p in pieces[:-1]]))
    np.testing.assert_array_equal(np.concatenate([p.samples for p in pieces], axis=1), whole.samples)
    kinds = [k for k, n in events if n == "speech"]
    assert kinds[-1] == "finished" and kinds.count("chunk") == len(pieces) >= 3   # handed on before it finished
    ref = tmp_path / "ref.wav"
    subprocess.run(["espeak-ng", "-v", "en", "-s", "175", "-p", "50", "-b", "1", "-w", str(ref), "--stdin"],
                   input=text.encode(), check=True)
    data, rate = sf.read(str(ref), dtype="float32", always_2d=True)
    assert rate == whole.sample_rate
    np.testing.assert_array_equal(whole.samples, data.T)


def test_streamed_speech_at_another_rate_is_the_one_shot_resample():
    from nodeflow.audio import Audio
    from nodes.dsp._conform import resample_audio

    g = Graph()
    g.add("speech.espeak", id="speech", text=LONG, sample_rate_hz=48000)
    pieces = list(Executor().stream(g, "speech"))
    out = Executor().run(g)["speech"]["out"]
    native = speak(text=LONG)
    assert out.sample_rate == 48000 and out.frames == round(native.frames * 48000 / native.sample_rate)
    np.testing.assert_array_equal(np.concatenate([p.samples for p in pieces], axis=1), out.samples)
    np.testing.assert_array_equal(out.samples, resample_audio(Audio(native.samples, native.sample_rate), 48000).samples)
