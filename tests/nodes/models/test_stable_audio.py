"""models.stable_audio on a tiny random-weight StableAudioPipeline of the real architecture (T5,
duration projection, DiT, Oobleck VAE at 44.1 kHz stereo, cosine DPM-Solver++), saved with
save_pretrained (safetensors) and loaded through the path stabilityai/stable-audio-open-1.0 takes.
Its window is 64 latents of 32 samples (2048 frames), so a 0.2 s piece is chained over 4+ windows.

What is tested is what the node promises whatever the weights: exact lengths at the checkpoint's
rate, one window is the bare pipeline call, seeds repeat, the negative prompt acts, chained
windows continue each other, progress per denoising step and Stop within one step, precision."""
from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("diffusers")
pytest.importorskip("torchsde")

from nodeflow import Cancelled, Executor, Graph  # noqa: E402
from nodeflow.checkpoints import CheckpointError  # noqa: E402
from nodeflow.errors import ParameterError  # noqa: E402
from nodeflow.node import Context  # noqa: E402
from nodes.models.stable_audio import STABLE_AUDIO, _window, stable_audio, window_plan  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))
import tiny_stable_audio as tiny  # noqa: E402

RATE, WINDOW = tiny.RATE, tiny.WINDOW_LATENTS * tiny.HOP          # 44100 Hz, 2048 frames


@pytest.fixture(scope="module")
def ck(tmp_path_factory) -> Path:
    return tiny.build(tmp_path_factory.mktemp("stable-audio") / "tiny-stable-audio")


def gen(ck: Path, **kw):
    kw = {"prompt": "rain on a tin roof", "steps": 4, "duration_s": 0.03, "checkpoint": str(ck), "device": "cpu",
          **kw}
    return stable_audio.fn(ctx=kw.pop("ctx", Context("sa")), **kw)


@pytest.mark.parametrize("frames", [1, 1000, WINDOW - 1, WINDOW, WINDOW + 1, 9000])
def test_exact_length_at_the_checkpoints_rate_and_channels(ck, frames):
    out = gen(ck, duration_s=frames / RATE, extend_stride_s=0.02)
    assert (out.sample_rate, out.channels, out.frames) == (RATE, 2, frames)
    assert np.isfinite(out.samples).all() and np.abs(out.samples).max() > 0


def test_the_time_base_is_read_from_the_checkpoint(ck):
    prof = STABLE_AUDIO.read_profile(ck)
    assert (prof.sample_rate, prof.channels, prof.hop, prof.window_tokens) == (RATE, 2, tiny.HOP, tiny.WINDOW_LATENTS)


def test_one_window_is_the_bare_pipeline_call(ck):
    import diffusers
    import torch
    frames = 1500
    out = gen(ck, duration_s=frames / RATE, negative_prompt="hiss", guidance_scale=5.0, seed=3)
    pipe = diffusers.StableAudioPipeline.from_pretrained(ck, local_files_only=True)
    bare = pipe("rain on a tin roof", negative_prompt="hiss", audio_end_in_s=frames / RATE, num_inference_steps=4,
                guidance_scale=5.0, generator=torch.Generator("cpu").manual_seed(3)).audios[0].numpy()
    assert bare.shape == out.samples.shape
    np.testing.assert_allclose(out.samples, bare, atol=1e-5)


@pytest.mark.parametrize("seconds", [0.03, 0.15])          # one window; chained windows
def test_a_seed_repeats_exactly_and_another_seed_differs(ck, seconds):
    a, b = gen(ck, seed=7, duration_s=seconds, extend_stride_s=0.02), gen(ck, seed=7, duration_s=seconds,
                                                                          extend_stride_s=0.02)
    c = gen(ck, seed=8, duration_s=seconds, extend_stride_s=0.02)
    assert np.array_equal(a.samples, b.samples)
    assert np.abs(a.samples - c.samples).max() > 1e-3


