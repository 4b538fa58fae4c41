"""models.encodec_encode / models.encodec_decode on a tiny random-weight EncodecModel of the real
architecture (24 kHz, 320 samples per token, 1024-entry codebooks, 1.5-24 kbps), saved with
save_pretrained (safetensors) and loaded through the path facebook/encodec_24khz takes.

What is tested is what the nodes promise whatever the weights: the codes are the bare encode call's,
the decoded audio is the bare decode call's and exactly as long as what was encoded, tokens are
readable JSON that can be edited and decoded, bad tokens and settings are one clear line."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from nodeflow import Audio, Executor, Graph
from nodeflow.checkpoints import CheckpointError
from nodeflow.errors import ParameterError
from nodeflow.node import Context
from nodes.models.encodec import encodec_decode, encodec_encode

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
import tiny_encodec  # noqa: E402


@pytest.fixture(scope="module")
def ck(tmp_path_factory) -> Path:
    return tiny_encodec.build(tmp_path_factory.mktemp("encodec") / "tiny-encodec")


def clip(frames: int, rate: int = 24000, channels: int = 1, seed: int = 0) -> Audio:
    return Audio((0.1 * np.random.default_rng(seed).standard_normal((channels, frames))).astype(np.float32), rate)


def enc(ck: Path, audio: Audio, **kw) -> str:
    return encodec_encode.fn(audio, checkpoint=str(ck), device="cpu", ctx=Context("enc"), **kw)


def dec(ck: Path, tokens: str) -> Audio:
    return encodec_decode.fn(tokens, checkpoint=str(ck), device="cpu", ctx=Context("dec"))


@pytest.mark.parametrize("frames", [1, 319, 320, 321, 48005])
def test_exact_lengths_and_token_counts(ck, frames):
    tokens = enc(ck, clip(frames))
    d = json.loads(tokens)
    codes = np.asarray(d["codes"])
    assert (d["sample_rate"], d["frame_rate"], d["frames"]) == (24000, 75.0, frames)
    assert codes.shape == (1, 8, -(-frames // 320))                  # 6 kbps = 8 codebooks, tokens cover the audio
    out = dec(ck, tokens)
    assert (out.sample_rate, out.channels, out.frames) == (24000, 1, frames)


def test_other_rates_and_bandwidths(ck):
    d = json.loads(enc(ck, clip(44100, rate=44100, channels=2), bandwidth_kbps=1.5))
    assert d["frames"] == 24000 and np.asarray(d["codes"]).shape == (1, 2, 75)
    with pytest.raises(ParameterError, match=r"bandwidth_kbps=5.0 is not a bandwidth of checkpoint .*\(1.5, 3, 6, 12, 24 kbps\)"):
        enc(ck, clip(100), bandwidth_kbps=5.0)


def test_the_codes_and_audio_are_the_bare_calls(ck):
    import torch
    import transformers as tf
    audio = clip(24000 + 77, seed=3)
    tokens = enc(ck, audio, bandwidth_kbps=12.0)
    model = tf.EncodecModel.from_pretrained(str(ck)).eval()
    with torch.inference_mode():
        e = model.encode(torch.tensor(audio.samples)[None], bandwidth=12.0)
        want = model.decode(e.audio_codes, e.audio_scales, padding_mask=torch.ones(1, audio.frames, dtype=torch.bool))
    assert json.loads(tokens)["codes"] == e.audio_codes[:, 0].tolist()
    out = dec(ck, tokens)
    np.testing.assert_allclose(out.samples, want.audio_values[0].numpy()[:, :audio.frames], atol=1e-6)
    assert np.array_equal(dec(ck, tokens).samples, out.samples)      # deterministic


def test_edited_tokens_decode_and_bad_ones_are_one_clear_line(ck):
    d = json.loads(enc(ck, clip(3200)))
    d["codes"][0][0] = [5] * len(d["codes"][0][0])                   # edit the first codebook
    assert dec(ck, json.dumps(d)).frames == 3200
    with pytest.raises(ParameterError, match="tokens are not JSON"):
        dec(ck, "{oops")
    with pytest.raises(ParameterError, match="tokens are not EnCodec tokens"):
        dec(ck, json.dumps({"codec": "dac"}))
    bad = json.loads(json.dumps(d))
    bad["codes"][0][1][2] = -3                     # QA60: said as the array's shape, not the value
    with pytest.raises(ParameterError, match=r"codes\[0\]\[1\]\[2\]=-3 is not a code of a 1024-code book"):
        dec(ck, json.dumps(bad))
    with pytest.raises(ParameterError, match=r"frames=1000000000000 is not a length \d+ tokens decode to"):
        dec(ck, json.dumps(dict(d, frames=10 ** 12)))   # QA60: torch could not allocate a terabyte
    other = dict(d, sample_rate=48000, channels=2)
    with pytest.raises(ParameterError, match="decode with the checkpoint that encoded them"):
        dec(ck, json.dumps(other))


def test_a_missing_checkpoint_names_the_pull_command(hub_cache):
    with pytest.raises(CheckpointError, match=r"audiochain models pull facebook/encodec_24khz"):
        encodec_encode.fn(clip(100), device="cpu", ctx=Context("enc"))
    g = Graph()
    g.add("models.encodec_decode", id="dec")
    assert any("audiochain models pull facebook/encodec_24khz" in p for p in g.problems())


def test_encode_then_decode_in_a_graph_with_progress(ck, tmp_path):
    import soundfile as sf
    path = tmp_path / "in.wav"
    sf.write(str(path), clip(30000, rate=32000).samples.T, 32000, subtype="FLOAT")
    g = Graph()
    g.add("io.load", id="load", path=str(path))
    g.add("models.encodec_encode", id="enc", checkpoint=str(ck), device="cpu")
    g.add("models.encodec_decode", id="dec", checkpoint=str(ck), device="cpu")
    g.connect("load.out", "enc.audio")
    g.connect("enc.out", "dec.tokens")
    seen = []
    res = Executor(disk_cache=None).run(g, on_event=seen.append)
    assert res["dec"]["out"].frames == 22500 and res["dec"]["out"].sample_rate == 24000   # 30000 at 32 kHz
    assert {(ev.node_id, ev.done, ev.total) for ev in seen if ev.kind == "progress"} >= \
        {("enc", 0, 1), ("enc", 1, 1), ("dec", 0, 1), ("dec", 1, 1)}


def test_bfloat16_on_the_cpu_keeps_the_codes_and_the_length(ck):
    audio = clip(24000, seed=5)
    half, full = enc(ck, audio, precision="bfloat16"), enc(ck, audio)
    a, b = np.asarray(json.loads(half)["codes"]), np.asarray(json.loads(full)["codes"])
    assert a.shape == b.shape and (a == b).mean() > 0.9
    y = encodec_decode.fn(full, checkpoint=str(ck), device="cpu", precision="bfloat16", ctx=Context("dec"))
    ref = dec(ck, full)
    assert y.frames == ref.frames == 24000 and y.samples.dtype == np.float32
    assert np.abs(y.samples - ref.samples).max() < 0.05 * np.abs(ref.samples).max()


def test_stop_during_encoding_ends_the_run_before_decoding(ck):
    import threading
    from nodeflow import Cancelled
    g = Graph()
    g.add("models.encodec_encode", id="enc", checkpoint=str(ck), device="cpu")
    g.add("models.encodec_decode", id="dec", checkpoint=str(ck), device="cpu")
    g.connect("enc.out", "dec.tokens")
    seen, stop = [], threading.Event()

    def on_event(ev):
        seen.append(ev)
        if ev.kind == "progress" and ev.node_id == "enc":
            stop.set()                    # while the one encode step runs

    with pytest.raises(Cancelled):
        Executor(disk_cache=None).run(g, inputs={"enc.audio": clip(4800)}, on_event=on_event, cancel_event=stop)
    assert [(ev.done, ev.total) for ev in seen if ev.kind == "progress"] == [(0, 1)]
    assert not any(ev.node_id == "dec" and ev.kind == "started" for ev in seen)


def test_the_estimate_before_running_knows_the_decoded_length(ck, tmp_path):
    import soundfile as sf
    from nodeflow.costs import estimate
    path = tmp_path / "in.wav"
    sf.write(str(path), clip(32000 * 3, rate=32000).samples.T, 32000, subtype="FLOAT")
    g = Graph()
    g.add("io.load", id="load", path=str(path))
    g.add("models.encodec_encode", id="enc", checkpoint=str(ck))
    g.add("models.encodec_decode", id="dec", checkpoint=str(ck))
    g.connect("load.out", "enc.audio")
    g.connect("enc.out", "dec.tokens")
    out = estimate(g).nodes["dec"].shapes["out"]
    assert (out.frames, out.channels, out.rate) == (72000, 1, 24000)        # 3 s at the codec's rate


@pytest.mark.parametrize("frames", [1000, 48000, 96123])
def test_the_48_khz_layout_chunks_scales_and_exact_lengths(tmp_path_factory, frames):
    ck48 = _ck48(tmp_path_factory)
    audio = clip(frames, rate=48000, channels=2, seed=frames)
    d = json.loads(enc(ck48, audio, bandwidth_kbps=3.0))
    chunks = max(1, -(-frames // 47520))                     # 1 s chunks, stride 0.99 s
    assert (d["sample_rate"], d["channels"], d["frame_rate"]) == (48000, 2, 150.0)
    assert np.asarray(d["codes"]).shape[:2] == (chunks, 2) and len(d["scales"]) == chunks   # 3 kbps: 2 books
    assert all(isinstance(s, list) and s[0] > 0 for s in d["scales"])       # each chunk's own loudness
    out = dec(ck48, json.dumps(d))
    assert (out.frames, out.channels, out.sample_rate) == (frames, 2, 48000)


_CK48: dict[str, Path] = {}


def _ck48(factory) -> Path:
    if "ck" not in _CK48:
        _CK48["ck"] = tiny_encodec.build(factory.mktemp("encodec48") / "tiny-encodec-48", khz48=True)
    return _CK48["ck"]


def test_beat_windows_through_the_codec_stitch_back_on_the_grid(ck):
    """QA57: 1-beat windows at 133 bpm taken through encode -> decode came back placed at 0 with their
    rounded lengths: stitched end to end, window 44 landed 3 samples early at 24 kHz and 20 s came back
    6 samples short at 44.1 kHz.  The tokens carry the window's place; the decoded window goes back there."""
    from fractions import Fraction

    from nodes.dsp.resample import resample
    from nodes.timing.stitch import stitch
    from nodes.timing.window import tokenize_window

    source = clip(20 * 44100, rate=44100, channels=2, seed=3)
    windows = tokenize_window.fn(source, unit="beats", size=1, bpm=133.0)
    back = [dec(ck, enc(ck, w)) for w in windows]
    beat = Fraction(60, 133)
    assert [w.start_frame for w in back] == [round(k * beat * 24000) for k in range(len(windows))]
    assert all(b.span == w.span and b.index == w.index for b, w in zip(back, windows))
    piece = stitch.fn(back)
    assert piece.frames == 20 * 24000
    assert resample.fn(piece, rate_hz=44100, profile="custom").frames == source.frames


