"""Models at the machine's speed without changing the music, and locks per model instead of per
process: the skinny float32 products, the sampler's own generator, the CPU thread policy,
bfloat16 on the CPU, and which generations overlap (checked with barriers, never with clocks)."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from nodeflow import Executor, Graph, devices
from nodeflow.errors import ParameterError
from nodeflow.node import Context

from .helpers import model_graph, run_model


# ---------------------------------------------------------------------------------------- products
@pytest.mark.parametrize("rows", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("in_f,out_f,bias", [(16, 64, True), (32, 32, False), (64, 16, True)])
def test_skinny_products_compute_what_linear_computes(rows, in_f, out_f, bias):
    import torch
    from nodes.models._cpu import skinny_products
    torch.manual_seed(rows)
    model = torch.nn.Sequential(torch.nn.Linear(in_f, out_f, bias=bias))
    x = torch.randn(rows, 1, in_f)                       # [batch, step, features], as a decoder sees it
    want = model(x)
    keys = list(model.state_dict())
    switched = skinny_products(model)
    assert switched == (1 if in_f <= out_f else 0)       # narrowing layers keep F.linear (faster there)
    got = model(x)
    assert got.shape == want.shape and got.dtype == want.dtype
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert list(model.state_dict()) == keys              # parameters untouched: checkpoints round-trip
    assert skinny_products(model) == 0                   # idempotent
    assert skinny_products(model, on=False) == switched and type(model[0]) is torch.nn.Linear


def test_skinny_products_leave_half_types_and_gradients_alone():
    import torch
    from nodes.models._cpu import skinny_products
    lin = torch.nn.Linear(8, 16)
    skinny_products(torch.nn.Sequential(lin))
    x = torch.randn(2, 8, requires_grad=True)
    lin(x).sum().backward()                              # training through it still works
    assert x.grad is not None and x.grad.shape == x.shape
    half = torch.nn.Sequential(torch.nn.Linear(8, 16)).to(torch.bfloat16)
    skinny_products(half)
    assert half(torch.randn(2, 8, dtype=torch.bfloat16)).dtype == torch.bfloat16


def _tiny_model(tiny):
    import transformers
    model = transformers.MusicgenForConditionalGeneration.from_pretrained(str(tiny["musicgen_short"])).eval()
    tok = transformers.AutoTokenizer.from_pretrained(str(tiny["musicgen_short"]))
    return model, dict(tok(["calm piano"], return_tensors="pt"))


def test_float32_music_is_unchanged_by_the_skinny_products(tiny):
    """Same seed, same tokens; guidance on (two rows a step, the path that changes)."""
    import torch
    from nodes.models import _musicgen as engine
    from nodes.models._cpu import skinny_products
    model, enc = _tiny_model(tiny)
    settings = dict(top_k=250, top_p=0.0, temperature=1.0, guidance_scale=3.0)

    def tokens():
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=40, return_dict_in_generate=True, output_logits=True,
                                 **engine.sampling_kwargs(**settings, seed=11, device="cpu"))
        return out.sequences, torch.stack(out.logits)

    plain_ids, plain_logits = tokens()
    assert skinny_products(model.decoder) > 0
    fast_ids, fast_logits = tokens()
    assert torch.equal(fast_ids, plain_ids)
    torch.testing.assert_close(fast_logits, plain_logits, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("settings", [dict(top_k=250, top_p=0.0, temperature=1.0, guidance_scale=3.0),
                                      dict(top_k=0, top_p=0.9, temperature=0.7, guidance_scale=3.0),
                                      dict(top_k=50, top_p=0.5, temperature=1.3, guidance_scale=1.0)])
def test_the_sampler_draws_what_the_seeded_global_generator_drew(tiny, settings):
    """The node's own generator gives the music the process-wide one gave (no change for users),
    whatever state the global generator is in, and one sampler serves several windows."""
    import torch
    from nodes.models import _musicgen as engine
    model, enc = _tiny_model(tiny)
    with torch.inference_mode():
        torch.manual_seed(7)
        before = [model.generate(**enc, max_new_tokens=30, **engine.sampling_kwargs(**settings)) for _ in range(2)]
        torch.manual_seed(12345)                         # the global state no longer matters
        kw = engine.sampling_kwargs(**settings, seed=7, device="cpu")
        now = [model.generate(**enc, max_new_tokens=30, **kw) for _ in range(2)]
    for a, b in zip(before, now):
        assert torch.equal(a, b)
    assert len(kw["logits_processor"]) == (2 if settings["guidance_scale"] > 1 else 1)   # guidance not stacked


def test_a_cpu_float32_model_gets_the_skinny_products_and_bfloat16_runs(tiny, tmp_path, fresh_model_cache):
    from nodes.models._cpu import _skinny_class
    from nodes.models.musicgen import MUSICGEN
    ctx = Context(base_dir=tmp_path)
    with MUSICGEN.using(str(tiny["musicgen_short"]), ctx, "cpu", "float32") as loaded:
        kinds = {type(m).__name__ for m in loaded.model.decoder.modules()}
        assert _skinny_class().__name__ in kinds
    with MUSICGEN.using(str(tiny["musicgen_short"]), ctx, "cpu", "bfloat16") as loaded:
        assert _skinny_class().__name__ not in {type(m).__name__ for m in loaded.model.decoder.modules()}
        assert str(loaded.model.dtype) == "torch.bfloat16"
    ck = str(tiny["musicgen_short"])
    f32 = run_model("models.musicgen", tmp_path / "a", checkpoint=ck, duration_s=0.4, seed=3)
    bf16 = run_model("models.musicgen", tmp_path / "b", checkpoint=ck, duration_s=0.4, seed=3, precision="bfloat16")
    assert bf16.frames == f32.frames == round(0.4 * 32000) and bf16.sample_rate == 32000
    assert np.isfinite(bf16.samples).all() and bf16.samples.dtype == np.float32


def test_int8_on_the_cpu_quantizes_the_decoder_and_keeps_the_length(tiny, tmp_path, fresh_model_cache):
    import torch
    from nodes.models.musicgen import MUSICGEN
    ck = str(tiny["musicgen_short"])
    with MUSICGEN.using(ck, Context(base_dir=tmp_path), "cpu", "int8") as loaded:
        kinds = {type(m) for m in loaded.model.decoder.modules()}
        assert torch.nn.Linear not in kinds and loaded.dtype == "int8"
        assert any("quantized" in k.__module__ for k in kinds)
        assert all(type(m) is not torch.ao.nn.quantized.dynamic.Linear for m in loaded.model.audio_encoder.modules())
    f32 = run_model("models.musicgen", tmp_path / "a", checkpoint=ck, duration_s=0.4, seed=3)
    q8 = run_model("models.musicgen", tmp_path / "b", checkpoint=ck, duration_s=0.4, seed=3, precision="int8")
    assert q8.frames == f32.frames == round(0.4 * 32000) and np.isfinite(q8.samples).all()


@pytest.mark.parametrize("device,precision,adapter,words", [
    ("cuda", "int8", "", r"precision=int8 \(8-bit weights\) runs on the CPU only, not on cuda; use float16"),
    ("cpu", "int8", "lora", "precision=int8 cannot carry a LoRA adapter"),
])
def test_int8_where_it_cannot_run_is_one_clear_error(tiny, tmp_path, monkeypatch, device, precision, adapter, words):
    from nodes.models.musicgen import MUSICGEN
    monkeypatch.setattr(devices, "_cuda_ok", lambda: True)
    with pytest.raises(ParameterError, match=words):
        with MUSICGEN.using(str(tiny["musicgen_short"]), Context(base_dir=tmp_path), device, precision,
                   adapter=adapter):
            pass


# ---------------------------------------------------------------------------------------- threads
def test_thread_policy_is_bounded_and_overridable(monkeypatch):
    import torch
    monkeypatch.delenv("AUDIOCHAIN_TORCH_THREADS", raising=False)
    assert 1 <= devices.generation_threads() <= torch.get_num_threads()
    monkeypatch.setenv("AUDIOCHAIN_TORCH_THREADS", "3")
    assert devices.generation_threads() == 3
    monkeypatch.setenv("AUDIOCHAIN_TORCH_THREADS", "many")
    with pytest.raises(ParameterError, match="AUDIOCHAIN_TORCH_THREADS='many': expected a whole number"):
        devices.generation_threads()


def test_one_thread_count_holds_for_a_whole_sweep_and_a_rerun_takes_the_recorded_one(monkeypatch):
    """QA: the count followed the machine's load from one generation to the next, so one candidate of
    five identical tunes differed in its last bits, and a rerun did not give the row's file back."""
    monkeypatch.delenv("AUDIOCHAIN_TORCH_THREADS", raising=False)
    loads = iter([1, 2, 1])
    monkeypatch.setattr(devices, "_idle_now", lambda: next(loads))
    assert devices.generation_threads() == 1                  # alone: as the load says now
    with devices.one_thread_count() as pin:
        assert pin.count is None
        assert [devices.generation_threads() for _ in range(3)] == [2, 2, 2]     # the first one chosen
        with devices.one_thread_count() as inner:                                # a tune's sweeps: the same pin
            assert inner is pin and devices.generation_threads() == 2
    assert devices.generation_threads() == 1
    with devices.one_thread_count(3) as pin:                  # a rerun: the count its row records
        assert devices.generation_threads() == 3 and pin.count == 3
    monkeypatch.setenv("AUDIOCHAIN_TORCH_THREADS", "4")
    with devices.one_thread_count(3):
        assert devices.generation_threads() == 4                # the setting still decides


