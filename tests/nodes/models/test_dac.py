"""models.dac_encode / models.dac_decode on a tiny random-weight DacModel of the real architecture
(44.1 kHz mono, 512 samples per token, 9 codebooks of 1024), saved with save_pretrained
(safetensors) and loaded through the path descript/dac_44khz takes.

What is tested is what the nodes promise whatever the weights: the codes are the bare encode call's,
the decoded audio is the bare decode call's and exactly as long as what was encoded, runs repeat
exactly, tokens are readable JSON that can be edited and decoded, bad tokens and settings are one
clear line, a missing checkpoint names the pull command."""
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
from nodes.models.dac import dac_decode, dac_encode

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
import tiny_dac  # noqa: E402

HOP = 512


@pytest.fixture(scope="module")
def ck(tmp_path_factory) -> Path:
    return tiny_dac.build(tmp_path_factory.mktemp("dac") / "tiny-dac")


def clip(frames: int, rate: int = 44100, channels: int = 1, seed: int = 0) -> Audio:
    return Audio((0.1 * np.random.default_rng(seed).standard_normal((channels, frames))).astype(np.float32), rate)


def enc(ck: Path, audio: Audio, **kw) -> str:
    return dac_encode.fn(audio, checkpoint=str(ck), device="cpu", ctx=Context("enc"), **kw)


def dec(ck: Path, tokens: str, **kw) -> Audio:
    return dac_decode.fn(tokens, checkpoint=str(ck), device="cpu", ctx=Context("dec"), **kw)


@pytest.mark.parametrize("frames", [1, 511, 512, 513, 44100])
def test_exact_lengths_and_token_counts(ck, frames):
    tokens = enc(ck, clip(frames))
    d = json.loads(tokens)
    codes = np.asarray(d["codes"])
    assert (d["sample_rate"], d["channels"], d["frame_rate"], d["frames"]) == (44100, 1, 44100 / HOP, frames)
    assert codes.shape == (9, -(-frames // HOP))                       # every codebook, tokens cover the audio
    out = dec(ck, tokens)
    assert (out.sample_rate, out.channels, out.frames) == (44100, 1, frames)


def test_other_rates_channels_and_codebooks(ck):
    d = json.loads(enc(ck, clip(48000, rate=48000, channels=2), codebooks=4))
    assert d["frames"] == 44100 and np.asarray(d["codes"]).shape == (4, 87)     # 1 s at 44.1 kHz, 4 books
    assert dec(ck, json.dumps(d)).frames == 44100
    with pytest.raises(ParameterError, match=r"codebooks=10 is more than checkpoint '.*' has \(9\); use 1-9"):
        enc(ck, clip(100), codebooks=10)


def test_the_codes_and_audio_are_the_bare_calls_and_repeat_exactly(ck):
    import torch
    import transformers as tf
    audio = clip(2 * 44100 + 77, seed=3)
    tokens = enc(ck, audio, codebooks=6)
    model = tf.DacModel.from_pretrained(str(ck)).eval()
    padded = np.pad(audio.samples, ((0, 0), (0, -audio.frames % HOP)))
    with torch.inference_mode():
        e = model.encode(torch.tensor(padded)[None], n_quantizers=6)
        want = model.decode(audio_codes=e.audio_codes).audio_values
    assert json.loads(tokens)["codes"] == e.audio_codes[0].tolist()
    out = dec(ck, tokens)
    np.testing.assert_allclose(out.samples, want.reshape(1, -1).numpy()[:, :audio.frames], atol=1e-6)
    assert enc(ck, audio, codebooks=6) == tokens and np.array_equal(dec(ck, tokens).samples, out.samples)


def test_edited_tokens_decode_and_bad_ones_are_one_clear_line(ck):
    d = json.loads(enc(ck, clip(3200)))
    d["codes"][0] = [5] * len(d["codes"][0])                          # edit the first codebook
    assert dec(ck, json.dumps(d)).frames == 3200
    with pytest.raises(ParameterError, match="tokens are not JSON"):
        dec(ck, "{oops")
    with pytest.raises(ParameterError, match="tokens are not DAC tokens"):
        dec(ck, json.dumps({"codec": "encodec"}))
    with pytest.raises(ParameterError, match=r"codes must be integers shaped \[codebooks\]\[tokens\]"):
        dec(ck, json.dumps(dict(d, codes=[1, 2])))
    bad = json.loads(json.dumps(d))
    bad["codes"][1][3] = 10 ** 9                   # QA60: said as the array's shape, not the value
    with pytest.raises(ParameterError, match=r"codes\[1\]\[3\]=1000000000 is not a code of a 1024-code book \(0..1023\)"):
        dec(ck, json.dumps(bad))
    with pytest.raises(ParameterError, match=r"frames=1000000000000 is not a length 7 tokens decode to \(1 to 32768 "):
        dec(ck, json.dumps(dict(d, frames=10 ** 12)))   # QA60: a MemoryError of 3.64 TiB
    with pytest.raises(ParameterError, match="decode with the checkpoint that encoded them"):
        dec(ck, json.dumps(dict(d, sample_rate=24000)))
    with pytest.raises(ParameterError, match="the audio is empty"):
        enc(ck, clip(0))


def test_a_missing_checkpoint_names_the_pull_command(hub_cache):
    with pytest.raises(CheckpointError, match=r"audiochain models pull descript/dac_44khz"):
        dac_encode.fn(clip(100), device="cpu", ctx=Context("enc"))
    g = Graph()
    g.add("models.dac_decode", id="dec")
    assert any("node 'dec'" in p and "`audiochain models pull descript/dac_44khz`" in p for p in g.problems())


def test_another_familys_checkpoint_is_refused_by_name(tmp_path):
    other = tmp_path / "not-dac"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "encodec"}))
    (other / "model.safetensors").write_bytes(b"\0" * 16)
    with pytest.raises(ParameterError, match="is an 'encodec' model; models.dac_encode needs a 'dac' checkpoint"):
        enc(other, clip(100))


