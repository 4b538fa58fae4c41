"""models.mms_tts on a tiny random-weight VitsModel of the real architecture (16 kHz, 256 samples per
frame, stochastic duration predictor), saved with save_pretrained (safetensors) with a VitsTokenizer,
and loaded through the path facebook/mms-tts-eng takes.

A random model's speech means nothing, so what is tested is what the node promises whatever the
weights: exactly the samples the bare model makes (per sentence, with the pauses), at the
checkpoint's own rate; a seed repeats exactly; the language picks the checkpoint; progress per
sentence and Stop between sentences; missing checkpoints name `audiochain models pull`."""
from __future__ import annotations

import json
import shutil
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from nodeflow import Cancelled, Executor, Graph
from nodeflow.checkpoints import CheckpointError
from nodeflow.errors import ParameterError
from nodeflow.node import Context
from nodes.models.bark import split_text
from nodes.models.mms_tts import checkpoint_for, language_code, mms_tts

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
import tiny_mms  # noqa: E402

TEXT = "Hello there. How are you today? Fine, thanks!"


@pytest.fixture(scope="module")
def ck(tmp_path_factory) -> Path:
    return tiny_mms.build(tmp_path_factory.mktemp("mms") / "tiny-mms-eng")


def speak(ck: Path, text: str = TEXT, **kw):
    return mms_tts.fn(prompt=text, checkpoint=str(ck), device="cpu", ctx=Context("tts"), **kw)


def bare(ck: Path, sentences: list[str], seed: int, **settings) -> list[np.ndarray]:
    """The bare library calls: VitsModel on each sentence, noise from torch's generator seeded with ``seed``."""
    import torch
    import transformers as tf
    model = tf.VitsModel.from_pretrained(str(ck)).eval()
    tok = tf.AutoTokenizer.from_pretrained(str(ck))
    for k, v in settings.items():
        setattr(model, k, v)
    torch.manual_seed(seed)
    out = []
    with torch.inference_mode():
        for s in sentences:
            o = model(**tok(s, return_tensors="pt"))
            out.append(o.waveform[0, :int(o.sequence_lengths[0])].numpy())
    return out


def test_exactly_the_models_samples_at_its_rate_with_the_pauses(ck):
    out = speak(ck, seed=3, pause_s=0.1)
    waves = bare(ck, split_text(TEXT), 3)
    assert len(waves) == 3 and all(w.size % 256 == 0 for w in waves)          # whole 256-sample frames
    gap = np.zeros(1600, np.float32)                                          # 0.1 s at 16 kHz
    want = np.concatenate([waves[0], gap, waves[1], gap, waves[2]])
    assert out.sample_rate == 16000 and out.channels == 1 and out.frames == want.size
    np.testing.assert_allclose(out.samples[0], want, atol=1e-6)


def test_the_rate_is_the_checkpoints_own(tmp_path):
    ck22 = tiny_mms.build(tmp_path / "tiny-22k", sampling_rate=22050)
    out = speak(ck22, "One sentence.", pause_s=0.0)
    assert out.sample_rate == 22050 and out.frames % 256 == 0


def test_a_seed_repeats_exactly_and_another_seed_differs(ck):
    a, b, c = speak(ck, seed=1), speak(ck, seed=1), speak(ck, seed=2)
    assert np.array_equal(a.samples, b.samples)
    assert a.frames != c.frames or not np.allclose(a.samples, c.samples, atol=1e-4)
    # without noise the take is the same for every seed
    flat = dict(noise_scale=0.0, noise_scale_duration=0.0)
    assert np.array_equal(speak(ck, seed=1, **flat).samples, speak(ck, seed=2, **flat).samples)


def test_speaking_rate_stretches_the_speech_as_the_model_does(ck):
    flat = dict(noise_scale=0.0, noise_scale_duration=0.0)
    normal, slow = speak(ck, "Slowly.", speaking_rate=1.0, **flat), speak(ck, "Slowly.", speaking_rate=0.25, **flat)
    assert slow.frames > 1.5 * normal.frames                 # durations x4, each rounded up to whole frames
    (want,) = bare(ck, ["Slowly."], 0, speaking_rate=0.25, **flat)
    np.testing.assert_allclose(slow.samples[0], want, atol=1e-6)


def test_precision_bfloat16_runs_on_the_cpu(ck):
    out = speak(ck, "Short one.", precision="bfloat16")
    assert out.samples.dtype == np.float32 and out.frames > 0 and np.isfinite(out.samples).all()


def test_language_picks_the_checkpoint():
    assert [checkpoint_for(x) for x in ("eng", "deu", "German", "fr")] == \
        ["facebook/mms-tts-eng", "facebook/mms-tts-deu", "facebook/mms-tts-deu", "facebook/mms-tts-fra"]
    assert checkpoint_for("deu", "  ./mine ") == "./mine"
    with pytest.raises(ParameterError, match=r"language='klingon!' is not an ISO 639-3 code"):
        language_code("klingon!")


def test_a_missing_language_checkpoint_names_the_pull_command(hub_cache):
    with pytest.raises(CheckpointError, match=r"audiochain models pull facebook/mms-tts-deu"):
        mms_tts.fn(prompt="Guten Tag.", language="german", device="cpu", ctx=Context("tts"))
    g = Graph()
    g.add("models.mms_tts", id="tts", language="fra")
    (problem,) = g.problems()
    assert "audiochain models pull facebook/mms-tts-fra" in problem
    g2 = Graph()
    g2.add("models.mms_tts", id="tts", language="not a language")
    assert "is not an ISO 639-3 code" in g2.problems()[0]


def test_a_checkpoint_of_another_model_is_refused(ck, tmp_path):
    other = Path(shutil.copytree(ck, tmp_path / "not-vits"))
    cfg = json.loads((other / "config.json").read_text())
    (other / "config.json").write_text(json.dumps(dict(cfg, model_type="bark")))
    with pytest.raises(ParameterError, match=r"is a .bark. model; models.mms_tts needs a .vits. checkpoint"):
        speak(other)


def test_text_with_nothing_speakable_is_one_clear_error(ck):
    with pytest.raises(ParameterError, match=r"no character of '。。' is in the vocabulary"):
        speak(ck, "。。")
    with pytest.raises(ParameterError, match="the text is empty"):
        speak(ck, "   ")


def test_progress_per_sentence_and_stop_between_sentences(ck):
    g = Graph()
    g.add("models.mms_tts", id="tts", prompt="One. Two. Three. Four. Five. Six.", checkpoint=str(ck), device="cpu")
    seen, stop = [], threading.Event()

    def on_event(ev):
        seen.append(ev)
        if ev.kind == "progress" and ev.done == 2:
            stop.set()                   # during the third sentence's turn

    with pytest.raises(Cancelled):
        Executor(disk_cache=None).run(g, on_event=on_event, cancel_event=stop)
    progress = [(ev.done, ev.total) for ev in seen if ev.kind == "progress"]
    assert progress == [(0, 6), (1, 6), (2, 6)] and seen[-1].kind == "cancelled"
    res = Executor(disk_cache=None).run(g)              # the model is fine afterwards
    assert res["tts"]["out"].frames > 0
