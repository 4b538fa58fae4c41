"""models.musicgen in graphs, on tiny random checkpoints of the real architecture: exact lengths from
the token maths, seeds, continuation, long-form chaining and its seams, text from a prompt node."""
from __future__ import annotations

import numpy as np
import pytest
import soxr

from nodeflow import Executor
from nodeflow.errors import ExecutionError, GraphError
from nodeflow.timebase import PROFILES
from nodes.models import _musicgen as engine

from .helpers import frame_rms, jumps, model_graph, run_graph, run_model, sine

RATE = 32000
HOP = 640
SHORT = dict(extend_stride_s=0.5)   # the *_short checkpoints have a 1 s window: stride 25 tokens


@pytest.mark.parametrize("seconds,frames", [(1.0, 32000), (5.0, 160000), (1.01, 32320)])
def test_duration_is_exact_to_the_sample(tiny, tmp_path, seconds, frames):
    # 1.01 s is 50.5 tokens: 51 are generated and the audio trimmed to the sample
    out = run_model("models.musicgen", tmp_path, checkpoint=str(tiny["musicgen"]), duration_s=seconds, seed=1)
    assert (out.sample_rate, out.channels, out.frames) == (RATE, 1, frames)
    assert np.sqrt(np.mean(out.samples ** 2)) > 1e-3          # it made sound, not silence
    info = dict(out.info)
    assert info["checkpoint"] == tiny["musicgen"].name and info["revision"].startswith("local-")   # its name, never a path


def test_long_form_spans_several_windows_with_exact_length(tiny, tmp_path):
    events = []
    g = model_graph("models.musicgen", tmp_path, checkpoint=str(tiny["musicgen_short"]), duration_s=3.5, seed=2,
                    **SHORT)
    out, res = run_graph(g, on_event=events.append)
    assert (out.sample_rate, out.frames) == (RATE, 3.5 * RATE)
    windows = engine.plan_windows(0, 175, 50, 25)
    assert len(windows) == 6                                   # 1 s window, 0.5 s stride: 1 + 5 continuations
    progress = [e for e in events if e.kind == "progress" and e.node_id == "model"]
    steps = sum(w.new + 3 for w in windows)                    # every generated step, delay pattern included
    assert progress[-1].done == progress[-1].total == steps
    assert len(progress) == steps
    assert res.ran == {"model"}


def test_stereo_long_form(tiny, tmp_path):
    out = run_model("models.musicgen", tmp_path, checkpoint=str(tiny["musicgen_stereo_short"]), duration_s=2.3,
                    seed=0, **SHORT)
    assert (out.channels, out.frames) == (2, round(2.3 * RATE))
    assert not np.array_equal(out.samples[0], out.samples[1])   # two channels of their own


def test_same_seed_same_samples_other_seed_differs(tiny, tmp_path):
    kw = dict(checkpoint=str(tiny["musicgen_short"]), duration_s=1.5, **SHORT)
    a = run_model("models.musicgen", tmp_path, seed=11, **kw)
    b = run_model("models.musicgen", tmp_path, seed=11, **kw)          # a fresh executor: no output cache
    c = run_model("models.musicgen", tmp_path, seed=12, **kw)
    assert np.array_equal(a.samples, b.samples)
    assert np.abs(a.samples - c.samples).max() > 0.05


def test_greedy_decoding_ignores_the_seed(tiny, tmp_path):
    kw = dict(checkpoint=str(tiny["musicgen_short"]), duration_s=0.5, temperature=0.0)
    a = run_model("models.musicgen", tmp_path, seed=1, **kw)
    b = run_model("models.musicgen", tmp_path, seed=2, **kw)
    assert np.array_equal(a.samples, b.samples)


def test_continuation_starts_with_the_prompt(tiny, tmp_path):
    prompt = sine(330.0, 0.75, RATE)
    kw = dict(checkpoint=str(tiny["musicgen_short"]), duration_s=1.0, seed=3, **SHORT)
    out = run_model("models.musicgen", tmp_path, audio={"prompt_audio": (prompt, RATE)}, **kw)
    fade = round(0.02 * RATE)
    assert out.frames == prompt.shape[1] + RATE
    assert np.array_equal(out.samples[:, :prompt.shape[1] - fade], prompt[:, :-fade])   # untouched
    new_only = run_model("models.musicgen", tmp_path, audio={"prompt_audio": (prompt, RATE)}, keep_prompt=False, **kw)
    assert new_only.frames == RATE
    assert np.array_equal(new_only.samples, out.samples[:, prompt.shape[1]:])
    unprompted = run_model("models.musicgen", tmp_path, **kw)
    assert np.abs(unprompted.samples - new_only.samples).max() > 0.05   # the prompt conditions what follows


def test_prompt_longer_than_the_context_is_continued_from_its_end(tiny, tmp_path):
    prompt = sine(250.0, 2.0, RATE) * np.linspace(0.2, 1.0, 2 * RATE, dtype=np.float32)
    out = run_model("models.musicgen", tmp_path, audio={"prompt_audio": (prompt, RATE)},
                    checkpoint=str(tiny["musicgen_short"]), duration_s=1.2, seed=3, **SHORT)
    assert out.frames == 2 * RATE + round(1.2 * RATE)
    assert np.array_equal(out.samples[:, :RATE], prompt[:, :RATE])


