"""``audiochain finetune DIR --base facebook/musicgen-small --out adapters/mine [...]``.

Registered through the ``audiochain.cli`` entry-point group (:func:`add_cli`).  A progress bar
(tqdm, on stderr) shows the step, the loss and the validation loss; skipped files are listed as
warnings; Ctrl-C saves a checkpoint and exits with status 130 (``--resume`` continues).  User
mistakes raise :class:`~.errors.FinetuneError`, which ``audiochain`` prints as ``error: ...``.
"""
from __future__ import annotations

import argparse
import re
import sys
from typing import Any

__all__ = ["add_cli"]

# flag -> (keyword of finetune(), type, help); every default is None = "the API's default (or the
# checkpoint's value with --resume)"
_HP: list[tuple[str, str, Any, str]] = [
    ("--steps", "steps", int, "optimizer steps in total (default 500)"),
    ("--rank", "rank", int, "LoRA rank (default 8)"),
    ("--alpha", "alpha", float, "LoRA alpha, the scale is alpha/rank (default 16)"),
    ("--dropout", "dropout", float, "LoRA dropout (default 0)"),
    ("--target-modules", "target_modules", str,
     "comma-separated module groups: self_attn, cross_attn, ffn, heads (aliases attention, feedforward) or "
     "re:REGEX (default: all four)"),
    ("--lr", "learning_rate", float, "peak learning rate (default 1e-4)"),
    ("--batch-size", "batch_size", int, "windows per micro-batch (default 4)"),
    ("--grad-accum", "grad_accum", int, "micro-batches per optimizer step (default 1)"),
    ("--weight-decay", "weight_decay", float, "AdamW weight decay (default 0.01)"),
    ("--warmup-steps", "warmup_steps", int, "linear warm-up steps (default min(100, steps/10))"),
    ("--lr-schedule", "lr_schedule", str, "cosine (to 10%%) or constant (default cosine)"),
    ("--cond-dropout", "cond_dropout", float,
     "share of steps trained without the caption, so guidance keeps working (default 0.1)"),
    ("--window-s", "window_s", float, "training window in seconds (default: the model's window, 30 s)"),
    ("--min-window-s", "min_window_s", float, "shortest window kept, e.g. a file's last one (default 5 s)"),
    ("--overlap-s", "overlap_s", float, "overlap between windows in seconds (default 0)"),
    ("--silence-db", "silence_db", float, "windows quieter than this (dBFS RMS) are dropped (default -60)"),
    ("--val-fraction", "val_fraction", float, "share of windows held out for the validation loss (default 0.1)"),
    ("--instance-prompt", "instance_prompt", str,
     "caption for files without a .txt/.json sidecar (joined with the file name)"),
    ("--captions", "captions", str,
     "for files without a sidecar: files (the instance prompt and file name, default) or whisper (adds the lyrics "
     "Whisper hears; whisper:CHECKPOINT for another checkpoint than openai/whisper-small)"),
    ("--checkpoint-every", "checkpoint_every", int, "steps between checkpoints (default 100)"),
    ("--eval-every", "eval_every", int, "steps between validation losses (default: --checkpoint-every)"),
    ("--keep-checkpoints", "keep_checkpoints", int, "checkpoints kept on disk (default 2)"),
    ("--seed", "seed", int, "random seed (default 0)"),
    ("--precision", "precision", str, "auto (mixed precision on CUDA), float32, float16 or bfloat16"),
]


