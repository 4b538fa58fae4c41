"""Real checkpoints on a GPU: seconds of audio per second of compute and peak GPU memory.

    python -m bench.gpu_models                # every checkpoint found in the hub cache
    python -m bench.gpu_models musicgen       # only cases whose name contains "musicgen"

Runs only where CUDA is available and the weights are already in the Hugging Face cache (it never
downloads: `audiochain models pull NAME` first); otherwise it prints one skip line per case and
exits 0.  Each case runs its model node through a graph on ``cuda`` (half precision, as ``auto``
picks), once to load and warm up, then timed; peak memory is ``torch.cuda.max_memory_allocated``
over the timed run, weights included.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any

CASES: list[tuple[str, str, str, dict[str, Any]]] = [
    # name, node type, checkpoint, parameters
    ("musicgen_small_30s", "models.musicgen", "facebook/musicgen-small",
     dict(prompt="upbeat synth pop with punchy drums", duration_s=30.0)),
    ("musicgen_small_longform_120s", "models.musicgen", "facebook/musicgen-small",
     dict(prompt="ambient pads slowly evolving", duration_s=120.0, extend_stride_s=18.0)),
    ("musicgen_medium_30s", "models.musicgen", "facebook/musicgen-medium",
     dict(prompt="upbeat synth pop with punchy drums", duration_s=30.0)),
    ("musicgen_melody_30s", "models.musicgen_melody", "facebook/musicgen-melody",
     dict(prompt="jazz trio with piano", duration_s=30.0)),
    ("bark_small_4_sentences", "models.bark", "suno/bark-small",
     dict(prompt="Hello there. This is a test of long text. It is split into sentences. "
                 "\u266a And this line is sung \u266a", voice="v2/en_speaker_6")),
]


def _skip(name: str, why: str) -> None:
    print(f"{name}: skipped ({why})", flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cases = [c for c in CASES if not argv or any(a in c[0] for a in argv)]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")          # never download from a benchmark
    try:
        import torch
    except ImportError:
        for c in cases:
            _skip(c[0], "torch not installed")
        return 0
    if not torch.cuda.is_available():
        for c in cases:
            _skip(c[0], "no CUDA device on this machine")
        return 0
    import numpy as np

    from nodeflow import Audio, Executor, Graph, checkpoints
    from nodeflow.audio import seconds_to_frames

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    melody_path = os.path.join(root, "assets", "melody.flac")
    print(f"# {torch.cuda.get_device_name(0)}, torch {torch.__version__}", flush=True)
    ex = Executor()
    for name, node_type, checkpoint, params in cases:
        try:
            checkpoints.resolve(checkpoint, download=False)
        except checkpoints.CheckpointError:
            _skip(name, f"{checkpoint} is not in the hub cache; run `audiochain models pull {checkpoint}`")
            continue

        def run(seed: int) -> Audio:
            g = Graph()
            m = g.add(node_type, id="m", checkpoint=checkpoint, seed=seed, **params)
            if node_type == "models.musicgen_melody":
                g.connect(g.add("io.load", id="melody", path=melody_path).out, m.melody)
            return ex.run(g, device="cuda")["m"]["out"]

        run(0)                                                  # load into the model cache, warm up
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        out = run(1)
        torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        peak_gb = torch.cuda.max_memory_allocated() / 2**30
        if "duration_s" in params:
            assert out.frames == seconds_to_frames(params["duration_s"], out.sample_rate), out
        assert np.isfinite(out.samples).all()
        print(f"{name}_audio_s_per_s: {out.duration_s / dt:.2f} (higher is better; > 1 is faster than real time; "
              f"{out.duration_s:.1f} s of audio in {dt:.1f} s)", flush=True)
        print(f"{name}_peak_gpu_gb: {peak_gb:.2f} (lower is better; weights included)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