def test_a_local_checkpoint_counts_by_its_folder_wherever_the_graph_is_saved(ck, tmp_path):
    """QA98 D1: the cache key held the checkpoint as the graph spells it, relative to its folder: a graph
    saved (chain.save, or a copy one folder deeper) spelled the same weights otherwise and ran its models
    again.  A local checkpoint counts by its folder's identity, as an input file counts by its bytes."""
    import shutil

    import soundfile as sf

    from nodeflow import load, save
    sf.write(str(tmp_path / "in.wav"), clip(30000, rate=24000).samples.T, 24000, subtype="FLOAT")
    g = Graph()
    g.add("io.load", id="load", path=str(tmp_path / "in.wav"))
    g.add("models.encodec_encode", id="enc", checkpoint=str(ck), device="cpu")
    g.add("models.encodec_decode", id="dec", checkpoint=str(ck), device="cpu")
    g.connect("load.out", "enc.audio")
    g.connect("enc.out", "dec.tokens")
    ex = Executor(disk_cache=None)
    first = ex.run(g)
    saved = load(save(g, tmp_path / "song" / "g.msgpack"))
    shutil.copy(tmp_path / "in.wav", tmp_path / "song" / "in.wav")
    deeper = load(save(saved, tmp_path / "song" / "deeper" / "g.msgpack"))
    assert saved.nodes["enc"].params["checkpoint"] != deeper.nodes["enc"].params["checkpoint"]   # spelled otherwise
    for again in (saved, deeper):
        r = ex.run(again)
        assert "dec" in r.cached and not r.ran, (r.ran, r.cached)
        assert np.array_equal(r["dec"]["out"].samples, first["dec"]["out"].samples)
    other = shutil.copytree(ck, tmp_path / "retrained")              # another folder: another model to the cache
    (other / "config.json").write_text((other / "config.json").read_text().replace("}", ', "note": "retrained"}', 1))
    deeper.set("enc", "checkpoint", str(other))
    assert "enc" in ex.run(deeper).ran