class _Bar:
    """tqdm bars for the data and training phases."""

    def __init__(self, quiet: bool):
        self.quiet, self.bar, self.phase = quiet, None, None

    def _open(self, phase: str, total: int, initial: int = 0, unit: str = "it"):
        from tqdm import tqdm
        self.close()
        desc = "reading data" if phase == "data" else "training"
        self.bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
                        disable=self.quiet)
        self.phase = phase

    def __call__(self, ev) -> None:
        if ev.phase == "data":
            if self.phase != "data":
                self._open("data", ev.total, unit="file")
            self.bar.n = ev.done
            self.bar.set_postfix_str(ev.message[-40:], refresh=True)
        elif ev.phase == "train":
            if self.phase != "train":
                self._open("train", ev.total_steps, initial=ev.step - 1, unit="step")
            post = {"loss": f"{ev.loss:.4f}"}
            if ev.val_loss is not None:
                post["val"] = f"{ev.val_loss:.4f}"
            if ev.tokens_per_s:
                post["tok/s"] = f"{ev.tokens_per_s:.0f}"
            self.bar.set_postfix(post, refresh=False)
            self.bar.update(ev.step - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _run(args: argparse.Namespace) -> int:
    import warnings

    from . import require_packages
    require_packages()
    import transformers
    from .train import finetune
    transformers.utils.logging.set_verbosity_error()       # config lint and loading bars: not the user's business
    transformers.utils.logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
    keys = [key for _, key, _, _ in _HP] + ["gradient_checkpointing"]
    kwargs = {key: getattr(args, key) for key in keys if getattr(args, key) is not None}
    bar = _Bar(args.quiet)
    from .errors import FinetuneError
    try:
        result = finetune(args.data_dir, base=args.base, out=args.out, resume=args.resume, force=args.force,
                          device=args.device, cache_dir=args.cache_dir, progress=bar, **kwargs)
    except KeyboardInterrupt:       # before the first step (after it, a checkpoint is saved: the result says so)
        print("interrupted before its first training step; nothing new was saved (the same command starts it "
              "again)",
              file=sys.stderr)     # (QA52: exit 130 without a word, an empty --out folder left)
        return 130
    except FinetuneError as e:      # a setting refused: said by its option, exit 2 as other refused options
        said = str(e)               # (QA: "--lr -1" was told "learning_rate=-1.0 must be in (0, 1]", exit 1)
        flag = next((f for f, key, _, _ in _HP if said.startswith(f"{key}=") and key in kwargs), None)
        if flag is None:
            raise
        key = next(k for f, k, _, _ in _HP if f == flag)
        value = kwargs[key]         # the message's "key=VALUE" said as the option was typed (QA52: its value
        m = re.match(rf"{key}=\S+", said)                     # was cut by its repr's length: "3.0ust be")
        rest = said[m.end():] if m else f": {said}"
        print(f"error: {flag} {value:g}{rest}" if isinstance(value, float) else f"error: {flag} {value}{rest}",
              file=sys.stderr)
        return 2
    finally:
        bar.close()
    for f, reason in result.report.skipped:
        print(f"warning: skipped {f}: {reason}", file=sys.stderr)
    if result.status != "finished":
        from pathlib import Path
        from .checkpoint import resume_command, resumed_base
        again = resume_command(args.data_dir, args.base or resumed_base(Path(args.out)), args.out)
        print(f"{result.status} at step {result.step}; checkpoint saved in {result.checkpoint}\n"
              f"continue with: {again}", file=sys.stderr)
        return 130
    val = f", validation loss {result.val_loss:.4f}" if result.val_loss is not None else " (no validation split)"
    n = min(10, len(result.history))
    print(f"adapter: {result.adapter}\n"
          f"{result.step} steps, training loss {result.train_loss:.4f} (last {n} steps){val}\n"
          f"use it: models.musicgen with adapter={result.adapter} (the file alone is enough to share)")
    return 0


def add_cli(subparsers) -> argparse.ArgumentParser:
    """Add ``finetune`` to an argparse subparsers object (the ``audiochain.cli`` entry point)."""
    p = subparsers.add_parser(
        "finetune", help="fine-tune MusicGen with LoRA on a folder of your recordings",
        description="Fine-tune a MusicGen checkpoint with LoRA on every audio file under DIR. Captions come from "
                    "NAME.txt / NAME.json beside each file, else from --instance-prompt and the file name. "
                    "Writes OUT/adapter_model.safetensors, adapter_config.json and manifest.json; use the "
                    "adapter with the models.musicgen node's `adapter` parameter. Ctrl-C saves a checkpoint; "
                    "--resume continues it.")
    p.add_argument("data_dir", metavar="DIR", help="folder of recordings (searched recursively)")
    p.add_argument("--base", default=None, help="MusicGen hub id or local checkpoint folder (default "
                   "facebook/musicgen-small; with --resume, the base the checkpoint was trained on)")
    p.add_argument("--out", required=True, help="output folder for the adapter")
    p.add_argument("--resume", action="store_true", help="continue the latest checkpoint in --out")
    p.add_argument("--force", action="store_true", help="replace a previous fine-tuning output in --out")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")
    p.add_argument("--cache-dir", default=None, help="token cache folder (default: finetune-tokens beside the value cache: "
                   "~/.cache/audiochain/finetune-tokens, or next to $AUDIOCHAIN_CACHE_DIR when it is set)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    for flag, key, typ, help_ in _HP:
        p.add_argument(flag, dest=key, type=typ, default=None, help=help_)
    p.add_argument("--gradient-checkpointing", dest="gradient_checkpointing", action="store_const", const=True,
                   default=None, help="recompute activations in the backward pass: less GPU memory, slower")
    p.set_defaults(fn=_run)
    return p
