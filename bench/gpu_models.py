"""Models on a GPU: seconds of audio per second of compute and peak GPU memory.

    python -m bench.gpu_models                # batch 1 and 16 on musicgen-small's size, then every checkpoint
    python -m bench.gpu_models musicgen       # only cases whose name contains "musicgen"
    python -m bench.gpu_models --device cuda:1 --seconds 10 --batches 1,16 --precisions float32,float16
    python -m bench.gpu_models --device cpu --tiny      # the same script on a tiny model: a smoke test

**Batch cases** (no download): a random-weight MusicGen built from the real musicgen-small
configuration (``bench/configs/musicgen-small``; ``--tiny``: the tests' tiny model), generating
``--seconds`` of audio for each of ``--batches`` prompts at once, guidance 3.0, top-k 250, in each
of ``--precisions`` (default: float32, float16 and bfloat16 where the device runs them; on the CPU
float32, bfloat16 and int8).  Printed per case: seconds of audio per second (all rows of the batch
count), tokens per second, peak GPU memory; then ratios measured in the same run (float16 vs
float32, batch 16 vs batch 1).  Throughput does not depend on the weights' values.

**Checkpoint cases**:
they run only where CUDA is available and the weights are already in the Hugging Face
cache (it never downloads: `audiochain models pull NAME` first); otherwise one skip line per case,
exit status 0.  Each case runs its model node through a graph on ``cuda`` (half precision, as ``auto``
picks), once to load and warm up, then timed; peak memory is ``torch.cuda.max_memory_allocated``
over the timed run, weights included.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

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


def _sync(device: str) -> None:
    import torch
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def batch_cases(device: str, *, tiny: bool, seconds: float, batches: list[int], precisions: list[str]) -> dict:
    """Seconds of audio per second for each (precision, batch); prints a line per case and the
    ratios; returns ``{(precision, batch): audio_s_per_s}``."""
    import copy

    import numpy as np
    import torch

    from bench._util import report
    from nodeflow import devices
    from nodes.models import _musicgen as engine
    from nodes.models._cpu import int8_products, skinny_products

    name = "musicgen_tiny_random" if tiny else "musicgen_small_random"
    if tiny:
        sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
        import tiny_models
        base, tok = tiny_models.musicgen()
    else:
        from bench.bench_models import musicgen_small
        base, tok = musicgen_small()
    steps = round(seconds * 50) + 3                          # 50 tokens/s plus the delay pattern's 3
    prompts = ["upbeat synth pop with punchy drums", "ambient pads slowly evolving", "jazz trio with piano",
               "lofi hip hop beat"]
    cuda = device.startswith("cuda")
    got: dict = {}
    threads = devices.generation_threads() if device == "cpu" else torch.get_num_threads()
    for precision in precisions:
        try:
            dtype = devices.resolve_dtype(precision, device)
        except Exception as e:  # noqa: BLE001 - a precision this device lacks is a skip, not a failure
            _skip(f"{name}_{precision}", str(e))
            continue
        model = (base if dtype == "float32" and not cuda else copy.deepcopy(base)).to(device, devices.torch_dtype(dtype))
        if device == "cpu" and dtype == "float32":
            skinny_products(model.decoder)                    # what the node does on the CPU
        if dtype == "int8":                                    # a copy (base is float32): quantize it
            int8_products(model.decoder)
        for b in batches:
            enc = tok([prompts[i % len(prompts)] for i in range(b)], return_tensors="pt", padding=True).to(device)

            def run(n: int):
                with devices.torch_threads(threads), torch.inference_mode():
                    return model.generate(**enc, max_new_tokens=n, **engine.sampling_kwargs(
                        top_k=250, top_p=0.0, temperature=1.0, guidance_scale=3.0, seed=b, device=device))

            run(4)                                            # warm up: allocations, kernels
            _sync(device)
            if cuda:
                torch.cuda.reset_peak_memory_stats(device)
            t0 = time.perf_counter()
            audio = run(steps)
            _sync(device)
            dt = time.perf_counter() - t0
            out = audio.float().cpu().numpy()                  # [b, channels, samples]
            assert out.shape[0] == b and np.isfinite(out).all(), out.shape
            audio_s = b * out.shape[-1] / base.config.audio_encoder.sampling_rate
            got[dtype, b] = audio_s / dt
            peak = f"; peak GPU {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB" if cuda else ""
            report(f"{name}_b{b}_{dtype}_audio_s_per_s", audio_s / dt,
                   f"higher is better; {audio_s:.1f} s of audio in {dt:.2f} s, {b * steps / dt:.1f} tokens/s "
                   f"on {device}{peak}")
        del model
        if cuda:
            torch.cuda.empty_cache()
    for b in batches:
        for half in ("float16", "bfloat16", "int8"):
            if (half, b) in got and ("float32", b) in got:
                report(f"{name}_b{b}_{half}_vs_float32", got[half, b] / got["float32", b], "higher is better; same run")
    for dtype in dict.fromkeys(d for d, _ in got):
        big, one = max(batches), min(batches)
        if big != one and (dtype, big) in got and (dtype, one) in got:
            report(f"{name}_{dtype}_b{big}_vs_b{one}", got[dtype, big] / got[dtype, one],
                   "higher is better; audio per second, whole batch vs one prompt")
    return got


def _parse(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.gpu_models", description=__doc__.split("\n")[0])
    ap.add_argument("filters", nargs="*", help="run only cases whose name contains one of these")
    ap.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default cuda)")
    ap.add_argument("--tiny", action="store_true", help="batch cases on the tests' tiny model (a smoke test)")
    ap.add_argument("--seconds", type=float, default=10.0, help="audio per prompt in the batch cases (default 10)")
    ap.add_argument("--batches", default="1,16", help="comma-separated batch sizes (default 1,16)")
    ap.add_argument("--precisions", default="", help="comma-separated: float32,float16,bfloat16,int8 (default: what "
                    "the device runs well)")
    args = ap.parse_args(argv)
    try:
        args.batches = [int(b) for b in args.batches.split(",") if b.strip()]
        if not args.batches or min(args.batches) < 1:
            raise ValueError
    except ValueError:
        ap.error(f"--batches {args.batches!r}: expected whole numbers >= 1 separated by commas, e.g. 1,16")
    if not 0 < args.seconds <= 29.9:
        ap.error(f"--seconds {args.seconds:g}: expected more than 0 and at most 29.9 (one generate window)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    argv = args.filters
    cases = [c for c in CASES if not argv or any(a in c[0] for a in argv)]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")          # never download from a benchmark
    try:
        import torch
    except ImportError:
        for c in cases:
            _skip(c[0], "torch not installed")
        return 0
    from nodeflow import devices
    from nodeflow.errors import ParameterError
    device = args.device.strip().lower()
    if device.startswith("cuda") and not torch.cuda.is_available():
        _skip("musicgen_small_random", "no CUDA device on this machine (--device cpu --tiny runs the smoke test)")
        for c in cases:
            _skip(c[0], "no CUDA device on this machine")
        return 0
    try:
        device = devices.resolve_device(device)
    except ParameterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()] or (
        ["float32", "float16", "bfloat16"] if device.startswith("cuda") else ["float32", "bfloat16", "int8"])
    if not argv or any(a in "musicgen_small_random musicgen_tiny_random batch" for a in argv):
        batch_cases(device, tiny=args.tiny, seconds=args.seconds, batches=args.batches, precisions=precisions)
    if not device.startswith("cuda"):
        for c in cases:
            _skip(c[0], f"checkpoint cases run on a GPU (--device {device})")
        return 0
    import numpy as np

    from nodeflow import Audio, Executor, Graph, checkpoints
    from nodeflow.audio import seconds_to_frames

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    melody_path = os.path.join(root, "graphs", "assets", "melody.flac")
    print(f"# {torch.cuda.get_device_name(device)}, torch {torch.__version__}", flush=True)
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
            return ex.run(g, device=device)["m"]["out"]

        run(0)                                                  # load into the model cache, warm up
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        t0 = time.perf_counter()
        out = run(1)
        torch.cuda.synchronize(device)
        dt = time.perf_counter() - t0
        peak_gb = torch.cuda.max_memory_allocated(device) / 2**30
        if "duration_s" in params:
            assert out.frames == seconds_to_frames(params["duration_s"], out.sample_rate), out
        assert np.isfinite(out.samples).all()
        print(f"{name}_audio_s_per_s: {out.duration_s / dt:.2f} (higher is better; > 1 is faster than real time; "
              f"{out.duration_s:.1f} s of audio in {dt:.1f} s)", flush=True)
        print(f"{name}_peak_gpu_gb: {peak_gb:.2f} (lower is better; weights included)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
