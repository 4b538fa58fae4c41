"""Demucs benchmark (issue 13), on a tiny random HTDemucs of the real architecture (CPU, one thread).

- ``demucs_node_vs_bare_apply_model``: ``models.demucs`` separating 20 s of stereo 44.1 kHz through
  the engine (``invoke``: a graph, the model cache, seeded shifts, progress and cancellation checks
  per segment, four ``Audio`` stems plus the list) against the bare ``demucs.apply.apply_model``
  call on the same loaded model with the same segments, overlap and one shift.  Goal <= 1.1.
- ``demucs_tiny_audio_s_per_s`` / ``..._bare``: seconds of audio separated per second, both ways.

Real size on a GPU: the real model is 48 channels and 5 transformer layers over 7.8 s segments,
so the model's own time dwarfs the node's fixed costs even more than here.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from bench._util import best_of, report

ROOT = Path(__file__).resolve().parent.parent
SECONDS = 20.0
RATE = 44100


def main() -> None:
    try:
        import numpy as np
        import torch
        from demucs.apply import apply_model
    except ImportError as e:
        print(f"bench_demucs: skipped ({e.name} not installed; pip install -e '.[separation]')")
        return
    sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
    import tiny_demucs

    from nodeflow import Executor
    from nodeflow.modelcache import default_cache
    from nodes.models.demucs import demucs

    os.environ.setdefault("AUDIOCHAIN_TORCH_THREADS", "1")   # the node's CPU thread policy: one, as the bare call
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory(prefix="audiochain-bench-") as tmp:
            ck = tiny_demucs.build(Path(tmp) / "demucs")
            rng = np.random.default_rng(0)
            x = (0.1 * rng.standard_normal((2, round(SECONDS * RATE)))).astype(np.float32)
            ex, seed = Executor(disk_cache=None), [0]

            def node_run() -> None:
                seed[0] += 1                  # a new seed each time: never served from the output cache
                demucs(checkpoint=str(ck), shifts=1, overlap=0.25, seed=seed[0], device="cpu").invoke(
                    (x, RATE), executor=ex)

            node_run()                        # load into the model cache, warm up
            (key,) = [k for k in default_cache().keys() if k.checkpoint == str(ck.resolve())]
            bag = default_cache().get(key, lambda: None).bag
            mix = torch.tensor(x)[None]

            def bare() -> None:
                with torch.inference_mode():
                    apply_model(bag, mix, shifts=1, split=True, overlap=0.25, device="cpu")

            bare()
            t_node, t_bare = [], []
            for _ in range(3):                # alternated: a busy spell slows both
                t_node.append(best_of(node_run, 1))
                t_bare.append(best_of(bare, 1))
            node_s, bare_s = min(t_node), min(t_bare)
    finally:
        torch.set_num_threads(threads)
    report("demucs_node_vs_bare_apply_model", node_s / bare_s, "goal <= 1.1", "{:.3f}x")
    report("demucs_tiny_audio_s_per_s", SECONDS / node_s, "tiny HTDemucs, 1 CPU thread, 1 shift, through the engine",
           "{:.1f}")
    report("demucs_tiny_audio_s_per_s_bare", SECONDS / bare_s, "the bare apply_model call", "{:.1f}")


if __name__ == "__main__":
    main()