def test_the_negative_prompt_changes_the_result_when_guided(ck):
    plain, neg = gen(ck, negative_prompt=""), gen(ck, negative_prompt="metallic clang")
    assert np.abs(plain.samples - neg.samples).max() > 1e-3
    # guidance 1 turns guidance off: the negative prompt then has nothing to steer
    a, b = gen(ck, guidance_scale=1.0, negative_prompt=""), gen(ck, guidance_scale=1.0, negative_prompt="clang")
    assert np.array_equal(a.samples, b.samples)


def test_the_window_plan_covers_the_piece_stride_apart():
    assert window_plan(1, 32, 64, 40) == [(0, 1)]
    assert window_plan(2048, 32, 64, 40) == [(0, 64)]
    assert window_plan(2049, 32, 64, 40) == [(0, 64), (40, 25)]
    plan = window_plan(9000, 32, 64, 27)
    assert [s for s, _ in plan] == [0, 27, 54, 81, 108, 135, 162, 189, 216, 243] and sum(plan[-1]) == 282   # ceil(9000/32)


def test_a_continued_window_holds_the_previous_latents_and_its_audio_at_the_seam(ck):
    import torch
    with STABLE_AUDIO.using(str(ck), Context("sa"), "cpu", "float32") as held:
        pipe = held.model
        kw = dict(prompt="rain", negative_prompt="", seconds=WINDOW / RATE, steps=4, guidance_scale=7.0,
                  device="cpu", renoise=torch.Generator("cpu").manual_seed(0), on_step=lambda: None)
        first = _window(pipe, seed=0, held_back=None, **kw)
        head = first[:, :, 40:]                                              # 24 latents shared
        second = _window(pipe, seed=1, held_back=head, **kw)
        free = _window(pipe, seed=1, held_back=None, **kw)
        assert torch.equal(second[:, :, :24], head)                          # exactly, after the last step
        with torch.inference_mode():
            a = pipe.vae.decode(first).sample[0, :, 40 * 32:].numpy()
            b = pipe.vae.decode(second).sample[0, :, :24 * 32].numpy()
            c = pipe.vae.decode(free).sample[0, :, :24 * 32].numpy()
    mid = slice(8 * 32, 16 * 32)              # away from the windows' edges (the VAE looks a few latents around)
    same, other = np.abs(a[:, mid] - b[:, mid]).max(), np.abs(a[:, mid] - c[:, mid]).max()
    assert same < 0.01 * np.abs(a).max() < other


def test_progress_per_denoising_step_and_stop_within_one_step(ck):
    with STABLE_AUDIO.using(str(ck), Context("sa"), "cpu", "float32") as held:
        calls = []
        hook = held.model.transformer.register_forward_hook(lambda *a: calls.append(1))
    try:
        g = Graph()
        g.add("models.stable_audio", id="sa", prompt="rain", steps=5, duration_s=0.1, extend_stride_s=0.03,
              checkpoint=str(ck), device="cpu")
        seen = []
        Executor(disk_cache=None).run(g, on_event=seen.append)
        windows = len(window_plan(4410, 32, 64, 41))
        assert windows == 3 and len(calls) == windows * 5
        assert [(ev.done, ev.total) for ev in seen if ev.kind == "progress"] == [(k, 15) for k in range(16)]
        seen, stop = [], threading.Event()
        calls.clear()

        def on_event(ev):
            seen.append(ev)
            if ev.kind == "progress" and ev.done == 2:
                stop.set()
        with pytest.raises(Cancelled):
            Executor(disk_cache=None).run(g, on_event=on_event, cancel_event=stop)
        assert [(ev.done, ev.total) for ev in seen if ev.kind == "progress"] == [(0, 15), (1, 15), (2, 15)]
        assert len(calls) == 3 and seen[-1].kind == "cancelled"            # the step under way, then no more
    finally:
        hook.remove()


