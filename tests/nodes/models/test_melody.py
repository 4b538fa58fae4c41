"""models.musicgen_melody: the melody's chroma conditions the music; any rate, looped, long-form."""
from __future__ import annotations

import numpy as np
import pytest

from nodeflow.errors import ExecutionError
from nodes.models._chroma import chroma, chroma_frames

from .helpers import run_model, sine

RATE = 32000


def _notes(freqs: list[float], note_s: float, rate: int) -> np.ndarray:
    return np.concatenate([sine(f, note_s, rate) for f in freqs], axis=1)


@pytest.mark.parametrize("freq,pitch_class", [(440.0, 9), (261.63, 0), (392.0, 7), (311.13, 3)])
def test_chroma_names_the_pitch_class(freq, pitch_class):
    c = chroma(sine(freq, 1.0, RATE)[0], RATE)
    assert c.shape == (chroma_frames(RATE), 12)
    assert np.all(c.numpy().argmax(-1) == pitch_class)
    assert np.all(c.numpy().sum(-1) == 1.0)                    # one-hot per frame


def test_real_window_has_the_checkpoints_chroma_length():
    assert chroma_frames(30 * RATE) == 235                      # facebook/musicgen-melody: chroma_length=235


def test_melody_conditioning_changes_the_output(tiny, tmp_path):
    kw = dict(checkpoint=str(tiny["musicgen_melody_short"]), duration_s=1.0, seed=7, prompt="piano melody")
    up = _notes([261.63, 329.63, 392.0, 523.25], 0.5, 44100)    # C E G C at 44.1 kHz: resampled by the node
    down = _notes([493.88, 369.99, 293.66, 246.94], 0.5, 44100)  # B F# D B
    a = run_model("models.musicgen_melody", tmp_path, audio={"melody": (up, 44100)}, **kw)
    a2 = run_model("models.musicgen_melody", tmp_path, audio={"melody": (up, 44100)}, **kw)
    b = run_model("models.musicgen_melody", tmp_path, audio={"melody": (down, 44100)}, **kw)
    assert (a.sample_rate, a.frames) == (RATE, RATE)
    assert np.array_equal(a.samples, a2.samples)
    assert np.abs(a.samples - b.samples).max() > 0.05


def test_melody_loops_under_a_long_form_piece(tiny, tmp_path):
    """A 0.4 s stereo melody at 48 kHz under 2.6 s of music (several 1 s windows): exact length."""
    melody = np.stack([sine(440.0, 0.4, 48000)[0], sine(660.0, 0.4, 48000)[0]])
    out = run_model("models.musicgen_melody", tmp_path, audio={"melody": (melody, 48000)},
                    checkpoint=str(tiny["musicgen_melody_short"]), duration_s=2.6, extend_stride_s=0.5, seed=1)
    assert (out.sample_rate, out.channels, out.frames) == (RATE, 1, round(2.6 * RATE))


def test_melody_with_a_prompt_to_continue(tiny, tmp_path):
    prompt = sine(220.0, 0.5, RATE)
    out = run_model("models.musicgen_melody", tmp_path,
                    audio={"melody": (sine(330.0, 1.0, RATE), RATE), "prompt_audio": (prompt, RATE)},
                    checkpoint=str(tiny["musicgen_melody_short"]), duration_s=0.8, extend_stride_s=0.5, seed=1)
    assert out.frames == prompt.shape[1] + round(0.8 * RATE)
    assert np.array_equal(out.samples[:, :RATE // 4], prompt[:, :RATE // 4])


def test_silent_melody_is_one_clear_error(tiny, tmp_path):
    with pytest.raises(ExecutionError, match="melody is silent"):
        run_model("models.musicgen_melody", tmp_path, audio={"melody": (np.zeros((1, RATE), np.float32), RATE)},
                  checkpoint=str(tiny["musicgen_melody_short"]), duration_s=0.5)



def _spy_on_chroma(monkeypatch) -> list[np.ndarray]:
    """Record the melody segment each generation window is conditioned on (the real chroma still
    runs).  The tiny random model is too weakly conditioned for its output to show which part of
    the melody a window heard, so the test looks at what the node hands to the chroma."""
    from nodes.models import musicgen as node_module
    seen: list[np.ndarray] = []
    real = node_module.chroma

    def recording(wave, *args, **kwargs):
        seen.append(np.array(wave, copy=True))
        return real(wave, *args, **kwargs)

    monkeypatch.setattr(node_module, "chroma", recording)
    return seen


def test_a_short_melody_is_looped_under_every_window(tiny, tmp_path, monkeypatch):
    """A 0.4 s riff under 2.6 s of music (six 1 s windows, 0.5 s stride): each window hears the riff
    repeated end to end, starting where that window starts in the piece."""
    from nodes.models import _musicgen as engine
    seen = _spy_on_chroma(monkeypatch)
    riff = _notes([261.63, 392.0], 0.2, RATE)[0]                   # 12800 samples at the model's rate
    out = run_model("models.musicgen_melody", tmp_path, audio={"melody": (riff[None], RATE)},
                    checkpoint=str(tiny["musicgen_melody_short"]), duration_s=2.6, extend_stride_s=0.5, seed=2)
    assert out.frames == round(2.6 * RATE)
    windows = engine.plan_windows(0, 130, 50, 25)
    assert len(seen) == len(windows) == 5
    looped = np.tile(riff, 10)
    for w, seg in zip(windows, seen):
        start = w.start * 640
        assert seg.size == RATE                                    # one whole 1 s window of melody
        np.testing.assert_allclose(seg, looped[start:start + RATE], atol=1e-6)
    assert not np.allclose(seen[1], seen[0], atol=1e-3)            # later windows hear later melody


def test_a_long_melody_is_trimmed_to_the_piece(tiny, tmp_path, monkeypatch):
    """0.8 s of music in one 1 s window: only the melody's first second conditions it, and the
    music does not get longer because the melody is."""
    seen = _spy_on_chroma(monkeypatch)
    melody = _notes([329.63, 440.0, 392.0, 523.25, 293.66, 246.94], 0.5, RATE)    # 3 s
    out = run_model("models.musicgen_melody", tmp_path, audio={"melody": (melody, RATE)},
                    checkpoint=str(tiny["musicgen_melody_short"]), duration_s=0.8, seed=4)
    assert out.frames == round(0.8 * RATE)
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], melody[0, :RATE], atol=1e-6)


