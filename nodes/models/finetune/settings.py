"""Settings, progress events and results of :func:`nodes.models.finetune.train.finetune`."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from .adapter import DEFAULT_TARGETS
from .errors import FinetuneError

__all__ = ["Hyperparameters", "TrainEvent", "FinetuneResult", "FIXED_ON_RESUME"]

# changing one of these makes a checkpoint a different training run
FIXED_ON_RESUME = ("rank", "alpha", "dropout", "target_modules", "learning_rate", "batch_size", "grad_accum",
                   "weight_decay", "cond_dropout", "window_s", "min_window_s", "overlap_s", "silence_db",
                   "val_fraction", "instance_prompt", "seed", "lr_schedule", "warmup_steps")


@dataclasses.dataclass
class Hyperparameters:
    """Training settings; see ``audiochain finetune --help`` for each one."""
    steps: int = 500
    rank: int = 8
    alpha: float = 16.0
    dropout: float = 0.0
    target_modules: tuple[str, ...] = DEFAULT_TARGETS
    learning_rate: float = 1e-4
    batch_size: int = 4
    grad_accum: int = 1
    weight_decay: float = 0.01
    warmup_steps: int | None = None
    lr_schedule: str = "cosine"
    max_grad_norm: float = 1.0
    cond_dropout: float = 0.1
    window_s: float | None = None
    min_window_s: float | None = None
    overlap_s: float = 0.0
    silence_db: float = -60.0
    val_fraction: float = 0.1
    instance_prompt: str = ""
    captions: str = "files"
    checkpoint_every: int = 100
    eval_every: int | None = None
    keep_checkpoints: int = 2
    seed: int = 0
    precision: str = "auto"
    gradient_checkpointing: bool = False

    def check(self) -> None:
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise FinetuneError(msg)
        for name, value in dataclasses.asdict(self).items():   # nan, inf (QA56: --window-s nan was a traceback)
            need(not isinstance(value, float) or math.isfinite(value), f"{name}={value!r} must be a finite number")
        need(isinstance(self.steps, int) and self.steps >= 1, f"steps={self.steps!r} must be a whole number >= 1")
        need(isinstance(self.rank, int) and 1 <= self.rank <= 1024, f"rank={self.rank!r} must be between 1 and 1024")
        need(self.alpha > 0, f"alpha={self.alpha!r} must be > 0 (commonly 2 x rank)")
        need(0 <= self.dropout < 1, f"dropout={self.dropout!r} must be in [0, 1)")
        need(0 < self.learning_rate <= 1, f"learning_rate={self.learning_rate!r} must be in (0, 1]; try 1e-4")
        need(isinstance(self.batch_size, int) and self.batch_size >= 1, f"batch_size={self.batch_size!r} must be >= 1")
        need(isinstance(self.grad_accum, int) and self.grad_accum >= 1, f"grad_accum={self.grad_accum!r} must be >= 1")
        need(self.weight_decay >= 0, f"weight_decay={self.weight_decay!r} must be >= 0")
        need(self.warmup_steps is None or self.warmup_steps >= 0, f"warmup_steps={self.warmup_steps!r} must be >= 0")
        need(self.lr_schedule in ("cosine", "constant"), f"lr_schedule={self.lr_schedule!r}: use cosine or constant")
        need(self.max_grad_norm > 0, f"max_grad_norm={self.max_grad_norm!r} must be > 0")
        need(0 <= self.cond_dropout < 1, f"cond_dropout={self.cond_dropout!r} must be in [0, 1)")
        need(0 <= self.val_fraction < 1, f"val_fraction={self.val_fraction!r} must be in [0, 1)")
        need(self.checkpoint_every >= 1, f"checkpoint_every={self.checkpoint_every!r} must be >= 1")
        need(self.eval_every is None or self.eval_every >= 1, f"eval_every={self.eval_every!r} must be >= 1")
        need(self.keep_checkpoints >= 1, f"keep_checkpoints={self.keep_checkpoints!r} must be >= 1")
        need(self.silence_db < 0, f"silence_db={self.silence_db!r} must be below 0 dBFS")
        from .captions import check_captions
        check_captions(self.captions)
        need(str(self.precision) in ("auto", "float32", "float16", "bfloat16"),
             f"precision={self.precision!r}: use auto, float32, float16 or bfloat16")

    def plain(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["target_modules"] = list(self.target_modules)
        return d


@dataclasses.dataclass
class TrainEvent:
    """One progress report: ``phase`` is ``data`` (``done``/``total`` files), ``train`` (after
    each optimizer step), ``checkpoint`` or ``done``."""
    phase: str
    step: int = 0
    total_steps: int = 0
    loss: float | None = None
    val_loss: float | None = None
    lr: float | None = None
    tokens_per_s: float | None = None
    done: int = 0
    total: int = 0
    message: str = ""


@dataclasses.dataclass
class FinetuneResult:
    """What a run left behind.  ``status``: ``finished``, ``interrupted`` (Ctrl-C) or ``cancelled``."""
    status: str
    out: Path
    step: int
    adapter: Path | None
    manifest: Path | None
    checkpoint: Path | None
    train_loss: float | None
    val_loss: float | None
    val_loss_before: float | None
    history: list[dict[str, Any]]
    report: Any
    data_fingerprint: str
    tokens_per_s: float | None
    encoded_windows: int
