"""models.whisper on a tiny random-weight WhisperForConditionalGeneration of the real architecture
(80 mel bins, 30 s windows of 3000 frames, 1500 encoder positions, alignment heads for word times),
with a byte-level WhisperTokenizer holding Whisper's special tokens and the real feature extractor,
saved with save_pretrained (safetensors) and loaded through the path openai/whisper-small takes.

A random model's words mean nothing, so what is tested is what the node promises whatever the
weights: the text is what the bare generate call writes, window by window; long audio is cut into
30 s windows and every word's time lies in its window; the same audio gives the same text; progress
per token and Stop within one token; languages are checked against the checkpoint's; missing
checkpoints name `audiochain models pull`."""
from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from nodeflow import Audio, Cancelled, Executor, Graph
from nodeflow.checkpoints import CheckpointError
from nodeflow.errors import ParameterError
from nodeflow.node import Context
from nodes.models.whisper import Transcript, model_input, whisper

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
import tiny_whisper  # noqa: E402

RATE = 44100


@pytest.fixture(scope="module")
def ck(tmp_path_factory) -> Path:
    return tiny_whisper.build(tmp_path_factory.mktemp("whisper") / "tiny-whisper")


def noise(seconds: float, rate: int = RATE, channels: int = 2, seed: int = 0) -> Audio:
    x = 0.1 * np.random.default_rng(seed).standard_normal((channels, round(seconds * rate)))
    return Audio(x.astype(np.float32), rate)


def hear(ck: Path, audio: Audio, **kw) -> Transcript:
    return whisper.fn(audio, checkpoint=str(ck), device="cpu", ctx=Context("asr"), **{"language": "en", **kw})


def bare(ck: Path, samples: np.ndarray) -> list[str]:
    """The bare library calls: processor + generate on each 30 s window of 16 kHz mono samples."""
    import transformers as tf
    model = tf.WhisperForConditionalGeneration.from_pretrained(str(ck)).eval()
    proc = tf.WhisperProcessor.from_pretrained(str(ck))
    texts = []
    for k in range(0, samples.size, 480000):
        f = proc(samples[k:k + 480000], sampling_rate=16000, return_tensors="pt", return_attention_mask=True)
        ids = model.generate(f["input_features"], attention_mask=f["attention_mask"], language="en",
                             task="transcribe", max_new_tokens=59)
        texts.append(proc.batch_decode(ids, skip_special_tokens=True)[0].strip())
    return texts