def test_prompt_at_another_rate_and_layout_is_resampled(tiny, tmp_path):
    stereo_44k = np.stack([sine(440.0, 0.5, 44100)[0], sine(220.0, 0.5, 44100)[0]])
    out = run_model("models.musicgen", tmp_path, audio={"prompt_audio": (stereo_44k, 44100)},
                    checkpoint=str(tiny["musicgen_short"]), duration_s=0.5, seed=0)
    expected = soxr.resample(stereo_44k.mean(axis=0), 44100, RATE, quality="HQ")    # downmix, then 32 kHz
    assert (out.sample_rate, out.channels, out.frames) == (RATE, 1, expected.size + RATE // 2)
    head = expected.size - round(0.02 * RATE)
    np.testing.assert_allclose(out.samples[0, :head], expected[:head], atol=1e-6)


def test_long_form_seams_have_no_discontinuity(tiny, tmp_path):
    """Window seams are joined in token space and decoded in overlapping, crossfaded chunks: around
    every seam the jumps and the level stay within what the rest of the clip does."""
    seconds = 4.0
    out = run_model("models.musicgen", tmp_path, checkpoint=str(tiny["musicgen_short"]), duration_s=seconds, seed=5,
                    **SHORT)
    x = out.samples
    windows = engine.plan_windows(0, 200, 50, 25)
    gen_seams = [(w.start + w.context) * HOP for w in windows[1:]]
    decode_seams = [k * 50 * HOP for k in range(1, 4)]            # chunk boundaries of the decoder
    seams = sorted(set(gen_seams + decode_seams))
    j = jumps(x)
    near = np.zeros(j.size, bool)
    for s in seams:
        near[s - 64:s + 64] = True
    limit = np.percentile(j[~near], 99.9)
    worst = max(j[s - 64:s + 64].max() for s in seams)
    assert worst <= 1.25 * limit, f"jump {worst:.4f} at a seam vs {limit:.4f} elsewhere"
    # level in 10 ms frames: frames holding a seam are inside the range of the others (no gap, no bump)
    rms = frame_rms(x, 320)
    seam_frames = sorted({s // 320 for s in seams})
    others = np.delete(rms, seam_frames)
    assert rms[seam_frames].min() >= 0.5 * others.min() and rms[seam_frames].max() <= 2.0 * others.max()


def test_chunked_decode_matches_one_pass_at_the_seams(tiny):
    """The decoder's chunk boundaries are invisible: chunked decoding equals decoding everything at once."""
    import torch
    import transformers
    model = transformers.MusicgenForConditionalGeneration.from_pretrained(str(tiny["musicgen_short"])).eval()
    codes = torch.randint(0, 2048, (4, 210), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        whole = engine._decode_once(model, codes).numpy()
        ctx = engine.decode_context(PROFILES["musicgen"].__class__("tiny", 32000, 50, 53, 3))
        chunked = engine.decode(model, codes, chunk=50, context=ctx)
        naive = np.concatenate([engine._decode_once(model, codes[:, i:i + 50]).numpy()
                                for i in range(0, 210, 50)], axis=1)
    assert chunked.shape == whole.shape == (1, 210 * HOP)
    scale = np.abs(whole).max()
    assert np.abs(chunked - whole).max() <= 1e-3 * scale
    # the measure is sensitive: decoding windows separately and butting them together is far off
    assert np.abs(naive - whole)[:, 50 * HOP - 320:50 * HOP + 320].max() > 0.1 * scale


def test_text_from_a_prompt_node_drives_the_generation(tiny, tmp_path):
    kw = dict(checkpoint=str(tiny["musicgen_short"]), duration_s=0.5, seed=4)
    via_param = run_model("models.musicgen", tmp_path, prompt="calm jazz piano", **kw)
    via_port = run_model("models.musicgen", tmp_path, text="calm jazz piano", prompt="ignored when linked", **kw)
    other = run_model("models.musicgen", tmp_path, prompt="loud techno drums", **kw)
    assert np.array_equal(via_param.samples, via_port.samples)
    assert np.abs(via_param.samples - other.samples).max() > 0.05


def test_second_run_comes_from_the_output_cache(tiny, tmp_path):
    g = model_graph("models.musicgen", tmp_path, checkpoint=str(tiny["musicgen_short"]), duration_s=0.3)
    ex = Executor()
    a, r1 = run_graph(g, executor=ex)
    b, r2 = run_graph(g, executor=ex)
    assert r1.ran == {"model"} and r2.cached == {"model"} and a == b


@pytest.mark.parametrize("params,words", [
    (dict(extend_stride_s=1.0), ["extend_stride_s=1 is 50 tokens", "whole window (50 tokens, 1 s)"]),
    (dict(extend_stride_s=1.5), ["extend_stride_s=1.5 is 75 tokens", "window of 50 tokens (1 s)"]),
])
def test_stride_outside_the_window_is_one_clear_error(tiny, tmp_path, params, words):
    with pytest.raises(GraphError) as e:        # refused before the model loads (validate reads the window)
        run_model("models.musicgen", tmp_path, checkpoint=str(tiny["musicgen_short"]), duration_s=2.0, **params)
    assert all(w in str(e.value) for w in words) and "node 'model'" in str(e.value)


def test_a_checkpoint_of_another_model_is_refused(tiny, tmp_path):
    """Refused before anything runs: the family's preflight checks the checkpoint's model type."""
    with pytest.raises(GraphError, match="is a 'bark' model; this node needs a 'musicgen' checkpoint"):
        run_model("models.musicgen", tmp_path, checkpoint=str(tiny["bark"]), duration_s=0.2)


def test_one_window_reuses_generates_own_decode_exactly(tiny):
    """Within one window the audio generate() decoded is used as is: it equals decoding the codes."""
    import torch
    import transformers

    from nodeflow.node import Context
    from nodes.models.musicgen import MUSICGEN
    model = transformers.MusicgenForConditionalGeneration.from_pretrained(str(tiny["musicgen_short"])).eval()
    tok = transformers.AutoTokenizer.from_pretrained(str(tiny["musicgen_short"]))
    enc = dict(tok(["calm piano"], return_tensors="pt"))
    prompt = engine.encode_prompt(model, sine(300.0, 0.2, RATE), 10)
    once: dict = {}
    with torch.inference_mode():
        codes = engine.generate_codes(model, MUSICGEN.loaded_profile(model), lambda w: enc, prompt_codes=prompt, new_tokens=30,
                                      stride=25, sampling=engine.sampling_kwargs(top_k=250, top_p=0.0,
                                                                                 temperature=1.0, guidance_scale=3.0),
                                      ctx=Context(), single_window_audio=once)
        again = engine._decode_once(model, codes).numpy()
    assert codes.shape == (4, 40) and torch.equal(codes[:, :10], prompt)
    np.testing.assert_array_equal(once["audio"], again)


def test_sampling_settings_reach_the_model(tiny, tmp_path):
    """top_k=1 and a tiny top_p leave one candidate token: the seed stops mattering and the music is
    the greedy one; guidance_scale changes the distribution sampled from (same seed, other music)."""
    kw = dict(checkpoint=str(tiny["musicgen_short"]), duration_s=0.4)
    greedy = run_model("models.musicgen", tmp_path, temperature=0.0, seed=1, **kw)
    for seed in (1, 2):
        assert np.array_equal(run_model("models.musicgen", tmp_path, top_k=1, seed=seed, **kw).samples,
                              greedy.samples)
    assert np.array_equal(run_model("models.musicgen", tmp_path, top_k=0, top_p=1e-6, seed=5, **kw).samples,
                          greedy.samples)
    sampled = run_model("models.musicgen", tmp_path, seed=1, **kw)                 # top_k=250 by default
    assert np.abs(sampled.samples - greedy.samples).max() > 0.05
    unguided = run_model("models.musicgen", tmp_path, guidance_scale=1.0, seed=1, **kw)
    # the tiny random model's text conditioning is weak: a few tokens change, not the whole clip
    assert np.abs(unguided.samples - sampled.samples).max() > 0.01


def test_timing_comes_from_the_checkpoints_own_config(tmp_path):
    """A MusicGen whose codec runs at 24 kHz with a 320-sample hop (75 tokens/s) and a 40-token
    window: lengths, the long-form plan and the output rate follow that checkpoint, not 32 kHz/50 Hz."""
    import torch
    import transformers as tf

    import tiny_models
    torch.manual_seed(0)
    tok = tiny_models.t5_tokenizer()
    dec = tf.MusicgenDecoderConfig(vocab_size=2048, num_codebooks=4, hidden_size=16, ffn_dim=32, num_hidden_layers=2,
                                   num_attention_heads=2, max_position_embeddings=2048, pad_token_id=2048,
                                   bos_token_id=2048, decoder_start_token_id=2048)
    cfg = tf.MusicgenConfig(text_encoder=tiny_models._t5_config(len(tok)),
                            audio_encoder=tiny_models._encodec(24000, [8, 5, 4, 2], [4.0], 2048), decoder=dec)
    model = tf.MusicgenForConditionalGeneration(cfg)
    tiny_models.randomize_codebooks(model)
    tiny_models._generation_defaults(model.eval(), 40)
    folder = tmp_path / "musicgen-24k"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    events = []
    out = run_model("models.musicgen", tmp_path, checkpoint=str(folder), duration_s=1.3, extend_stride_s=0.2,
                    seed=1, on_event=events.append)
    assert (out.sample_rate, out.channels, out.frames) == (24000, 1, 31200)      # 97.5 tokens, trimmed to the sample
    assert np.sqrt(np.mean(out.samples ** 2)) > 1e-3
    windows = engine.plan_windows(0, 98, 40, 15)                                  # 0.2 s = 15 tokens of stride
    progress = [e for e in events if e.kind == "progress" and e.node_id == "model"]
    assert len(windows) > 3 and progress[-1].done == sum(w.new + 3 for w in windows)