def test_encode_then_decode_in_a_graph_with_progress_and_stop(ck):
    g = Graph()
    g.add("models.dac_encode", id="enc", checkpoint=str(ck), device="cpu")
    g.add("models.dac_decode", id="dec", checkpoint=str(ck), device="cpu")
    g.connect("enc.out", "dec.tokens")
    seen = []
    res = Executor(disk_cache=None).run(g, inputs={"enc.audio": clip(30000, rate=32000)}, on_event=seen.append)
    assert (res["dec"]["out"].frames, res["dec"]["out"].sample_rate) == (41344, 44100)    # 30000 at 32 kHz
    assert {(ev.node_id, ev.done, ev.total) for ev in seen if ev.kind == "progress"} >= \
        {("enc", 0, 1), ("enc", 1, 1), ("dec", 0, 1), ("dec", 1, 1)}
    seen, stop = [], threading.Event()

    def on_event(ev):
        seen.append(ev)
        if ev.kind == "progress" and ev.node_id == "enc":
            stop.set()                    # while the one encode step runs

    with pytest.raises(Cancelled):
        Executor(disk_cache=None).run(g, inputs={"enc.audio": clip(4800)}, on_event=on_event, cancel_event=stop)
    assert not any(ev.node_id == "dec" and ev.kind == "started" for ev in seen)


def test_bfloat16_keeps_the_length_and_the_estimate_knows_it(ck, tmp_path):
    audio = clip(44100, seed=5)
    full = enc(ck, audio)
    half = enc(ck, audio, precision="bfloat16")
    assert np.asarray(json.loads(half)["codes"]).shape == np.asarray(json.loads(full)["codes"]).shape
    y, ref = dec(ck, full, precision="bfloat16"), dec(ck, full)
    assert y.frames == ref.frames == 44100 and y.samples.dtype == np.float32
    assert np.abs(y.samples - ref.samples).max() < 0.05 * np.abs(ref.samples).max() + 1e-6
    import soundfile as sf

    from nodeflow.costs import estimate
    sf.write(str(tmp_path / "in.wav"), clip(32000 * 3, rate=32000).samples.T, 32000, subtype="FLOAT")
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "in.wav"))
    g.add("models.dac_encode", id="enc", checkpoint=str(ck))
    g.add("models.dac_decode", id="dec", checkpoint=str(ck))
    g.connect("load.out", "enc.audio")
    g.connect("enc.out", "dec.tokens")
    out = estimate(g).nodes["dec"].shapes["out"]
    assert (out.frames, out.channels, out.rate) == (132300, 1, 44100)       # 3 s at the codec's rate
