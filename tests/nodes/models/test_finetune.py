"""LoRA fine-tuning (issue 6): data -> tokens -> training -> adapter -> models.musicgen(adapter=...).

A tiny random MusicGen of the real architecture is saved with save_pretrained and loaded through
the real path; the training data are real FLAC/WAV/OGG files of looped melodies (learnable: each
loop repeats every 0.8 s), plus a corrupt file, a too-short file and a non-audio file.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import tiny_models  # tests/fixtures, put on sys.path by conftest.py

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from nodeflow import Executor, Graph  # noqa: E402
from nodeflow.audiometa import read_tags  # noqa: E402
from nodeflow.cache import file_digest  # noqa: E402
from nodeflow.checkpoints import resolve, weights_digest  # noqa: E402
from nodeflow.errors import ExecutionError, GraphError  # noqa: E402
from nodes.models.finetune import AdapterError, DataError, FinetuneError  # noqa: E402
from nodes.models.finetune.data import caption_for  # noqa: E402
from nodes.models.finetune.train import finetune  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
RATE = 44100
LN_VOCAB = float(np.log(2048))      # loss of a model that knows nothing: ln(codebook size)
# small and fast: 1 s windows (50 tokens), constant learning rate, no warm-up
FAST = dict(window_s=1.0, min_window_s=0.5, batch_size=4, learning_rate=1e-2, warmup_steps=0, lr_schedule="constant")


def informative_codec(model, seed: int = 1, gain: float = 1000.0, scale: float = 75.0) -> None:
    """Make the tiny random EnCodec tell sounds apart in both directions: its encoder's last conv
    is scaled up (outputs ~75 instead of ~0.075) and its codebooks drawn on that scale, so
    different sounds get different codes *and* different codes decode to different sounds
    (zero codebooks map every frame to one code; small ones decode every code alike)."""
    from transformers.models.encodec.modeling_encodec import EncodecEuclideanCodebook
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        last = model.audio_encoder.encoder.layers[-1].conv
        last.parametrizations.weight.original0.mul_(gain)     # weight norm: g * v / |v|
        last.bias.mul_(gain)
        for m in model.modules():
            if isinstance(m, EncodecEuclideanCodebook):
                m.embed.copy_(torch.randn(m.embed.shape, generator=gen) * scale)
                m.embed_avg.copy_(m.embed)


def loop(notes_hz: list[float], seconds: float, rate: int = RATE, channels: int = 1) -> np.ndarray:
    """``[channels, frames]``: the notes as a loop of 0.2 s tones (phase-continuous), amplitude 0.4."""
    t = np.arange(round(seconds * rate)) / rate
    f = np.asarray(notes_hz)[(t / 0.2).astype(int) % len(notes_hz)]
    x = 0.4 * np.sin(2 * np.pi * np.cumsum(f) / rate)
    return np.repeat(x[None], channels, axis=0).astype(np.float32)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def write(path: Path, x: np.ndarray, rate: int = RATE) -> Path:
    sf.write(str(path), x.T, rate)
    return path


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    model, tok = tiny_models.musicgen()
    informative_codec(model)
    folder = tmp_path_factory.mktemp("base") / "tiny-musicgen"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("recordings")
    write(d / "01_warm-piano.flac", loop([220, 330, 440, 262], 3.0, channels=2))        # stereo: downmixed
    write(d / "02_bass.wav", loop([110, 165, 147, 131], 3.0), rate=48000)
    (d / "sub").mkdir()
    sf.write(str(d / "sub" / "03.ogg"), loop([294, 392, 349, 523], 3.0).T, RATE, format="OGG", subtype="VORBIS")
    write(d / "04_lead.flac", loop([440, 660, 587, 494], 3.0))
    (d / "01_warm-piano.txt").write_text("warm piano loop\n")
    (d / "02_bass.json").write_text(json.dumps({"description": "deep bass line", "bpm": 75}))
    write(d / "blip.wav", loop([880], 0.3))                                            # too short
    (d / "broken.flac").write_bytes(b"fLaC" + os.urandom(3000))                         # corrupt
    (d / "notes.md").write_text("session notes, not audio")
    return d


@pytest.fixture(scope="module")
def trained(base, data, tmp_path_factory):
    """One 40-step run (shared by several tests): its result, its events and its folders."""
    tmp = tmp_path_factory.mktemp("trained")
    events = []
    result = finetune(data, base=str(base), out=tmp / "adapter", cache_dir=tmp / "tokens", steps=40,
                      checkpoint_every=20, val_fraction=0.25, instance_prompt="my band", progress=events.append, **FAST)
    return result, events, tmp


# ---------------------------------------------------------------------------------------- training
def test_loss_falls_and_outputs_are_complete(trained, base, data):
    result, events, tmp = trained
    assert result.status == "finished" and result.step == 40
    losses = [h["loss"] for h in result.history]
    assert abs(losses[0] - LN_VOCAB) < 0.5                      # starts knowing nothing
    assert np.mean(losses[-5:]) < 0.5 * losses[0]               # learns the loops
    assert result.val_loss < result.val_loss_before - 1.0       # and the held-out recording improves too
    train_events = [e for e in events if e.phase == "train"]
    assert [e.step for e in train_events] == list(range(1, 41))
    assert train_events[-1].val_loss == pytest.approx(result.val_loss) and train_events[-1].tokens_per_s > 0
    out = tmp / "adapter"
    assert sorted(p.name for p in out.iterdir()) == ["adapter_config.json", "adapter_model.safetensors",
                                                    "checkpoints", "manifest.json"]
    man = json.loads((out / "manifest.json").read_text())
    # a local base and the data folder are named, never placed: the folder is shared (and its adapter bundled)
    assert man["base"] == {"checkpoint": "tiny-musicgen", "revision": resolve(str(base)).revision, "model_type": "musicgen",
                           "weights": weights_digest(base, model_only=True)}   # its content: a copy of the base is the base
    assert man["data"]["dir"] == data.name
    for f in out.rglob("*"):
        if f.is_file():
            raw = f.read_bytes()
            assert str(base.parent).encode() not in raw and str(data).encode() not in raw, f
    assert man["adapter"]["digest"] == file_digest(out / "adapter_model.safetensors")
    assert man["data"]["fingerprint"] == result.data_fingerprint
    assert man["hyperparameters"]["rank"] == 8 and man["hyperparameters"]["steps"] == 40
    assert man["losses"]["val"] == pytest.approx(result.val_loss)
    assert man["data"]["windows"] == {"train": 9, "val": 3}     # 4 files x 3 s of 1 s windows, one file held out
    skipped = {s["file"]: s["reason"] for s in man["data"]["report"]["skipped"]}
    assert set(skipped) == {"blip.wav", "broken.flac"}
    assert skipped["blip.wav"].startswith("too short (0.30 s") and skipped["broken.flac"].startswith("unreadable")
    assert man["data"]["report"]["ignored"] == ["notes.md"]     # sidecars are not "ignored"
    steps = sorted(p.name for p in (out / "checkpoints").iterdir() if p.is_dir())
    assert steps == ["step-0000020", "step-0000040"]
    # by default attention, feed-forward and LM heads are adapted, in every decoder layer; nothing else
    from safetensors import safe_open
    with safe_open(str(out / "adapter_model.safetensors"), framework="pt") as f:
        adapted = {k.split(".lora_")[0] for k in f.keys() if ".lora_A" in k}
    groups = {"self_attn.": 0, "encoder_attn.": 0, ".fc1": 0, ".fc2": 0, "lm_heads.": 0}
    for name in adapted:
        assert "text_encoder" not in name and "audio_encoder" not in name, name
        for g in groups:
            groups[g] += g in name
    assert groups == {"self_attn.": 2 * 4, "encoder_attn.": 2 * 4, ".fc1": 2, ".fc2": 2, "lm_heads.": 4}, groups


def test_captions_from_sidecars_or_instance_prompt(data, tmp_path):
    assert caption_for(data / "01_warm-piano.flac", "my band") == "warm piano loop"
    assert caption_for(data / "02_bass.wav", "my band") == "deep bass line"
    assert caption_for(data / "04_lead.flac", "my band") == "my band, lead"
    assert caption_for(data / "sub" / "03.ogg", "") == ""
    (tmp_path / "x.wav").write_bytes(b"")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(DataError, match="x.json is not valid JSON"):
        caption_for(tmp_path / "x.wav")


@pytest.mark.parametrize("stereo", [False, True])
def test_training_layout_is_generations_delay_pattern(stereo):
    """Training feeds the decoder exactly the sequence generate() builds: start token, then
    codebook k delayed by k steps (a stereo model's left/right pair k by k), pads around."""
    from nodes.models.finetune.batches import collate
    from nodes.models.finetune.data import Example
    model, _ = tiny_models.musicgen(stereo=stereo)
    k, t, ch = (8, 7, 2) if stereo else (4, 7, 1)
    codes = np.random.default_rng(0).integers(0, 2048, (k, t))
    ids, labels, n = collate([Example(codes.astype(np.int16), "", "x", 0.0)], channels=ch, start_id=2048, pad_id=2048)
    start = torch.full((k, 1), 2048)
    delay = k // ch - 1
    _, seq = model.decoder.build_delay_pattern_mask(torch.cat([start, torch.from_numpy(codes)], 1), pad_token_id=2048,
                                                    max_length=t + delay + 1)      # the whole delayed sequence
    assert torch.equal(ids, seq[:, :-1])
    target = seq[:, 1:].T
    assert torch.equal(labels[0][labels[0] != -100], target[target != 2048]) and n == k * t


def test_token_cache_is_reused(trained, base, data, tmp_path):
    result, _, tmp = trained
    assert result.encoded_windows == 12 and result.report.cached_files == 0
    again = finetune(data, base=str(base), out=tmp_path / "again", cache_dir=tmp / "tokens", steps=1,
                     val_fraction=0.25, instance_prompt="my band", **FAST)
    assert again.encoded_windows == 0 and again.report.cached_files == 5      # 4 used + the too-short one
    assert again.data_fingerprint == result.data_fingerprint
    other = finetune(data, base=str(base), out=tmp_path / "other", cache_dir=tmp / "tokens", steps=1,
                     **dict(FAST, window_s=0.5))
    windows = json.loads((tmp_path / "other" / "manifest.json").read_text())["data"]["windows"]
    assert other.encoded_windows == windows["train"] + windows["val"] >= 22     # other windows: encoded afresh
    assert other.data_fingerprint != result.data_fingerprint


def test_windows_drop_silence_and_short_leftovers():
    from nodeflow.timebase import PROFILES
    from nodes.models.finetune.data import cut, window_settings
    p = PROFILES["musicgen"]
    s = window_settings(p, window_s=1.0, min_window_s=0.5, overlap_s=0.0, silence_db=-60.0)
    tone = loop([440], 2.0, 32000)
    x = np.concatenate([tone, np.zeros((1, 32000), np.float32), tone[:, :9600]], axis=1)   # 2 s, 1 s silence, 0.3 s
    segs, starts, short, silent = cut(x, 32000, p, s)
    assert [g.shape[1] for g in segs] == [32000, 32000] and starts == [0, 32000] and (short, silent) == (1, 1)
    s = window_settings(p, window_s=1.0, min_window_s=0.2, overlap_s=0.5, silence_db=-60.0)
    segs, starts, short, silent = cut(x, 32000, p, s)        # 0.5 s hop; the 0.3 s tail is kept (>= 0.2 s)
    assert starts == [0, 16000, 32000, 48000, 80000] and silent == 1        # 2.0-3.0 s is silence
    assert segs[-1].shape[1] == 25600                                         # 2.5-3.3 s: a shorter last window


def test_gradient_accumulation_matches_a_bigger_batch(base, data, tmp_path):
    """Micro-batches are weighted by their tokens (windows differ in length), so 2 x 2 windows
    train exactly like 4 (with the decoder's dropout off: it draws random numbers per shape)."""
    no_dropout = tmp_path / "base"
    shutil.copytree(base, no_dropout)
    cfg = json.loads((no_dropout / "config.json").read_text())
    cfg["decoder"]["dropout"] = 0.0
    (no_dropout / "config.json").write_text(json.dumps(cfg))
    kw = dict(base=str(no_dropout), cache_dir=tmp_path / "t", steps=3, cond_dropout=0.0, val_fraction=0.0, **FAST)
    big = finetune(data, out=tmp_path / "big", **dict(kw, batch_size=4))
    acc = finetune(data, out=tmp_path / "acc", **dict(kw, batch_size=2, grad_accum=2))
    np.testing.assert_allclose([h["loss"] for h in acc.history], [h["loss"] for h in big.history], rtol=1e-4)
    assert [h["tokens"] for h in acc.history] == [h["tokens"] for h in big.history]


# ---------------------------------------------------------------------------------------- resume, Ctrl-C, cancel
def _opt_tensors(folder: Path) -> dict:
    from safetensors.torch import load_file
    return {k: v for k, v in load_file(str(folder / "state.safetensors")).items() if k.startswith("opt.")}


def test_ctrl_c_saves_and_resume_continues_exactly(base, data, tmp_path):
    kw = dict(base=str(base), cache_dir=tmp_path / "tokens", steps=8, checkpoint_every=4, cond_dropout=0.5,
              dropout=0.1, **dict(FAST, batch_size=2))
    whole = finetune(data, out=tmp_path / "whole", **kw)

    def ctrl_c(ev):
        if ev.phase == "train" and ev.step == 5:
            raise KeyboardInterrupt

    cut = finetune(data, out=tmp_path / "cut", progress=ctrl_c, **kw)
    assert cut.status == "interrupted" and cut.step == 5 and cut.adapter is None
    assert cut.checkpoint == tmp_path / "cut" / "checkpoints" / "step-0000005"
    assert not (tmp_path / "cut" / "adapter_model.safetensors").exists()        # no half-finished output
    assert not (tmp_path / "cut" / "manifest.json").exists()
    with pytest.raises(FinetuneError, match="already exists; use --resume"):
        finetune(data, out=tmp_path / "cut", **kw)
    resumed = finetune(data, out=tmp_path / "cut", resume=True, **kw)
    assert resumed.status == "finished" and resumed.step == 8
    assert [h["step"] for h in resumed.history] == list(range(1, 9))
    np.testing.assert_allclose([h["loss"] for h in resumed.history], [h["loss"] for h in whole.history], rtol=1e-5)
    from safetensors.torch import load_file
    a = load_file(str(tmp_path / "whole" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "cut" / "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=1e-5, atol=1e-6)
    oa = _opt_tensors(tmp_path / "whole" / "checkpoints" / "step-0000008")
    ob = _opt_tensors(tmp_path / "cut" / "checkpoints" / "step-0000008")
    assert oa.keys() == ob.keys() and any(k.endswith("exp_avg_sq") for k in oa)
    for name in oa:
        torch.testing.assert_close(oa[name], ob[name], rtol=1e-5, atol=1e-7)
    with pytest.raises(FinetuneError, match=r"rank=4 \(checkpoint: 8\)"):
        finetune(data, out=tmp_path / "cut", resume=True, **dict(kw, rank=4, steps=12))


def test_cancel_event_saves_a_checkpoint(base, data, tmp_path):
    import threading
    cancel = threading.Event()

    def stop_at_3(ev):
        if ev.phase == "train" and ev.step == 3:
            cancel.set()

    r = finetune(data, base=str(base), out=tmp_path / "o", cache_dir=tmp_path / "t", steps=50, progress=stop_at_3,
                 cancel=cancel, **FAST)
    assert r.status == "cancelled" and r.step == 3
    assert json.loads((tmp_path / "o" / "checkpoints" / "latest.json").read_text())["step"] == 3


def test_a_forced_run_stopped_early_leaves_the_previous_adapter_in_place(base, data, tmp_path):
    """QA64 D2: --force deleted the finished adapter as the new run started, so a Ctrl-C left a folder
    of checkpoints that every graph using the adapter refused.  The old adapter stays until the new
    one replaces it; the new run's checkpoint is there to --resume."""
    import threading
    out = tmp_path / "o"
    kw = dict(out=out, cache_dir=tmp_path / "t", **FAST)
    assert finetune(data, base=str(base), steps=2, **kw).status == "finished"
    before = {n: (out / n).read_bytes() for n in ("adapter_model.safetensors", "adapter_config.json", "manifest.json")}
    cancel = threading.Event()

    def stop_at_1(ev):
        if ev.phase == "train" and ev.step == 1:
            cancel.set()
    r = finetune(data, base=str(base), steps=5, force=True, progress=stop_at_1, cancel=cancel, **kw)
    assert r.status == "cancelled" and r.step == 1
    assert {n: (out / n).read_bytes() for n in before} == before
    assert json.loads((out / "checkpoints" / "latest.json").read_text())["step"] == 1
    done = finetune(data, base=str(base), steps=5, resume=True, **kw)
    assert done.status == "finished" and json.loads((out / "manifest.json").read_text())["steps"] == 5
    assert (out / "adapter_model.safetensors").read_bytes() != before["adapter_model.safetensors"]


def test_resume_on_a_copy_of_the_base_goes_on_and_on_other_weights_is_refused(base, data, tmp_path):
    """QA: the base's revision names its files' times, so a copy of it (another disk, another machine,
    a plain `cp -r`) refused --resume; the base's content decides where the times differ."""
    import shutil
    import threading
    cancel = threading.Event()

    def stop_at_2(ev):
        if ev.phase == "train" and ev.step == 2:
            cancel.set()
    kw = dict(out=tmp_path / "o", cache_dir=tmp_path / "t", steps=4, **FAST)
    assert finetune(data, base=str(base), progress=stop_at_2, cancel=cancel, **kw).status == "cancelled"
    copy = Path(shutil.copytree(base, tmp_path / "copy", copy_function=shutil.copy))       # times not kept
    assert resolve(str(copy)).revision != resolve(str(base)).revision
    weights = next(copy.glob("*.safetensors"))
    good = weights.read_bytes()
    weights.write_bytes(good[:-4] + bytes(4 - i for i in range(4)))      # other weights of the same shape
    with pytest.raises(FinetuneError, match=r"--resume: the checkpoint was trained on .* but .* is revision .* "
                                             r"\(other weights\)"):
        finetune(data, base=str(copy), resume=True, **kw)
    weights.write_bytes(good)
    assert finetune(data, base=str(copy), resume=True, **kw).status == "finished"


def test_gradient_checkpointing_recomputes_and_learns_the_same(base, data, tmp_path, monkeypatch):
    from transformers.models.musicgen import modeling_musicgen as mm
    calls = []                              # attention calls: self + cross per decoder layer and pass
    forward = mm.MusicgenAttention.forward

    def counting(self, *args, **kwargs):
        calls.append(1)
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(mm.MusicgenAttention, "forward", counting)
    runs = {}
    for on in (False, True):
        calls.clear()
        r = finetune(data, base=str(base), out=tmp_path / str(on), cache_dir=tmp_path / "t", steps=2, val_fraction=0.0,
                     gradient_checkpointing=on, **FAST)
        runs[on] = (len(calls), [h["loss"] for h in r.history])
    assert runs[False][0] == 2 * 2 * 2 and runs[True][0] == 2 * runs[False][0]   # 2 steps x 2 layers x 2; recomputed
    np.testing.assert_allclose(runs[True][1], runs[False][1], rtol=1e-6)


@pytest.mark.slow
def test_cli_ctrl_c_saves_a_checkpoint(base, data, tmp_path):
    """A real SIGINT to `audiochain finetune`: exit status 130, a checkpoint, a hint to --resume."""
    exe = Path(sys.executable).with_name("audiochain")
    cmd = [str(exe), "finetune", str(data), "--base", str(base), "--out", str(tmp_path / "o"), "--cache-dir",
           str(tmp_path / "t"), "--steps", "100000", "--checkpoint-every", "100000", "--window-s", "1",
           "--min-window-s", "0.5", "--batch-size", "1"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    # Ctrl-C as a terminal sends it: to a process that does not ignore SIGINT (a shell's background job
    # inherits it ignored, and Python then never raises KeyboardInterrupt: the run went on for good)
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=tmp_path,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    latest = tmp_path / "o" / "checkpoints"
    seen = bytearray()

    def read_stderr() -> None:
        for chunk in iter(lambda: proc.stderr.read1(4096), b""):
            seen.extend(chunk)
    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and b"loss" not in seen:
        time.sleep(0.1)                 # until the progress bar shows training steps (a loaded machine is slow)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"audiochain finetune went on for 120 s after SIGINT: {bytes(seen).decode()[-2000:]}")
    proc.stdout.read()
    reader.join(timeout=10)
    err = bytes(seen)
    assert proc.returncode == 130, err.decode()
    text = err.decode()
    assert "interrupted at step" in text and "--resume" in text and "Traceback" not in text
    saved = json.loads((latest / "latest.json").read_text())     # no periodic checkpoint before step 100000
    assert f"interrupted at step {saved['step']};" in text
    assert (latest / saved["path"] / "adapter.safetensors").is_file()
    assert "warning: skipped broken.flac" in text


# ---------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("case, match", [
    ("missing", "does not exist"),
    ("empty", "is empty"),
    ("no_audio", r"has no audio files \(2 other files: a.txt, cover.png\)"),
    ("too_short", "every audio file is too short: the shortest usable window is 0.5 s and the longest clip is 0.30 s"),
    ("corrupt", "none of the 3 audio files could be used"),
    ("silent", r"all audio is silent \(below -60 dBFS\)"),
])
def test_bad_data_folders(case, match, base, tmp_path):
    d = tmp_path / "d"
    if case != "missing":
        d.mkdir()
    if case == "no_audio":
        (d / "a.txt").write_text("caption without audio")
        (d / "cover.png").write_bytes(b"\x89PNG")
    if case == "too_short":
        write(d / "a.wav", loop([440], 0.3))
        write(d / "b.flac", loop([330], 0.2))
    if case == "silent":
        write(d / "a.wav", np.zeros((1, RATE * 2), np.float32))
        write(d / "b.wav", loop([440], 2.0) * 1e-4)                          # -88 dBFS
    if case == "corrupt":
        (d / "a.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
        (d / "b.mp3").write_bytes(os.urandom(2000))
        os.mkfifo(d / "c.wav")          # listed as skipped, not left out without a word; never opened (no hang)
    with pytest.raises(DataError, match=match) as info:
        finetune(d, base=str(base), out=tmp_path / "o", cache_dir=tmp_path / "t", steps=1, **FAST)
    if case == "corrupt":           # one line, each file named once (QA: the CLI printed '\n', and each path twice)
        said = str(info.value)
        assert "a.wav (unreadable: " in said and "b.mp3 (unreadable: " in said and "\n" not in said
        assert said.count("a.wav") == 1 and "c.wav (unreadable: is a FIFO" in said
    assert not (tmp_path / "o").exists()                     # nothing written for a mistake


def test_bad_base_and_out_and_settings(base, data, tmp_path):
    import transformers
    other = tmp_path / "t5"
    transformers.T5EncoderModel(transformers.T5Config(vocab_size=32, d_model=8, d_kv=4, d_ff=8, num_layers=1,
                                                      num_heads=2)).save_pretrained(other)
    common = dict(cache_dir=tmp_path / "t", steps=1, **FAST)
    with pytest.raises(FinetuneError, match=r"base '.*t5' is a 't5' model; fine-tuning needs a MusicGen checkpoint"):
        finetune(data, base=str(other), out=tmp_path / "o", **common)
    import shutil
    shutil.copytree(base, tmp_path / "wordless", ignore=shutil.ignore_patterns("tokenizer*"))   # (QA: it trained
    with pytest.raises(FinetuneError, match=r"has no tokenizer files .*: the captions would be read as unknown"):
        finetune(data, base=str(tmp_path / "wordless"), out=tmp_path / "o", **common)     # on captions as <unk>)
    assert not (tmp_path / "o").exists()
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "mine.txt").write_text("keep me")
    with pytest.raises(FinetuneError, match="already exists; use --resume to continue its training, --force"):
        finetune(data, base=str(base), out=tmp_path / "used", **common)
    with pytest.raises(FinetuneError, match=r"also holds other files \(mine.txt\)"):
        finetune(data, base=str(base), out=tmp_path / "used", force=True, **common)
    assert (tmp_path / "used" / "mine.txt").read_text() == "keep me"
    prev = tmp_path / "prev"                                   # a finished run's output, replaced with --force
    assert finetune(data, base=str(base), out=prev, **common).status == "finished"
    before = (prev / "manifest.json").read_bytes()
    with pytest.raises(FinetuneError, match="is a 't5' model"):
        finetune(data, base=str(other), out=prev, force=True, **common)
    assert (prev / "manifest.json").read_bytes() == before     # a failed start deletes nothing
    (prev / ".adapter_model.safetensors.4242-x1y2_z.tmp").write_bytes(b"")  # left by a write killed mid-way: ours
    assert finetune(data, base=str(base), out=prev, force=True, **dict(common, steps=2)).step == 2
    assert not (prev / ".adapter_model.safetensors.4242-x1y2_z.tmp").exists()
    assert json.loads((prev / "manifest.json").read_text())["steps"] == 2
    with pytest.raises(FinetuneError, match="nothing to resume"):
        finetune(data, base=str(base), out=tmp_path / "fresh", resume=True, **common)
    with pytest.raises(FinetuneError, match="rank=0 must be between 1 and 1024"):
        finetune(data, base=str(base), out=tmp_path / "o", **dict(common, rank=0))
    with pytest.raises(FinetuneError, match="mixed precision training runs on CUDA only"):
        finetune(data, base=str(base), out=tmp_path / "o", device="cpu", **dict(common, precision="float16"))
    with pytest.raises(AdapterError, match="unknown module group 'mlp'"):
        finetune(data, base=str(base), out=tmp_path / "o", **dict(common, target_modules="self_attn,mlp"))


def test_cli_prints_one_error_line(tmp_path):
    (tmp_path / "empty").mkdir()
    r = subprocess.run([str(Path(sys.executable).with_name("audiochain")), "finetune", str(tmp_path / "empty"),
                        "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [f"error: data folder {tmp_path / 'empty'} is empty; put your recordings "
                                             "(wav, flac, mp3, ogg, m4a...) in it"]


@pytest.mark.parametrize("flags,said", [
    (["--lr", "-1"], "error: --lr -1 must be in (0, 1]; try 1e-4"),
    (["--steps", "0"], "error: --steps 0 must be a whole number >= 1"),
    # QA52: the value was cut by its repr's length ("--min-window-s 3.0ust be", "--window-s 100.0s 5000 tokens")
    (["--window-s", "2", "--min-window-s", "3"], "error: --min-window-s 3 must be between one token (20 ms) and the "
                                                 "window (2 s)"),
    (["--window-s", "100"], "error: --window-s 100 is 5000 tokens; it must be between one token (20 ms) and the "
                            "model's window of "),
    (["--window-s", "nan"], "error: --window-s nan must be a finite number"),      # (QA56: a traceback)
    (["--overlap-s", "inf"], "error: --overlap-s inf must be a finite number"),
])
def test_cli_names_a_refused_setting_by_its_option_and_exits_2(base, data, tmp_path, capsys, flags, said):
    """QA: `--lr -1` was told "learning_rate=-1.0 must be in (0, 1]" (the Python keyword) and exited 1,
    where options the command line refuses exit 2."""
    from nodeflow.cli import main
    assert main(["finetune", str(data), "--base", str(base), "--out", str(tmp_path / "o"), *flags]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(said), lines


def test_ctrl_c_before_the_first_step_says_so_and_leaves_no_folder(base, data, tmp_path, capsys, monkeypatch):
    """QA52: a Ctrl-C after the data were read, before step 1, exited 130 without a word and left an
    empty --out folder."""
    from nodeflow.cli import main
    from nodes.models.finetune import train

    def interrupted(self, state):
        raise KeyboardInterrupt
    monkeypatch.setattr(train._Training, "restore", interrupted)
    assert main(["finetune", str(data), "--base", str(base), "--out", str(tmp_path / "o"), "--cache-dir",
                 str(tmp_path / "t"), "--steps", "2", "--window-s", "1", "--min-window-s", "0.5", "-q"]) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "interrupted before its first training step; nothing new was saved (the same command starts it again)")
    assert not (tmp_path / "o").exists()


def test_cli_trains_and_reports(base, data, tmp_path, capsys):
    from nodeflow.cli import main
    code = main(["finetune", str(data), "--base", str(base), "--out", str(tmp_path / "o"), "--cache-dir",
                 str(tmp_path / "t"), "--steps", "3", "--window-s", "1", "--min-window-s", "0.5", "--lr", "1e-2",
                 "--rank", "4", "--alpha", "6", "--batch-size", "2", "--grad-accum", "2", "--checkpoint-every", "2",
                 "--eval-every", "1", "--target-modules", "attention,heads"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "adapter: " in captured.out and "3 steps, training loss" in captured.out
    assert "training" in captured.err and "warning: skipped blip.wav: too short" in captured.err
    bar = captured.err.replace("\r", "\n")                  # tqdm redraws its line: step, loss, validation loss
    assert re.search(r"training.*3/3.*loss=\d+\.\d{4}.*val=\d+\.\d{4}", bar), bar[-600:]
    man = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert man["lora"]["r"] == 4 and "fc1" not in man["lora"]["target_modules"]
    assert man["lora"]["lora_alpha"] == 6
    hp = man["hyperparameters"]
    assert (hp["rank"], hp["alpha"], hp["batch_size"], hp["grad_accum"], hp["learning_rate"], hp["steps"]) == \
        (4, 6.0, 2, 2, 1e-2, 3)
    assert sorted(p.name for p in (tmp_path / "o" / "checkpoints").iterdir() if p.is_dir()) == \
        ["step-0000002", "step-0000003"]


def test_a_full_disk_says_one_line_and_the_same_command_runs_again(base, data, tmp_path):
    """QA: finetune under `ulimit -f 200` (a full disk) printed a 25-line SafetensorError traceback and left an
    empty OUT/checkpoints/: the retry was told "already exists; use --resume", --resume "nothing to resume";
    only --force got out."""
    out = tmp_path / "o"
    limit = ("import resource, sys\n"
             "resource.setrlimit(resource.RLIMIT_FSIZE, (65536, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))\n"
             "from nodeflow.cli import main\n"
             "sys.exit(main(sys.argv[1:]))\n")
    r = subprocess.run([sys.executable, "-c", limit, "finetune", str(data), "--base", str(base), "--out", str(out),
                        "--cache-dir", str(tmp_path / "t"), "--steps", "2", "--window-s", "1", "--min-window-s", "0.5",
                        "-q"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip().splitlines() == [
        f"error: could not write the checkpoint of step 2 ({out / 'checkpoints' / 'step-0000002'}): the file reached "
        "this process's file size limit (65,536 bytes, `ulimit -f`); raise the limit. No checkpoint was kept; run the "
        "same command again afterwards"], r.stderr
    assert not out.exists()                                    # nothing for the next run to trip on
    assert finetune(data, base=str(base), out=out, cache_dir=tmp_path / "t", steps=2, **FAST).status == "finished"


def test_a_write_refused_later_keeps_the_last_checkpoint_for_resume(base, data, tmp_path, monkeypatch):
    """A full disk after a checkpoint keeps it (said in the one line), and --resume goes on from it; a save
    stopped half-way (a killed process) leaves nothing that refuses a new run."""
    import errno
    from nodes.models.finetune import checkpoint as ckpt
    real = ckpt.save_tensors
    refuse: list[str] = []

    def full_disk(path, *a, **kw):
        if any(r in str(path) for r in refuse):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, *a, **kw)
    monkeypatch.setattr(ckpt, "save_tensors", full_disk)
    out, kw = tmp_path / "o", dict(base=str(base), cache_dir=tmp_path / "t", steps=4, checkpoint_every=2, **FAST)
    refuse.append(".tmp-step-0000004")
    with pytest.raises(FinetuneError) as info:
        finetune(data, out=out, **kw)
    assert str(info.value) == (f"could not write the checkpoint of step 4 ({out / 'checkpoints' / 'step-0000004'}): "
                               "the disk is full; free some space or choose another --out. The checkpoint of step 2 "
                               "is kept; continue with --resume afterwards")
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["latest.json", "step-0000002"]
    refuse[:] = ["adapter_model.safetensors"]                  # the training ends, its adapter cannot be written
    with pytest.raises(FinetuneError, match=r"^could not write the adapter in .*: the disk is full; free some space or "
                                            r"choose another --out. The training's last checkpoint is kept in .*; "
                                            r"afterwards the same command with --resume writes the adapter$"):
        finetune(data, out=out, resume=True, **kw)
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints"]          # no partial output, no temp file
    refuse.clear()
    r = finetune(data, out=out, resume=True, **kw)
    assert r.status == "finished" and r.step == 4 and (out / "manifest.json").is_file()
    cut = tmp_path / "cut"                         # killed while saving its first checkpoint: nothing to resume,
    (cut / "checkpoints" / ".tmp-step-0000002").mkdir(parents=True)     # and no reason to refuse a new run
    (cut / "checkpoints" / ".tmp-step-0000002" / "adapter.safetensors").write_bytes(b"\0" * 100)
    with pytest.raises(FinetuneError, match="nothing to resume in .*; start a new run without --resume"):
        finetune(data, out=cut, resume=True, **kw)
    assert finetune(data, out=cut, **dict(kw, steps=1)).status == "finished"
    assert not (cut / "checkpoints" / ".tmp-step-0000002").exists()


def test_written_files_follow_the_umask(base, data, tmp_path):
    """QA: adapter_model.safetensors, the file finetune says to share, was written 0600 (and the checkpoints'
    safetensors files) while adapter_config.json and manifest.json followed the umask."""
    import stat
    old = os.umask(0o027)
    try:
        finetune(data, base=str(base), out=tmp_path / "o", cache_dir=tmp_path / "t", steps=1, **FAST)
    finally:
        os.umask(old)
    modes = {str(f.relative_to(tmp_path / "o")): oct(stat.S_IMODE(f.stat().st_mode))
             for f in (tmp_path / "o").rglob("*") if f.is_file()}
    assert "adapter_model.safetensors" in modes and "checkpoints/step-0000001/state.safetensors" in modes
    assert set(modes.values()) == {oct(0o640)}, modes


# ---------------------------------------------------------------------------------------- using the adapter
def _graph(base: Path, adapter: str = "", seed: int = 3):
    g = Graph()
    m = g.add("models.musicgen", checkpoint=str(base), prompt="warm piano loop", duration_s=0.5, seed=seed,
              adapter=adapter)
    return g, m


def test_adapter_changes_output_and_is_in_metadata(trained, base, tmp_path, fresh_model_cache):
    _, _, tmp = trained
    adapter = tmp / "adapter"
    ex = Executor()
    g0, m0 = _graph(base)
    plain = ex.run(g0, base_dir=tmp_path)[m0.id]["out"]
    g1, m1 = _graph(base, str(adapter))
    e = g1.add("io.export", path="adapted.flac")
    g1.connect(m1.out, e.audio)
    res = ex.run(g1, base_dir=tmp_path)
    adapted = res[m1.id]["out"]
    assert plain.frames == adapted.frames == 16000 and plain.sample_rate == 32000
    again = ex.run(_graph(base, seed=3)[0], base_dir=tmp_path)
    assert np.array_equal(next(iter(again.outputs.values()))["out"].samples, plain.samples)  # same seed, same music
    rel_db = 20 * np.log10(rms(plain.samples - adapted.samples) / rms(plain.samples))
    assert rel_db > -20, f"the adapter barely changed what the model makes ({rel_db:.1f} dB)"
    info = dict(adapted.info)
    digest = file_digest(adapter / "adapter_model.safetensors")
    assert info["adapter_digest"] == digest and info["adapter"] == "adapter"
    assert "adapter_digest" not in dict(plain.info)
    tags = read_tags(res[e.id]["out"])
    assert tags["adapter_digest"] == digest and tags["checkpoint"] == base.name     # a folder's name, never its path
    keys = fresh_model_cache.keys()                            # base and adapted model never share an entry
    assert sorted(k.kind for k in keys) == ["musicgen", "musicgen+lora"]
    assert [k.revision.split("+")[1] for k in keys if k.kind == "musicgen+lora"] == [digest]


def test_loaded_adapter_reproduces_the_training_losses(trained, base, data, tmp_path):
    """The adapter merged by the node's loading path is the model training ended with: its loss on
    the held-out windows is the run's final validation loss (and the base's is the initial one)."""
    from nodeflow.node import Context
    from nodes.models.musicgen import MUSICGEN
    from nodes.models.finetune.batches import collate
    from nodes.models.finetune.data import prepare, window_settings
    result, _, tmp = trained

    def val_loss(adapter: str) -> float:
        with MUSICGEN.using(str(base), Context(base_dir=tmp_path), "cpu", "float32", adapter=adapter) as loaded:
            settings = window_settings(loaded.profile, window_s=1.0, min_window_s=0.5, overlap_s=0.0, silence_db=-60.0)
            ds = prepare(data, loaded.model, loaded.profile, settings, instance_prompt="my band", val_fraction=0.25,
                         cache_dir=tmp / "tokens")
            assert ds.report.encoded_windows == 0 and ds.fingerprint == result.data_fingerprint
            ids, labels, _ = collate(ds.val, channels=1, start_id=2048, pad_id=2048)
            enc = loaded.tokenizer([e.caption for e in ds.val], padding=True, return_tensors="pt")
            with torch.no_grad():
                return float(loaded.model(**enc, decoder_input_ids=ids, labels=labels).loss)

    assert val_loss(str(tmp / "adapter" / "adapter_model.safetensors")) == pytest.approx(result.val_loss, rel=1e-3)
    assert val_loss("") == pytest.approx(result.val_loss_before, rel=1e-3)


def test_adapter_digest_is_in_the_node_cache_key(trained, base, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file
    _, _, tmp = trained
    shutil.copytree(tmp / "adapter", tmp_path / "mine", ignore=shutil.ignore_patterns("checkpoints"))
    g, m = _graph(base, "mine")                        # relative to the graph's folder
    ex = Executor()
    first = ex.run(g, base_dir=tmp_path)
    assert m.id in first.ran
    second = ex.run(g, base_dir=tmp_path)
    assert m.id in second.cached and m.id not in second.ran
    # the same adapter however it is named: its file, a copy of its folder elsewhere (QA: each ran again)
    shutil.copytree(tmp_path / "mine", tmp_path / "elsewhere" / "mine")
    for spelling in ("mine/adapter_model.safetensors", str(tmp_path / "elsewhere" / "mine"),
                     "elsewhere/mine/adapter_model.safetensors"):
        m.set(adapter=spelling)
        again = ex.run(g, base_dir=tmp_path)
        assert m.id in again.cached and again.cache_keys[m.id] == first.cache_keys[m.id], spelling
    shutil.copytree(tmp_path / "mine", tmp_path / "copy")      # but a copy by another name: the output's
    m.set(adapter="copy")                                      # tag names it (QA72 M1)
    assert ex.run(g, base_dir=tmp_path).cache_keys[m.id] != first.cache_keys[m.id]
    m.set(adapter="mine")
    weights = tmp_path / "mine" / "adapter_model.safetensors"
    with safe_open(str(weights), framework="pt") as f:        # "retrain": new weights, same file name
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    save_file({k: v * 2 if "lora_B" in k else v for k, v in tensors.items()}, str(weights), metadata=meta)
    third = ex.run(g, base_dir=tmp_path)
    assert m.id in third.ran and third.cache_keys[m.id] != first.cache_keys[m.id]
    assert not np.array_equal(third[m.id]["out"].samples, first[m.id]["out"].samples)
    assert dict(third[m.id]["out"].info)["adapter_digest"] == file_digest(weights)


def test_bad_adapters(trained, base, tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file
    _, _, tmp = trained
    with pytest.raises(GraphError, match="input file adapter='nowhere.safetensors' not found"):
        Executor().run(_graph(base, "nowhere.safetensors")[0], base_dir=tmp_path)
    save_file({"weight": torch.zeros(2, 2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(GraphError, match="holds no LoRA weights"):          # refused before anything runs
        Executor().run(_graph(base, "other.safetensors")[0], base_dir=tmp_path)
    src = tmp / "adapter" / "adapter_model.safetensors"
    with safe_open(str(src), framework="pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    info = json.loads(meta["audiochain.lora"])
    info["base"]["checkpoint"], info["layout"]["hidden_size"] = "facebook/musicgen-medium", 1536
    meta = dict(meta, **{"audiochain.lora": json.dumps(info)})
    save_file(tensors, str(tmp_path / "medium.safetensors"), metadata=meta)
    with pytest.raises(ExecutionError, match=r"trained on facebook/musicgen-medium, whose decoder differs from "
                                             r"checkpoint .* \(hidden_size 1536 vs 16\)"):
        Executor().run(_graph(base, "medium.safetensors")[0], base_dir=tmp_path)
    # a training checkpoint is not an adapter (QA52: "keep adapter_config.json beside it", never written there)
    step = next(p for p in (tmp / "adapter" / "checkpoints").iterdir() if p.is_dir())
    for given in (step, step / "adapter.safetensors"):
        with pytest.raises(GraphError, match=rf"adapter {re.escape(str(given))} is a training checkpoint \(what "
                                             r"`audiochain finetune --resume` goes on from\), not an adapter; use "
                                             rf"{re.escape(str(tmp / 'adapter' / 'adapter_model.safetensors'))}$"):
            Executor().run(_graph(base, str(given))[0], base_dir=tmp_path)
    copied = shutil.copytree(step, tmp_path / "a-step")          # (QA56: a step copied elsewhere: the raw message)
    with pytest.raises(GraphError, match=r"is a training checkpoint .*; use the adapter_model.safetensors of the "
                                         r"folder `audiochain finetune --out` wrote$"):
        Executor().run(_graph(base, str(copied))[0], base_dir=tmp_path)


def test_validate_says_what_run_refuses_in_an_adapter(base, tmp_path):
    """QA: `validate` said "ok" for an adapter that is an empty folder, a junk .safetensors or a .wav, which the
    run refused at once; validate and run now say the same line, from the same check (and a missing file once)."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk.safetensors").write_text("junk\n")
    write(tmp_path / "take.wav", loop([440], 0.5))
    said = {"empty": f"adapter folder {tmp_path / 'empty'} has no adapter_model.safetensors; point at the folder",
            "junk.safetensors": f"adapter {tmp_path / 'junk.safetensors'} is not a readable safetensors file (",
            "take.wav": f"adapter {tmp_path / 'take.wav'} is not a .safetensors file; AudioChain loads adapters as"}
    for adapter, words in said.items():
        g, m = _graph(base, adapter)
        problems = g.problems(base_dir=tmp_path)
        assert len(problems) == 1 and problems[0].startswith(f"node '{m.id}' (models.musicgen): {words}"), problems
        with pytest.raises(GraphError) as info:
            Executor().run(g, base_dir=tmp_path)
        assert problems[0] in str(info.value)
    g, m = _graph(base, "nowhere.safetensors")
    problems = g.problems(base_dir=tmp_path)
    assert len(problems) == 1 and "input file adapter='nowhere.safetensors' not found" in problems[0], problems
    g, m = _graph(tmp_path / "no-such-checkpoint", "take.wav")      # said with a checkpoint that is not there too
    assert any("is not a .safetensors file" in p for p in g.problems(base_dir=tmp_path))


def test_a_core_install_without_the_extras_says_which_to_install(tmp_path, capsys, monkeypatch):
    """After `make demo` (core install only) `audiochain finetune` was a ModuleNotFoundError traceback.
    A blocked import stands in for the package not installed."""
    from nodeflow import cli
    from nodes.models.finetune import finetune
    monkeypatch.setitem(sys.modules, "peft", None)
    (tmp_path / "data").mkdir()
    assert cli.main(["finetune", str(tmp_path / "data"), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "fine-tuning needs the 'models' and 'finetune' extras (peft not installed" in err
    assert "pip install -e '.[models,finetune]'" in err and not (tmp_path / "out").exists()
    with pytest.raises(FinetuneError, match="peft not installed"):
        finetune(tmp_path / "data", out=tmp_path / "out")


def test_recordings_are_laid_out_in_the_channels_the_model_needs(base, tmp_path):
    """A mono model trains on the downmix (a stereo file whose channels cancel is silence to it);
    a stereo model keeps both channels (8 codebooks: left/right pairs) and the mono file is used too."""
    from nodeflow.node import Context
    from nodes.models.musicgen import MUSICGEN
    from nodes.models.finetune.data import prepare, window_settings
    d = tmp_path / "d"
    d.mkdir()
    tone = loop([220, 330], 3.0)
    write(d / "wide.wav", np.concatenate([tone, -tone]))                 # L = -R: the downmix is silent
    write(d / "mono.flac", loop([440, 660], 3.0, 48000), rate=48000)
    model, tok = tiny_models.musicgen(stereo=True)
    stereo_base = tmp_path / "stereo"
    model.save_pretrained(stereo_base)
    tok.save_pretrained(stereo_base)
    got = {}
    for name, ckpt in (("mono", base), ("stereo", stereo_base)):
        with MUSICGEN.using(str(ckpt), Context(base_dir=tmp_path), "cpu", "float32") as loaded:
            settings = window_settings(loaded.profile, window_s=1.0, min_window_s=0.5, overlap_s=0.0, silence_db=-60.0)
            ds = prepare(d, loaded.model, loaded.profile, settings, val_fraction=0.0, cache_dir=tmp_path / "t" / name)
        got[name] = sorted((e.source, e.codes.shape) for e in ds.train + ds.val)
    assert [s for s, _ in got["mono"]] == ["mono.flac"] * 3                 # wide.wav: 3 silent windows dropped
    assert {shape for _, shape in got["mono"]} == {(4, 50)}
    assert sorted({s for s, _ in got["stereo"]}) == ["mono.flac", "wide.wav"] and len(got["stereo"]) == 6
    assert {shape for _, shape in got["stereo"]} == {(8, 50)}


def test_a_lora_run_prints_no_library_deprecation_warning(base):
    """QA: every run with an adapter, and every fine-tune, printed transformers' two-line FutureWarning
    about `is_gradient_checkpointing` (peft reads it), with -q too: not the user's business."""
    code = ("import transformers as tf\n"
            "from nodes.models.finetune.adapter import apply_lora, target_regex\n"
            f"m = tf.MusicgenForConditionalGeneration.from_pretrained({str(base)!r})\n"
            "apply_lora(m, {'r': 2, 'lora_alpha': 4.0, 'lora_dropout': 0.0, 'target_modules': target_regex('self_attn')})\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       cwd=Path(__file__).resolve().parents[3], env=dict(os.environ, PYTHONWARNINGS=""))
    assert p.returncode == 0, p.stderr
    assert "is_gradient_checkpointing" not in p.stderr and "FutureWarning" not in p.stderr, p.stderr


def test_an_adapter_stands_for_its_weights_and_the_settings_they_do_not_carry(tmp_path):
    """The files an ``adapter`` path counts by in cache keys: a plain peft adapter's settings are in its
    adapter_config.json, so an edit there is another adapter; AudioChain's own carry them in the header."""
    from safetensors.numpy import save_file
    from nodes.models.finetune.adapter import META_KEY, parts
    w = {"a.lora_A.weight": np.ones((2, 4), np.float32), "a.lora_B.weight": np.zeros((4, 2), np.float32)}
    (tmp_path / "peft").mkdir()
    save_file(w, str(tmp_path / "peft" / "adapter_model.safetensors"))
    (tmp_path / "peft" / "adapter_config.json").write_text('{"peft_type": "LORA", "r": 2, "target_modules": ["a"]}')
    assert parts(tmp_path / "peft") == parts(tmp_path / "peft" / "adapter_model.safetensors") == {
        "weights": tmp_path / "peft" / "adapter_model.safetensors", "settings": tmp_path / "peft" / "adapter_config.json"}
    shutil.copytree(tmp_path / "peft", tmp_path / "own")
    save_file(w, str(tmp_path / "own" / "adapter_model.safetensors"), metadata={META_KEY: "{}"})
    assert parts(tmp_path / "own") == {"weights": tmp_path / "own" / "adapter_model.safetensors"}
    assert parts(tmp_path / "nothing") == {} and parts(tmp_path) == {}


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe not installed")
def test_a_file_names_the_adapter_its_graph_used_when_the_model_is_served_from_a_cache(trained, base, tmp_path):
    """QA72 M1: a copy of an adapter under another name is the same adapter by content, so it shared
    the cached model and output; the file's 'adapter' tag then named whichever copy ran first (even
    after that copy was retrained).  Each file names the folder its graph gives, its digest the content."""
    from safetensors import safe_open
    from safetensors.torch import save_file
    from nodeflow.diskcache import DiskCache
    _, _, tmp = trained
    shutil.copytree(tmp / "adapter", tmp_path / "tagA", ignore=shutil.ignore_patterns("checkpoints"))
    shutil.copytree(tmp_path / "tagA", tmp_path / "tagB")
    digest = file_digest(tmp_path / "tagA" / "adapter_model.safetensors")

    def render(adapter: str, out: str) -> tuple[dict[str, str], bool]:
        g, m = _graph(base, adapter)
        e = g.add("io.export", path=out)
        g.connect(m.out, e.audio)
        res = Executor(disk_cache=DiskCache(tmp_path / "values")).run(g, base_dir=tmp_path)   # as a new process
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format_tags", "-of", "json",
                                str(tmp_path / out)], capture_output=True, text=True, check=True)
        tags = {k.lower(): v for k, v in json.loads(probe.stdout)["format"]["tags"].items()}
        return tags, m.id in res.cached

    tags, _ = render("tagB", "b.flac")
    assert (tags["adapter"], tags["adapter_digest"]) == ("tagB", digest)
    tags, _ = render("tagA", "a.flac")                 # the model tagB loaded, in this process's model cache
    assert (tags["adapter"], tags["adapter_digest"]) == ("tagA", digest)
    weights = tmp_path / "tagB" / "adapter_model.safetensors"
    with safe_open(str(weights), framework="pt") as f:        # tagB retrained: new weights
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    save_file({k: v * 2 if "lora_B" in k else v for k, v in tensors.items()}, str(weights), metadata=meta)
    tags, cached = render("tagA/adapter_model.safetensors", "a2.flac")
    assert cached and (tags["adapter"], tags["adapter_digest"]) == ("tagA", digest)
    tags, cached = render("tagB", "b2.flac")
    assert not cached and (tags["adapter"], tags["adapter_digest"]) == ("tagB", file_digest(weights))


def test_a_misfit_or_nan_adapter_is_refused_at_load_in_one_line(trained, base, tmp_path):
    """QA72 L2: a tensor of the wrong shape gave 'Error(s) in loading state_dict for PeftModel:;' and
    named the checkpoint in use as the fix; L3: NaN weights gave torch's sampling error.  Each is now
    refused in one line naming the file and the tensor: the shape when the adapter loads, NaN weights
    before the run starts (validate reads the file's tensors; the load checks them too)."""
    from safetensors import safe_open
    from safetensors.torch import save_file
    _, _, tmp = trained
    with safe_open(str(tmp / "adapter" / "adapter_model.safetensors"), framework="pt") as f:
        meta, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    a = sorted(k for k in tensors if "lora_A" in k)[0]
    save_file(dict(tensors, **{a: tensors[a][:3].clone()}), str(tmp_path / "shape.safetensors"), metadata=meta)
    b = sorted(k for k in tensors if "lora_B" in k)[0]
    save_file(dict(tensors, **{b: torch.full_like(tensors[b], float("nan"))}), str(tmp_path / "nan.safetensors"),
              metadata=meta)
    rank, width = tensors[a].shape
    with pytest.raises(ExecutionError) as info:
        Executor().run(_graph(base, "shape.safetensors")[0], base_dir=tmp_path)
    said = str(info.value)
    assert f"adapter {tmp_path / 'shape.safetensors'} does not fit checkpoint '{base}': its tensor {a} is " \
           f"[3, {width}], the layer with its settings (rank {rank}) needs [{rank}, {width}]; " in said, said
    assert "the file itself is damaged or edited: copy it again or re-run `audiochain finetune`" in said
    assert "\n" not in said and "Error(s)" not in said
    with pytest.raises(GraphError, match=rf"adapter {re.escape(str(tmp_path / 'nan.safetensors'))} holds NaN or "
                                         rf"infinite weights \(tensor {re.escape(b)}\): its training diverged"):
        Executor().run(_graph(base, "nan.safetensors")[0], base_dir=tmp_path)


def test_an_unfinished_fine_tune_says_how_to_finish_and_resume_takes_its_base(trained, base, data, tmp_path):
    """QA72 L5: the folder of an interrupted fine-tune, used as adapter, got generic advice; it now says
    the training did not finish and the command that finishes it.  L4: that command's --resume without
    --base went on with facebook/musicgen-small (offline: not in the cache); it takes the checkpoint's base."""
    _, _, tmp = trained
    out = tmp_path / "unfinished"
    shutil.copytree(tmp / "adapter" / "checkpoints", out / "checkpoints")
    step = int(json.loads((out / "checkpoints" / "latest.json").read_text())["step"])
    with pytest.raises(GraphError) as info:
        Executor().run(_graph(base, str(out))[0], base_dir=tmp_path)
    assert str(info.value).endswith(
        f"adapter folder {out} has no adapter_model.safetensors; its fine-tune did not finish (last checkpoint: "
        f"step {step}); finish it with: audiochain finetune {data} --base {base} --out {out} --resume, or point at "
        "a finished adapter"), str(info.value)
    result = finetune(data, out=out, resume=True, steps=step + 1, cache_dir=tmp / "tokens")     # no base given
    assert result.status == "finished" and result.step == step + 1
    assert json.loads((out / "manifest.json").read_text())["base"]["checkpoint"] == str(base.name)