def test_different_melodies_give_different_music(tiny, tmp_path):
    """Not one lucky pair: three melodies in different keys, same text, three different pieces.  Greedy
    decoding, because a random tiny model's logits are nearly flat: sampled, its tokens follow the seed's
    draws far more than the model (temperature 1 hides a conditioning that greedy decoding shows)."""
    kw = dict(checkpoint=str(tiny["musicgen_melody_short"]), duration_s=1.0, temperature=0.0, prompt="piano melody")
    outs = [run_model("models.musicgen_melody", tmp_path / str(i), audio={"melody": (_notes(f, 0.25, RATE), RATE)},
                      **kw).samples
            for i, f in enumerate(([261.63, 329.63, 392.0, 329.63], [369.99, 466.16, 277.18, 466.16],
                                   [440.0, 349.23, 293.66, 349.23]))]
    for i in range(3):
        for j in range(i + 1, 3):
            assert np.abs(outs[i] - outs[j]).max() > 0.05, (i, j)


def test_variations_of_bar_windows_stitch_back_on_the_grid(tiny, tmp_path):
    """2-bar windows of a 3/4 melody at 97 bpm (44.1 kHz), each varied by MusicGen-Melody with
    duration_s=auto, stitched: every variation lands on the bar it came from, the piece keeps its length."""
    from fractions import Fraction

    from nodeflow import Executor, Graph
    from tests.nodes.models.helpers import write_clip

    melody = _notes([261.63, 329.63, 392.0, 523.25, 392.0, 329.63], 1.0, 44100)[:, :round(5.3 * 44100)]
    src = write_clip(tmp_path / "melody.wav", melody, 44100)
    g = Graph()
    load = g.add("io.load", path=str(src))
    bars = g.add("time.tokenize_window", profile="musicgen_melody", unit="bars", size=1, bpm=97.0, beats_per_bar=3)
    gen = g.add("models.musicgen_melody", checkpoint=str(tiny["musicgen_melody_short"]), duration_s="auto", seed=3, extend_stride_s=0.5,
                prompt="strings")
    st = g.add("time.stitch")
    g.connect(load.out, bars.audio)
    g.connect(bars.out, gen.melody)
    g.connect(gen.out, st.windows)
    res = Executor().run(g, keep=[gen.id])          # an intermediate: kept on request
    variations, piece = res[gen.id]["out"], res[st.id]["out"]
    bar = Fraction(3 * 60) / Fraction(97)
    assert len(variations) == 3
    for k, v in enumerate(variations):
        assert v.sample_rate == RATE and v.index == k
        assert v.start_frame == round(k * bar * RATE)                    # on the bar grid at the model's rate
        assert dict(v.info)["bpm"] == "97" and dict(v.info)["meter"] == "3/4"
    assert piece.frames == round(Fraction(melody.shape[1], 44100) * RATE)
    assert [m[0] for m in piece.markers] == [round(k * bar * RATE) for k in (1, 2)]


@pytest.mark.parametrize("last, overlap, batch", [("keep", 0.0, 4), ("pad", 0.0, 4), ("pad", 0.25, 4), ("pad", 0.0, 1)])
def test_bar_windows_at_97_5_bpm_come_back_at_the_sources_length(tiny, tmp_path, monkeypatch, last, overlap, batch):
    """QA64 D3/D4: 1-bar windows at 97.5 bpm (a bar is 2.4615... s, between two samples) through
    MusicGen-Melody (duration_s=auto) and stitch: last=pad kept its padding (236307 frames for the
    source's 192000) and last=keep came back one sample short (191999): the model made each window from
    its sample count, not its span, and its output forgot the padding.  Batched or one by one."""
    from nodeflow import Executor, Graph
    from tests.nodes.models.helpers import write_clip

    monkeypatch.setenv("AUDIOCHAIN_MODEL_BATCH", str(batch))
    melody = _notes([261.63, 329.63, 392.0, 523.25, 392.0, 329.63], 1.0, 44100)
    src = write_clip(tmp_path / "melody.wav", melody, 44100)           # 6.000 s: 192000 at 32 kHz
    g = Graph()
    load = g.add("io.load", path=str(src))
    bars = g.add("time.tokenize_window", profile="musicgen_melody", unit="bars", size=1, bpm=97.5, last=last,
                 overlap=overlap)
    gen = g.add("models.musicgen_melody", checkpoint=str(tiny["musicgen_melody_short"]), duration_s="auto", seed=3,
                extend_stride_s=0.5, prompt="fiddle")
    st = g.add("time.stitch")
    g.connect(load.out, bars.audio)
    g.connect(bars.out, gen.melody)
    g.connect(gen.out, st.windows)
    piece = Executor().run(g)[st.id]["out"]
    assert (piece.sample_rate, piece.frames) == (RATE, 192000)