@pytest.mark.parametrize("cores,load,own,cap,want", [
    (2, 6.0, 1.0, 2, 1),      # others keep both cores busy: one thread
    (2, 1.1, 1.0, 2, 2),      # the load is this process's own last generation: both cores
    (2, 0.0, 0.0, 2, 2),      # quiet machine
    (16, 3.0, 0.0, 8, 8),     # never more than torch's own setting
    (4, 2.6, 0.0, 4, 1),      # 2.6 busy cores round to 3
    (2, 0.4, 1.0, 2, 2),      # own share above the average (it lags): nobody else is busy
])
def test_idle_threads(cores, load, own, cap, want):
    assert devices.idle_threads(cores, load, own, cap) == want


def test_thread_count_is_set_while_any_generation_runs_and_restored_after():
    import torch
    before = torch.get_num_threads()
    target = 1 if before != 1 else 2
    with devices.torch_threads(target) as n1:
        assert n1 == torch.get_num_threads() == target
        with devices.torch_threads(target + 5) as n2:      # a concurrent user shares the count in force
            assert n2 == target
        assert torch.get_num_threads() == target            # the inner exit does not restore yet
    assert torch.get_num_threads() == before


# ---------------------------------------------------------------------------------------- locks
def _two_model_graph(ck_a: str, ck_b: str) -> Graph:
    g = Graph()
    g.add("models.musicgen", id="a", checkpoint=ck_a, duration_s=0.3, seed=1, prompt="calm piano")
    g.add("models.musicgen", id="b", checkpoint=ck_b, duration_s=0.3, seed=2, prompt="fast drums")
    return g


