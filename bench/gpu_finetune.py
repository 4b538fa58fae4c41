"""LoRA fine-tuning of MusicGen-small on a CUDA GPU: throughput against a bare peft loop, peak memory.

    python -m bench.gpu_finetune                       # facebook/musicgen-small from the hub cache
    python -m bench.gpu_finetune --random-weights      # a random model of musicgen-small's size (offline)
    python -m bench.gpu_finetune --dry-run             # the same script on the tiny model on the CPU

Without CUDA (and without ``--dry-run``) it prints one skip line and exits 0; without cached
weights it says how to get them, or to use ``--random-weights`` (throughput does not depend on
the weights' values).  Each measure prints as ``name: value (goal ...)``; the bare loop runs in
the same process on the same model, LoRA layers, batch shape and mixed precision.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench._util import report

ROOT = Path(__file__).resolve().parent.parent


def small_sized_model(folder: Path) -> Path:
    """A random MusicGen with facebook/musicgen-small's architecture (T5-base text encoder, EnCodec
    32 kHz, 24-layer 1024-wide decoder; ~590 M parameters) and an offline tokenizer."""
    import transformers as tf
    sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
    import tiny_models
    tok = tiny_models.t5_tokenizer()
    text = tf.T5Config(vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12)
    codec = tf.EncodecConfig(sampling_rate=32000, audio_channels=1, upsampling_ratios=[8, 5, 4, 4],
                             target_bandwidths=[2.2], codebook_size=2048, hidden_size=128, num_filters=64,
                             num_residual_layers=1, num_lstm_layers=2, normalize=False, chunk_length_s=None,
                             overlap=None)
    dec = tf.MusicgenDecoderConfig(vocab_size=2048, num_codebooks=4, hidden_size=1024, ffn_dim=4096,
                                   num_hidden_layers=24, num_attention_heads=16, max_position_embeddings=2048,
                                   pad_token_id=2048, bos_token_id=2048, decoder_start_token_id=2048)
    model = tf.MusicgenForConditionalGeneration(tf.MusicgenConfig(text_encoder=text, audio_encoder=codec, decoder=dec))
    gc = model.generation_config
    gc.decoder_start_token_id = gc.pad_token_id = gc.bos_token_id = 2048
    gc.max_length = 1500
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def tiny_model(folder: Path) -> Path:
    sys.path.insert(0, str(ROOT / "tests" / "fixtures"))
    import tiny_models
    model, tok = tiny_models.musicgen()
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def write_data(folder: Path, files: int, seconds: float) -> Path:
    import soundfile as sf
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rate = 44100
    for i in range(files):
        notes = rng.choice([110, 131, 147, 165, 196, 220, 262, 294, 330, 392, 440], 4)
        t = np.arange(round(rate * seconds)) / rate
        f = notes[(t / 0.25).astype(int) % 4]
        sf.write(str(folder / f"take{i:02d}.flac"), 0.3 * np.sin(2 * np.pi * np.cumsum(f) / rate), rate)
    return folder


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.gpu_finetune", description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default="facebook/musicgen-small")
    ap.add_argument("--random-weights", action="store_true", help="random model of musicgen-small's size")
    ap.add_argument("--dry-run", action="store_true", help="tiny model on the CPU: checks the script itself")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--window-s", type=float, default=30.0)
    args = ap.parse_args(argv)
    try:
        import peft  # noqa: F401
        import torch
    except ImportError as e:
        print(f"gpu_finetune: skipped ({e.name} not installed; pip install -e '.[models,finetune]')")
        return 0
    from nodeflow import checkpoints
    from nodes.models.finetune.train import finetune

    from bench.bench_finetune import bare_loop
    device = "cpu" if args.dry_run else "cuda"
    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_finetune: skipped (no CUDA device; run it on a machine with an NVIDIA GPU, or --dry-run)")
        return 0
    window_s, steps = (1.0, 3) if args.dry_run else (args.window_s, args.steps)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        t0 = time.perf_counter()
        if args.dry_run:
            base, name = tiny_model(tmp / "base"), "tiny (dry run)"
        elif args.random_weights:
            base, name = small_sized_model(tmp / "base"), "random weights, musicgen-small size"
        else:
            try:
                base = checkpoints.resolve(args.checkpoint, download=False).path
            except checkpoints.CheckpointError as e:
                print(f"gpu_finetune: skipped ({e}; or run with --random-weights)")
                return 0
            name = args.checkpoint
        print(f"# model: {name}, built/resolved in {time.perf_counter() - t0:.1f} s; device {device}"
              + (f" ({torch.cuda.get_device_name(0)})" if device == "cuda" else ""), flush=True)
        data = write_data(tmp / "data", files=6, seconds=2 * window_s + 1)
        marks: dict[str, float] = {}

        def timer(ev) -> None:
            marks.setdefault(ev.phase, time.perf_counter())
            marks[ev.phase + "_end"] = time.perf_counter()

        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        ours = finetune(data, base=str(base), out=tmp / "out", cache_dir=tmp / "tokens", device=device, steps=steps,
                        batch_size=args.batch_size, window_s=window_s, min_window_s=window_s, val_fraction=0.0,
                        checkpoint_every=10_000, learning_rate=1e-4, progress=timer)
        peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else float("nan")
        amp = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) if device == "cuda" else None
        tokens = round(window_s * 50)
        bare = bare_loop(Path(base), steps, batch=args.batch_size, tokens=tokens, device=device, amp=amp)
    audio_s = ours.report.seconds
    median = float(np.median([h["tokens"] / h["seconds"] for h in ours.history]))
    report("gpu_finetune_tokens_per_s", median, f"info; {name}, batch {args.batch_size} x {window_s:g} s, median step",
           "{:.0f}")
    report("gpu_finetune_vs_bare_peft_loop", median / bare, "goal >= 0.8; same model, batch and precision")
    report("gpu_finetune_data_encode_x_realtime", audio_s / max(marks["data_end"] - marks["data"], 1e-9),
           "info; seconds of audio decoded+encoded per second")
    report("gpu_finetune_peak_mem_gib", peak, "info; CUDA memory while training", "{:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