def test_long_audio_in_30_s_windows_as_the_bare_calls_write_it(ck):
    audio = noise(65.0)
    out = hear(ck, audio)
    x = model_input(audio, 16000)
    assert x.size == 65 * 16000
    want = bare(ck, x)
    assert len(want) == 3 and out.text == " ".join(want) and out.text.strip()
    words = json.loads(out.words)
    assert words and all(set(w) == {"word", "start_s", "end_s"} for w in words)
    assert "".join(w["word"] for w in words) == out.text.replace(" ", "")
    # every word's time lies in the window that heard it, and times are from the audio's start
    windows = {min(2, int(w["start_s"] // 30)) for w in words}
    assert windows == {0, 1, 2}
    for w in words:
        k = min(2, int(w["start_s"] // 30))
        assert k * 30 <= w["start_s"] <= w["end_s"] <= min(65.0, (k + 1) * 30)


def test_the_same_audio_gives_the_same_transcript(ck):
    a, b = hear(ck, noise(8.0, seed=1)), hear(ck, noise(8.0, seed=1))
    assert a == b
    assert hear(ck, noise(8.0, seed=1), language="", precision="bfloat16").text.strip()   # detect; half precision


def test_languages_are_the_checkpoints(ck):
    assert hear(ck, noise(2.0), language="german").text == hear(ck, noise(2.0), language="de").text
    with pytest.raises(ParameterError, match=r"language='klingon' is not a language of checkpoint .*\(codes: de, en, fr\)"):
        hear(ck, noise(2.0), language="klingon")
    with pytest.raises(ParameterError, match="the audio is empty"):
        hear(ck, Audio(np.zeros((1, 0), np.float32), RATE))


def test_a_missing_checkpoint_names_the_pull_command(hub_cache):
    with pytest.raises(CheckpointError, match=r"audiochain models pull openai/whisper-small"):
        hear(Path("openai/whisper-small"), noise(1.0))
    g = Graph()
    g.add("models.whisper", id="asr")
    assert any("audiochain models pull openai/whisper-small" in p for p in g.problems())


def mine(events: list) -> list:
    return [ev for ev in events if ev.kind == "progress" and ev.node_id == "asr"]


def test_progress_per_token_and_stop_within_one_token(ck, tmp_path):
    import soundfile as sf
    path = tmp_path / "speech.wav"
    sf.write(str(path), noise(40.0).samples.T, RATE, subtype="FLOAT")
    g = Graph()
    g.add("io.load", id="load", path=str(path))
    g.add("models.whisper", id="asr", checkpoint=str(ck), language="en", device="cpu")
    g.connect("load.out", "asr.audio")
    seen, stop = [], threading.Event()

    def on_event(ev):
        seen.append(ev)
        if ev.kind == "progress" and ev.node_id == "asr" and len(mine(seen)) == 3:
            stop.set()               # two tokens into the first window

    with pytest.raises(Cancelled):
        Executor(disk_cache=None).run(g, on_event=on_event, cancel_event=stop)
    progress = mine(seen)
    assert len(progress) == 3 and progress[-1].total == 2 and progress[-1].done < 0.1
    res = Executor(disk_cache=None).run(g)
    assert len({min(1, int(w["start_s"] // 30)) for w in json.loads(res["asr"]["words"])}) == 2


def test_words_and_their_times_from_tokens(ck):
    from nodes.models.whisper import WHISPER, words_of
    held = WHISPER._load(WHISPER.resolve(str(ck), None), "cpu", "float32")
    tok = held.processor.tokenizer
    prompt = tok.convert_tokens_to_ids(["<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|notimestamps|>"])
    text = tok(" the cat, sat.", add_special_tokens=False)["input_ids"]
    tokens = prompt + text + [tok.eos_token_id]
    times = [0.0] * 4 + [0.1 * (i + 1) for i in range(len(text))] + [2.0]
    words = words_of(held, tokens, times, 30.0, 31.2)
    assert [w["word"] for w in words] == ["the", "cat,", "sat."]
    assert [(w["start_s"], w["end_s"]) for w in words] == [(30.0, 30.4), (30.4, 30.9), (30.9, 31.2)]

    # languages written without spaces: a token is a word (detected from the language token Whisper writes)
    from nodes.models.whisper import _language_token
    assert _language_token(held, tokens) == "en"
    ja = words_of(held, tokens, times, 0.0, 2.0, "ja")
    assert len(ja) == len([t for t in text if t != tok.convert_tokens_to_ids("\u0120")])


def test_a_transcription_prints_nothing_of_transformers(ck, tmp_path):
    """QA57, QA60: every whisper run printed two '[transformers]' deprecation lines about AudioChain's own
    call (generation_config with generation arguments, max_new_tokens beside max_length), even with -q."""
    import os
    import subprocess

    import soundfile as sf

    from nodeflow import Graph, save
    sf.write(tmp_path / "speech.wav", noise(2.0, seed=4).samples.T, RATE)
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "speech.wav"))
    g.add("models.whisper", id="asr", checkpoint=str(ck), device="cpu", language="en")
    g.connect("load.out", "asr.audio")
    save(g, tmp_path / "asr.msgpack")
    env = dict(os.environ, AUDIOCHAIN_CACHE="off", HF_HUB_OFFLINE="1")
    p = subprocess.run([sys.executable, "-m", "nodeflow.cli", "run", str(tmp_path / "asr.msgpack"), "-q", "-o",
                        str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "transformers" not in p.stderr and "deprecated" not in p.stderr, p.stderr