def test_precision_bfloat16_runs_on_the_cpu_in_that_dtype(ck, fresh_model_cache):
    import torch
    half, full = gen(ck, precision="bfloat16"), gen(ck, precision="float32")
    assert half.frames == full.frames == round(0.03 * RATE) and half.samples.dtype == np.float32
    assert np.abs(half.samples - full.samples).max() < 0.1 * np.abs(full.samples).max()
    with STABLE_AUDIO.using(str(ck), Context("sa"), "cpu", "bfloat16") as held:
        assert held.model.transformer.dtype == held.model.vae.dtype == torch.bfloat16
    assert sorted(k.dtype for k in fresh_model_cache.keys()) == ["bfloat16", "float32"]


def test_a_missing_checkpoint_names_the_pull_command(hub_cache):
    with pytest.raises(CheckpointError, match=r"audiochain models pull stabilityai/stable-audio-open-1.0"):
        stable_audio.fn(prompt="rain", device="cpu", ctx=Context("sa"))
    g = Graph()
    g.add("models.stable_audio", id="sa")
    assert any("audiochain models pull stabilityai/stable-audio-open-1.0" in p for p in g.problems())


def test_bad_settings_are_one_clear_line(ck, tmp_path):
    with pytest.raises(ParameterError, match=r"prompt is empty"):
        gen(ck, prompt="  ")
    with pytest.raises(ParameterError, match=r"extend_stride_s=0.05 is 68 latents of 0.726 ms, longer than the "
                       r"model's window of 64 latents \(0.0464399 s\); to generate 0.2 s it must be from 0.01 to "
                       r"0.0457142 s \(at most 63 latents\)"):
        gen(ck, duration_s=0.2, extend_stride_s=0.05)
    with pytest.raises(ParameterError, match=r"extend_stride_s=0.0001 is 0 latents of 0.726 ms; to generate 0.2 s "
                                             r"it must be from 0.01 to 0.0457142 s"):       # 0 latents: no progress
        gen(ck, duration_s=0.2, extend_stride_s=0.0001)
    import torch
    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match=r"device='cuda': CUDA is not available on this machine"):
            gen(ck, device="cuda")
    import tiny_encodec
    other = tiny_encodec.build(tmp_path / "encodec")
    with pytest.raises(ParameterError, match=r"models.stable_audio needs a 'StableAudioPipeline' checkpoint"):
        gen(ck, checkpoint=str(other))