def _meet_at_first_step(monkeypatch, parties: int, wait_s: float) -> dict:
    """Every generation waits at its first token until ``parties`` generations are there (or
    ``wait_s`` passes: then it goes on alone).  Returns what was seen."""
    import nodes.models._musicgen as engine
    barrier = threading.Barrier(parties)
    seen = {"met": 0, "alone": 0}
    lock = threading.Lock()
    real = engine.step_criterion

    def criterion(on_step):
        first = [True]

        def step(ids):
            if first[0]:
                first[0] = False
                try:
                    barrier.wait(timeout=wait_s)
                    outcome = "met"
                except threading.BrokenBarrierError:
                    outcome = "alone"
                with lock:
                    seen[outcome] += 1
            on_step(ids)
        return real(step)

    monkeypatch.setattr(engine, "step_criterion", criterion)
    return seen


def test_two_models_in_two_branches_generate_at_the_same_time(tiny, monkeypatch, fresh_model_cache):
    """Both generations reach their first token together: neither waited for the other to finish
    (a process-wide lock would leave each alone at the barrier).  Their music is what each makes
    alone: sampling draws from a generator per generation, not torch's shared one."""
    ck_a, ck_b = str(tiny["musicgen_short"]), str(tiny["musicgen"])
    alone = Executor(max_workers=1).run(_two_model_graph(ck_a, ck_b), device="cpu")
    seen = _meet_at_first_step(monkeypatch, 2, wait_s=120.0)
    res = Executor(max_workers=2, disk_cache=None).run(_two_model_graph(ck_a, ck_b), device="cpu")
    assert seen == {"met": 2, "alone": 0}
    for nid in ("a", "b"):
        assert res[nid]["out"] == alone[nid]["out"]


