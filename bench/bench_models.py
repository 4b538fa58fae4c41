"""Model-node benchmarks (issue 3), on a tiny random MusicGen of the real architecture (CPU).

- ``musicgen_longform_vs_bare_generate``: ``models.musicgen`` making 20 s through the engine,
  chained over five 5 s windows (prompted continuations, chunked decode with crossfades), against
  one bare ``model.generate`` of the same number of new tokens.  Goal: overhead under 10 %.
- ``musicgen_node_vs_bare_generate``: one window (5 s) through a graph vs the bare call: what
  loading from the model cache, seeding, progress events and the engine cost.

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


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as e:
        print(f"bench_models: skipped ({e.name} not installed; pip install -e '.[models]')")
        return
    from nodeflow import Executor, Graph
    from nodes.models._hf import step_criterion

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


if __name__ == "__main__":
    main()