def test_without_the_diffusion_extra_the_node_and_preflight_name_it(ck, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchsde", None)              # as if not installed
    with pytest.raises(CheckpointError, match=r"needs the 'diffusion' extra \(torchsde not installed here\): "
                                              r"pip install -e '\.\[models,diffusion\]'"):
        gen(ck)
    g = Graph()
    g.add("models.stable_audio", id="sa", checkpoint=str(ck))
    assert [p for p in g.problems() if "diffusion" in p]


def test_the_real_models_configuration_gives_its_time_base_and_the_estimate_uses_it():
    import diffusers
    import torch
    from nodes.models.stable_audio import _estimate, _time_base
    with torch.device("meta"):                # stable-audio-open-1.0's shapes (diffusers' defaults), no weights
        vae, dit = diffusers.AutoencoderOobleck(), diffusers.StableAudioDiTModel()
    prof = _time_base({"vae": dict(vae.config), "transformer": dict(dit.config)}, {})
    assert prof == STABLE_AUDIO.nominal and round(float(prof.window_tokens * prof.hop / prof.sample_rate), 2) == 47.55
    shape = _estimate({}, {"duration_s": 75.0, "extend_stride_s": 30.0, "steps": 100})["out"]
    assert (shape.frames, shape.channels, shape.rate) == (3307500, 2, 44100)
    assert shape.work_s == 0.25 * 2 * 100 + 1.0                              # two windows


def test_a_checkpoint_copied_without_a_component_is_refused_by_validate_in_one_line(ck, tmp_path):
    """QA57 D6: a copy without ``vae/`` passed validate, and the run said diffusers' "Error no file
    named config.json found in directory <the checkpoint>" (the wrong folder, no fix)."""
    import shutil
    broken = tmp_path / "sa-no-vae"
    shutil.copytree(ck, broken)
    shutil.rmtree(broken / "vae")
    g = Graph()
    g.add("models.stable_audio", id="sa", checkpoint=str(broken), prompt="rain", duration_s=0.1, device="cpu")
    said = [p for p in g.problems() if "'vae'" in p]
    assert len(said) == 1 and "model_index.json names it" in said[0] and "vae/ is not there" in said[0], g.problems()
    with pytest.raises(Exception) as e:
        Executor().run(g)
    assert "'vae' component" in str(e.value) and "config.json found" not in str(e.value)
    (broken / "vae").mkdir()                       # an empty folder is no component either
    assert any("vae/ has none of its files" in p for p in g.problems())
    g.set("sa", "checkpoint", str(ck))
    assert not [p for p in g.problems() if "component" in p]
    # QA61: a vae/ without its weights, and a model_index.json whose vae is null, passed validate too
    import json
    shutil.rmtree(broken)
    shutil.copytree(ck, broken)
    for f in (broken / "vae").glob("*.safetensors"):
        f.unlink()
    g.set("sa", "checkpoint", str(broken))
    assert any("lacks the weights of its 'vae' component" in p for p in g.problems()), g.problems()
    shutil.rmtree(broken)
    shutil.copytree(ck, broken)
    index = json.loads((broken / "model_index.json").read_text())
    (broken / "model_index.json").write_text(json.dumps({**index, "vae": [None, None]}))
    said = [p for p in g.problems() if "'vae'" in p]
    assert len(said) == 1, g.problems()
    assert "this checkpoint's model_index.json (it has no 'vae')" in said[0] and "config.json" not in said[0]
    with pytest.raises(Exception) as e:
        Executor().run(g)
    assert said[0].split("): ", 1)[1] in str(e.value)              # the run's line is validate's


def test_a_prompt_longer_than_the_text_encoder_reads_is_said_once_and_nothing_raw(ck, tmp_path, capfd):
    """QA57 D5: a 300-word prompt printed diffusers' raw 'truncated because t5 can only handle
    sequences up to 128 tokens' once per window (17 copies, 18 KB) and transformers' 'Token indices
    sequence length', and no AudioChain warning said that the end of the prompt changed nothing."""
    words = "warm piano and soft drums " * 40
    g = Graph()
    g.add("models.stable_audio", id="sa", checkpoint=str(ck), prompt=words + "then a techno drop", duration_s=0.2,
          extend_stride_s=0.04, steps=2, device="cpu")
    res = Executor(disk_cache=None).run(g)
    said = res.warnings["sa"]
    assert len(said) == 1 and said[0].startswith("prompt: ") and "reads 128" in said[0], said
    assert "t5 text encoder" in said[0] and "soft drums" in said[0] and "shorten it" in said[0]
    out = capfd.readouterr()
    assert "truncated" not in out.out + out.err and "Token indices" not in out.out + out.err, out
    g.set("sa", "prompt", "warm piano")
    assert not Executor(disk_cache=None).run(g).warnings
    # as a user meets it: a fresh process (transformers says its line once per tokenizer), with -q
    import os
    import subprocess
    from nodeflow.fileformat import save
    g.set("sa", "prompt", words + "then a techno drop")
    g.add("io.export", id="exp", path="long.wav")
    g.connect("sa.out", "exp.audio")
    save(g, tmp_path / "long.msgpack")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "AUDIOCHAIN_TORCH_THREADS": "1", "AUDIOCHAIN_CACHE": "off"}
    code = "import sys; from nodeflow.cli import main; sys.exit(main())"
    p = subprocess.run([sys.executable, "-c", code, "run", str(tmp_path / "long.msgpack"), "-o", str(tmp_path / "o"),
                        "-q"], capture_output=True, text=True, env=env, timeout=300)
    said = p.stdout + p.stderr
    assert p.returncode == 0, said
    assert said.count("reads 128") == 1 and "Token indices" not in said and "truncated" not in said, said
