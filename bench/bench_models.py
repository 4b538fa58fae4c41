"""Model-node benchmarks (issue 3), on a tiny random MusicGen of the real architecture (CPU).

- ``musicgen_longform_vs_bare_generate``: ``models.musicgen`` making 20 s through the engine,
  chained over five 5 s windows (prompted continuations, chunked decode with crossfades), against
  one bare ``model.generate`` of the same number of new tokens.  Goal: overhead under 10 %.
- ``musicgen_node_vs_bare_generate``: one window (5 s) through a graph vs the bare call: what
  loading from the model cache, seeding, progress events and the engine cost.

Full size on this CPU (issue 12), a random-weight model built from the real musicgen-small
configuration (``bench/configs/musicgen-small``, 587 M parameters, ~10 s to build, ~4 GiB with the
bfloat16 copy), 1 s of audio (53 tokens) per run, guidance 3.0, top-k 250, runs alternated:

- ``musicgen_small_cpu_tokens_per_s_vs_plain_generate``: the node's way (thread policy, skinny
  float32 products, its own sampler) against plain ``transformers`` ``generate`` at torch's default
  threads, float32 both.  Goal >= 3.
- ``..._bf16_vs_plain_generate``: the same with ``precision=bfloat16``.  Goal >= 3.
- ``..._int8_vs_plain_generate``: the same with ``precision=int8`` (8-bit decoder weights).
- ``..._vs_plain_generate_1_thread``: both against plain ``generate`` held to one thread, to
  separate what the thread policy gives from what the products and bfloat16 give.
- ``musicgen_small_bf16_*``, ``musicgen_small_int8_*``: what the precision changes: next-token distributions on the same tokens
  (KL divergence, top-1 agreement), decoded audio from the same codes (SNR), and how many sampled
  tokens stay identical with the same seed.  A random model's distributions are flat, so a small
  logit change flips a sampled token far more often than in a trained (peaked) model: these bound
  the arithmetic error, they do not judge music.

Real checkpoints on a GPU: ``python -m bench.gpu_models``.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from bench._util import best_of, report

ROOT = Path(__file__).resolve().parent.parent

WINDOW = 250           # tokens: a 5 s window at 50 tokens/s
STRIDE_S = 4.0         # each continuation is prompted with the last 1 s and adds 4 s
LONG_S = 20.0


def paired(a, b, repeat: int) -> tuple[float, float]:
    """Best times of ``a`` and ``b`` measured alternately, so a busy spell on a shared machine
    slows both rather than one."""
    ta, tb = [], []
    for _ in range(repeat):
        ta.append(best_of(a, 1))
        tb.append(best_of(b, 1))
    return min(ta), min(tb)


def _tiny_checkpoint(folder: Path) -> Path:
    sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
    import tiny_models
    model, tok = tiny_models.musicgen(window=WINDOW)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def musicgen_small(seed: int = 0):
    """A random-weight MusicGen built from the real musicgen-small configuration, and a small T5
    tokenizer (the real one cannot be fetched offline)."""
    import torch
    import transformers as tf
    sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
    import tiny_models
    torch.manual_seed(seed)
    folder = ROOT / "bench" / "configs" / "musicgen-small"
    model = tf.MusicgenForConditionalGeneration(tf.MusicgenConfig.from_pretrained(folder)).eval()
    model.generation_config = tf.GenerationConfig.from_pretrained(folder)
    tiny_models.randomize_codebooks(model, seed)
    return model, tiny_models.t5_tokenizer()


def full_size_cpu(seconds: float = 1.0, rounds: int = 2, build=None) -> None:
    """The CPU comparison above on ``build()`` (default: :func:`musicgen_small`; a smoke test passes
    a tiny model's builder)."""
    import copy
    import time

    import numpy as np
    import torch

    from nodeflow import devices
    from nodes.models import _musicgen as engine
    from nodes.models._cpu import int8_products, skinny_products

    default_threads = torch.get_num_threads()
    model, tok = (build or musicgen_small)()
    enc = tok(["lofi hip hop beat with warm piano"], return_tensors="pt")
    steps = round(seconds * 50) + 3
    settings = dict(top_k=250, top_p=0.0, temperature=1.0, guidance_scale=3.0)
    half = copy.deepcopy(model).to(torch.bfloat16)
    q8 = copy.deepcopy(model)
    int8_products(q8.decoder)

    def plain(threads: int):
        def run(n: int):
            skinny_products(model.decoder, on=False)
            torch.set_num_threads(threads)
            torch.manual_seed(1)
            with torch.inference_mode():
                return model.generate(**enc, max_new_tokens=n, **engine.sampling_kwargs(**settings))
        return run

    def ours(m):
        def run(n: int):
            if m is model:
                skinny_products(model.decoder)
            torch.set_num_threads(default_threads)
            with devices.torch_threads(devices.generation_threads()), torch.inference_mode():
                return m.generate(**enc, max_new_tokens=n,
                                  **engine.sampling_kwargs(**settings, seed=1, device="cpu"))
        return run

    cases = {"plain": plain(default_threads), "plain_1_thread": plain(1), "ours": ours(model), "ours_bf16": ours(half),
             "ours_int8": ours(q8)}
    for fn in cases.values():             # warm up (allocations, oneDNN kernels)
        fn(4)
    wall = {k: [] for k in cases}
    cpu = {k: [] for k in cases}
    for _ in range(rounds):               # alternated: a busy spell slows every case, not one
        for name, fn in cases.items():
            w, c = time.perf_counter(), time.process_time()
            fn(steps)
            wall[name].append(time.perf_counter() - w)
            cpu[name].append(time.process_time() - c)
    torch.set_num_threads(default_threads)
    tps = {k: steps / min(v) for k, v in wall.items()}
    tpc = {k: steps / min(v) for k, v in cpu.items()}
    print(f"# musicgen-small random weights, {seconds:g} s = {steps} tokens, torch default threads "
          f"{default_threads}, policy chose {devices.generation_threads()}; tokens/s wall (per CPU-s): "
          + ", ".join(f"{k} {tps[k]:.2f} ({tpc[k]:.2f})" for k in cases), flush=True)
    for name, goal in (("ours", "goal >= 3; float32, same tokens as plain generate at the same thread count"),
                       ("ours_bf16", "goal >= 3; precision=bfloat16"), ("ours_int8", "goal >= 3; precision=int8")):
        label = "musicgen_small_cpu_tokens_per_s" + name[4:]
        report(f"{label}_vs_plain_generate", tps[name] / tps["plain"], goal + f"; per CPU-second {tpc[name] / tpc['plain']:.2f}x")
        report(f"{label}_vs_plain_generate_1_thread", tps[name] / tps["plain_1_thread"],
               f"no goal; plain held to 1 thread: what the products{'/' + name[5:] if '_' in name else ''} give; "
               f"per CPU-second {tpc[name] / tpc['plain_1_thread']:.2f}x")

    precision_quality(model, half, enc, steps, settings, "bf16")
    precision_quality(model, q8, enc, steps, settings, "int8")


def precision_quality(model, half, enc, steps: int, settings: dict, name: str = "bf16") -> dict:
    """What another precision (``half``: the same weights in bfloat16 or int8) changes, measured on
    the float32 model's own tokens (see the module doc)."""
    import numpy as np
    import torch

    from nodeflow import devices
    from nodes.models import _musicgen as engine
    from nodes.models.layer import step_criterion

    def tokens(m):
        seen: dict = {}
        m.generate(**enc, max_new_tokens=steps, stopping_criteria=[step_criterion(lambda ids: seen.update(ids=ids))],
                   **engine.sampling_kwargs(**settings, seed=3, device="cpu"))
        return seen["ids"]                                                   # [K, L]: start token, delay pattern

    with devices.torch_threads(devices.generation_threads()), torch.inference_mode():
        ids32, ids16 = tokens(model), tokens(half)
        lp32 = torch.log_softmax(model(**enc, decoder_input_ids=ids32).logits.float(), -1)
        lp16 = torch.log_softmax(half(**enc, decoder_input_ids=ids32).logits.float(), -1)
        kl = float((lp32.exp() * (lp32 - lp16)).sum(-1).mean())
        top1 = float((lp32.argmax(-1) == lp16.argmax(-1)).float().mean())
        codes = engine._codes_from_sequence(model, ids32[:, :1], ids32)
        a32 = engine._decode_once(model, codes).float().numpy()
        a16 = engine._decode_once(half, codes).float().numpy()
    snr = float(10 * np.log10(np.sum(a32 ** 2) / max(float(np.sum((a32 - a16) ** 2)), 1e-30)))
    same = (ids32 == ids16).all(0)
    first = int((~same).nonzero()[0, 0]) - 1 if not bool(same.all()) else same.numel() - 1   # steps before a change
    vocab = lp32.shape[-1]
    report(f"musicgen_small_{name}_next_token_kl_nats", kl, f"no goal; float32 vs {name} next-token distributions on the "
           f"same tokens, mean per step and codebook (ln {vocab} = {np.log(vocab):.1f} is a uniform guess's entropy); "
           f"top-1 agreement {top1:.3f}", fmt="{:.2e}")
    if np.isfinite(snr) and snr < 300:          # int8 leaves EnCodec in float32: the same audio
        report(f"musicgen_small_{name}_decoded_snr_db", snr, f"no goal; EnCodec in {name} vs float32 decoding the "
               "same codes", fmt="{:.1f}")
    report(f"musicgen_small_{name}_sampled_steps_identical", first,
           f"no goal; same seed: generated steps before the first differing token, of {same.numel() - 1}", fmt="{:d}")
    return {"kl": kl, "top1": top1, "snr_db": snr, "identical_steps": first}


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as e:
        print(f"bench_models: skipped ({e.name} not installed; pip install -e '.[models]')")
        return
    from nodeflow import Executor, Graph
    from nodes.models.layer import step_criterion

    threads = torch.get_num_threads()
    torch.set_num_threads(1)     # a tiny model: one thread is the steadiest measure on a shared machine
    try:
        with tempfile.TemporaryDirectory(prefix="audiochain-bench-") as tmp:
            ck = _tiny_checkpoint(Path(tmp) / "musicgen")
            ex = Executor()
            seed = [0]

            def node_run(seconds: float, stride_s: float) -> None:
                seed[0] += 1                       # a new seed each time: never served from the output cache
                g = Graph()
                g.add("models.musicgen", id="m", checkpoint=str(ck), duration_s=seconds, extend_stride_s=stride_s,
                      seed=seed[0], prompt="lofi piano beat")
                ex.run(g, device="cpu")

            node_run(1.0, 0.5)                     # load into the model cache and warm up
            from nodeflow.modelcache import default_cache
            (key,) = [k for k in default_cache().keys() if k.checkpoint == str(ck.resolve())]
            loaded = default_cache().get(key, lambda: None)
            model, tok = loaded.model, loaded.tokenizer
            enc = tok(["lofi piano beat"], return_tensors="pt")

            def bare(seconds: float) -> None:
                steps = round(seconds * 50) + 3    # delay pattern: 3 extra steps
                with torch.inference_mode():
                    model.generate(**enc, max_new_tokens=steps, do_sample=True, top_k=250, guidance_scale=3.0,
                                   stopping_criteria=[step_criterion(lambda ids: None)])

            bare(1.0)
            t_long, t_bare = paired(lambda: node_run(LONG_S, STRIDE_S), lambda: bare(LONG_S), 3)
            report("musicgen_longform_vs_bare_generate", t_long / t_bare,
                   f"goal <= 1.10; {LONG_S:g} s in {WINDOW // 50} s windows vs one generate of the same tokens")
            t_one, t_bare_one = paired(lambda: node_run(WINDOW / 50, STRIDE_S), lambda: bare(WINDOW / 50), 5)
            report("musicgen_node_vs_bare_generate", t_one / t_bare_one, "goal <= 1.10; one window through a graph")
    finally:
        torch.set_num_threads(threads)
    full_size_cpu(float(os.environ.get("AUDIOCHAIN_BENCH_MUSICGEN_S", "1.0")))


if __name__ == "__main__":
    main()