def test_one_model_is_never_used_by_two_branches_at_once(tiny, monkeypatch, fresh_model_cache):
    """Two branches on the same checkpoint (one loaded model): the second waits for the first,
    so neither meets the other at the barrier; the music is what each makes alone."""
    ck = str(tiny["musicgen_short"])
    alone = Executor(max_workers=1, disk_cache=None).run(_two_model_graph(ck, ck), device="cpu")
    seen = _meet_at_first_step(monkeypatch, 2, wait_s=1.0)   # how long the first waits before going on alone
    res = Executor(max_workers=2, disk_cache=None).run(_two_model_graph(ck, ck), device="cpu")
    assert seen == {"met": 0, "alone": 2}
    assert fresh_model_cache.loads() == 1
    for nid in ("a", "b"):
        assert res[nid]["out"] == alone[nid]["out"]


def test_the_lock_belongs_to_the_loaded_model(tiny, tmp_path, fresh_model_cache):
    """Each (checkpoint, device, dtype) has its own lock; a thread holding one does not block another."""
    from nodes.models.musicgen import MUSICGEN
    ctx = Context(base_dir=tmp_path)
    with MUSICGEN.using(str(tiny["musicgen_short"]), ctx, "cpu", "float32") as a:
        got: dict = {}

        def other():
            with MUSICGEN.using(str(tiny["musicgen"]), ctx, "cpu", "float32") as b:
                got["b"] = b
            got["same_model_free"] = a.lock.acquire(blocking=False)   # held by the main thread

        t = threading.Thread(target=other)
        t.start()
        t.join(timeout=120)
        assert not t.is_alive() and got["b"].lock is not a.lock
        assert got["same_model_free"] is False


# ---------------------------------------------------------------------------------------- GPU bench
def test_gpu_bench_smoke_mode_runs_on_the_cpu(capsys):
    """`python -m bench.gpu_models --device cpu --tiny`: the script a lent GPU runs, end to end on
    the tiny model: batch 1 and 16, float32, bfloat16 and int8, the ratios, and skips for checkpoints."""
    from bench import gpu_models
    assert gpu_models.main(["--device", "cpu", "--tiny", "--seconds", "0.1"]) == 0
    out = capsys.readouterr().out
    values = {line.split(":")[0]: float(line.split(":")[1].split()[0]) for line in out.splitlines()
              if line.startswith("musicgen_tiny_random") and ": " in line}
    for b in (1, 16):
        for dtype in ("float32", "bfloat16", "int8"):
            assert values[f"musicgen_tiny_random_b{b}_{dtype}_audio_s_per_s"] > 0
        assert f"musicgen_tiny_random_b{b}_bfloat16_vs_float32" in values
        assert f"musicgen_tiny_random_b{b}_int8_vs_float32" in values
    assert "musicgen_tiny_random_float32_b16_vs_b1" in values
    assert "musicgen_small_30s: skipped (checkpoint cases run on a GPU (--device cpu))" in out
    assert gpu_models.main(["--device", "mps", "--tiny"]) == 1           # absent device: one error line
    assert capsys.readouterr().err.count("\n") == 1


def test_gpu_bench_refuses_bad_batches():
    from bench import gpu_models
    with pytest.raises(SystemExit):
        gpu_models.main(["--device", "cpu", "--tiny", "--batches", "0,x"])
