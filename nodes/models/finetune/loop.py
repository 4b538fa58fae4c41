"""The training loop of one :func:`~.train.finetune` run: the LoRA layers put on the decoder, the
optimizer, learning-rate schedule (warm-up, then cosine or constant) and data order; each step over
``grad_accum`` batches weighted by tokens (Ctrl-C held back while the weights change, an unfinished
step's random draws undone), the validation loss, a checkpoint every ``checkpoint_every`` steps and
on a stop; and what a finished run leaves: the adapter, peft's ``adapter_config.json`` and
``manifest.json``, each written atomically, the manifest last.

:mod:`.train` checks the output folder, the base and the settings and loads the model and the data
before a :class:`_Training` starts.
"""
from __future__ import annotations

import contextlib
import json
import math
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable

from nodeflow.atomic import write_atomic

from .adapter import ADAPTER_FILE, CONFIG_FILE, FORMAT, META_KEY, apply_lora, decoder_layout, lora_settings, \
    target_regex
from .errors import FinetuneError, cannot_write
from .settings import FinetuneResult, Hyperparameters, TrainEvent

__all__ = ["MANIFEST"]

MANIFEST = "manifest.json"


@contextlib.contextmanager
def _no_interrupt() -> Any:
    """Hold back SIGINT while the weights and optimizer change, so Ctrl-C never leaves half a step."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    old = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, lambda sig, frame: got.append(sig))
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
    if got:
        if callable(old):
            old(signal.SIGINT, None)
        raise KeyboardInterrupt


def _lr_lambda(hp: Hyperparameters, warmup: int) -> Callable[[int], float]:
    def f(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / (warmup + 1)
        if hp.lr_schedule == "constant":
            return 1.0
        frac = min(1.0, (step - warmup) / max(1, hp.steps - warmup))
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * frac))
    return f


def _write_outputs(out: Path, peft_model, model, meta: dict[str, Any], manifest: dict[str, Any]) -> Path:
    """Adapter, adapter_config.json and manifest.json, each to a temporary name then renamed;
    the manifest (which names the adapter's digest) comes last.  A write the disk refuses is one
    :class:`FinetuneError` (the run's last checkpoint is kept: ``--resume`` writes them)."""
    from peft import get_peft_model_state_dict
    from nodeflow.cache import file_digest
    from .checkpoint import save_tensors, write_json_atomic
    weights = {k: v.detach().to("cpu").contiguous() for k, v in get_peft_model_state_dict(peft_model).items()}
    path = out / ADAPTER_FILE
    try:
        save_tensors(path, weights, metadata={"format": "pt", META_KEY: json.dumps(meta, sort_keys=True)})
        cfg = peft_model.peft_config["default"].to_dict()
        cfg["base_model_name_or_path"] = meta["base"]["checkpoint"]
        text = json.dumps(cfg, indent=2, sort_keys=True, default=lambda o: sorted(o) if isinstance(o, set) else str(o))
        write_atomic(out / CONFIG_FILE, text.encode("utf-8"), fsync=False)
        manifest["adapter"] = {"file": ADAPTER_FILE, "digest": file_digest(path), "bytes": path.stat().st_size}
        write_json_atomic(out / MANIFEST, manifest)
    except OSError as e:
        kept = f"The training's last checkpoint is kept in {out / 'checkpoints'}"
        raise cannot_write(f"the adapter in {out}", e, f"{kept}; afterwards the same command with --resume writes "
                           "the adapter") from e
    return path


def _versions() -> dict[str, str]:
    import importlib.metadata as md
    out = {}
    for pkg in ("audiochain", "torch", "transformers", "peft"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "?"
    return out


class _Training:
    """One run's LoRA model, optimizer, schedule and data order, its steps and its checkpoints."""

    def __init__(self, model: Any, tokenizer: Any, profile: Any, data: Any, hp: Hyperparameters, dev: str, amp: Any,
                 out: Path, base_meta: dict[str, Any], emit: Callable[[TrainEvent], None],
                 cancel: threading.Event | None):
        import torch
        from .._musicgen import _pad_id
        from .batches import Sampler
        self.model, self.tokenizer, self.profile, self.data, self.hp = model, tokenizer, profile, data, hp
        self.dev, self.amp, self.out, self.emit, self.cancel = dev, amp, out, emit, cancel
        torch.manual_seed(hp.seed)
        if hp.gradient_checkpointing:   # recompute decoder activations in backward: less memory, ~30% more time
            if hasattr(model, "activation_checkpointing_enable"):     # transformers >= 5.2x
                model.activation_checkpointing_enable({"use_reentrant": False})
            else:
                model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        self.lora = {"r": hp.rank, "lora_alpha": hp.alpha, "lora_dropout": hp.dropout,
                     "target_modules": target_regex(hp.target_modules)}
        self.pm = pm = apply_lora(model, self.lora)
        self.names = [n for n, p in pm.named_parameters() if p.requires_grad]
        self.params = [p for p in pm.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(self.params, lr=hp.learning_rate, weight_decay=hp.weight_decay)
        warmup = hp.warmup_steps if hp.warmup_steps is not None else min(100, hp.steps // 10)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, _lr_lambda(hp, warmup))
        self.scaler = torch.amp.GradScaler("cuda") if amp == torch.float16 else None
        self.data_gen = torch.Generator().manual_seed(hp.seed)
        self.sampler = Sampler(len(data.train), self.data_gen)
        self.history: list[dict[str, Any]] = []
        self.step = 0
        self.start_id = self.pad_id = _pad_id(model)
        self.meta = {"base": base_meta, "data_fingerprint": data.fingerprint, "hyperparameters": hp.plain(),
                     "param_names": self.names}
        self.timing = {"tokens": 0, "seconds": 0.0}
        self.undo: tuple[Any, Any, dict[str, Any]] | None = None   # the random state before an unfinished step

    def restore(self, state: Any) -> None:
        """Continue from checkpoint ``state`` (None: a new run): weights, optimizer, schedule, random
        state, data order and history."""
        if state is None:
            self.train_mode()
            self.meta["val_loss_before"] = self.evaluate()
            return
        from peft import set_peft_model_state_dict
        from . import checkpoint as ckpt
        from .batches import Sampler
        if state.meta["param_names"] != self.names:
            raise FinetuneError("--resume: the checkpoint's LoRA layers do not match this model; "
                                "start over with --force")
        set_peft_model_state_dict(self.pm, {k: v.to(self.dev) for k, v in state.adapter.items()})
        ckpt.restore_optimizer(self.opt, state)
        self.sched.load_state_dict(state.meta["scheduler"])
        if self.scaler is not None and state.meta.get("scaler"):
            self.scaler.load_state_dict(state.meta["scaler"])
        ckpt.restore_rng(self.data_gen, state)
        self.sampler = Sampler(len(self.data.train), self.data_gen, state.meta["sampler"]["order"],
                               state.meta["sampler"]["pos"])
        self.history, self.step = list(state.meta["history"]), state.step
        self.train_mode()
        self.meta["val_loss_before"] = state.meta.get("val_loss_before")

    # ------------------------------------------------------------------ one batch
    def forward(self, examples: list[Any], drop: bool) -> tuple[Any, int]:
        import torch
        from .batches import collate
        ids, labels, n_tok = collate(examples, channels=self.profile.channels, start_id=self.start_id,
                                     pad_id=self.pad_id)
        enc = self.tokenizer([e.caption for e in examples], padding=True, return_tensors="pt")
        mask = enc["attention_mask"].clone()
        if drop and self.hp.cond_dropout > 0:   # classifier-free guidance needs the unconditional case too
            mask[torch.rand(len(examples), generator=self.data_gen) < self.hp.cond_dropout] = 0
        mask = mask.to(self.dev)
        with torch.no_grad():   # frozen, and kept in float32 (T5 overflows in float16)
            hidden = self.model.text_encoder(input_ids=enc["input_ids"].to(self.dev),
                                             attention_mask=mask).last_hidden_state
        with torch.autocast(self.dev.split(":")[0], dtype=self.amp or torch.float32, enabled=self.amp is not None):
            loss = self.pm(encoder_outputs=(hidden,), attention_mask=mask, decoder_input_ids=ids.to(self.dev),
                           labels=labels.to(self.dev)).loss
        return loss, n_tok

    def train_mode(self) -> None:
        self.pm.train()
        self.model.text_encoder.eval()    # frozen: its dropout stays off, the conditioning is deterministic
        self.model.audio_encoder.eval()

    def evaluate(self) -> float | None:
        import torch
        val, bs = self.data.val, self.hp.batch_size
        if not val:
            return None
        self.pm.eval()
        total, tokens = 0.0, 0
        with torch.no_grad():
            for i in range(0, len(val), bs):
                loss, n = self.forward(val[i:i + bs], drop=False)
                total, tokens = total + float(loss) * n, tokens + n
        self.train_mode()
        return total / max(tokens, 1)

    def one_step(self) -> dict[str, Any]:
        """Forward and backward over ``grad_accum`` batches, then one optimizer step (Ctrl-C held back
        while the weights change); the step's history entry."""
        import torch
        hp, t0 = self.hp, time.perf_counter()
        self.opt.zero_grad(set_to_none=True)
        loss_sum, n_tokens = 0.0, 0
        micro = [[self.data.train[i] for i in self.sampler.take(hp.batch_size)] for _ in range(hp.grad_accum)]
        frames = [sum(e.codes.shape[1] for e in b) for b in micro]
        for batch, f in zip(micro, frames):   # weighted by tokens: the same as one batch of them all
            loss, n = self.forward(batch, drop=True)
            loss = loss * (f / sum(frames))
            (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
            loss_sum, n_tokens = loss_sum + float(loss.detach()), n_tokens + n
        if not math.isfinite(loss_sum):
            raise FinetuneError(f"the loss became {loss_sum} at step {self.step + 1}; lower the learning rate "
                                f"(learning_rate={hp.learning_rate:g}) or use precision=float32")
        with _no_interrupt():
            if self.scaler is not None:
                self.scaler.unscale_(self.opt)
            torch.nn.utils.clip_grad_norm_(self.params, hp.max_grad_norm)
            if self.scaler is not None:
                self.scaler.step(self.opt)
                self.scaler.update()
            else:
                self.opt.step()
            self.sched.step()
            self.step += 1
            self.undo = None              # finished: a Ctrl-C from here on keeps it
            took = time.perf_counter() - t0
            self.timing["tokens"] += n_tokens
            self.timing["seconds"] += took
            entry: dict[str, Any] = {"step": self.step, "loss": loss_sum, "lr": self.sched.get_last_lr()[0],
                                     "seconds": took, "tokens": n_tokens}
            self.history.append(entry)
        return entry

    # ------------------------------------------------------------------ the loop
    def train(self, data_name: str) -> FinetuneResult:
        """Steps up to ``hp.steps`` (or a cancel, or Ctrl-C: a checkpoint either way), then the adapter."""
        import torch
        from .batches import Sampler
        hp = self.hp
        eval_every = hp.eval_every or hp.checkpoint_every
        status = "finished"
        try:
            while self.step < hp.steps:
                if self.cancel is not None and self.cancel.is_set():
                    status = "cancelled"
                    break
                self.undo = (torch.get_rng_state(), self.data_gen.get_state(), self.sampler.state())
                entry = self.one_step()
                if self.step % eval_every == 0 or self.step == hp.steps:
                    entry["val_loss"] = self.evaluate()
                self.emit(TrainEvent("train", step=self.step, total_steps=hp.steps, loss=entry["loss"],
                                     val_loss=self._last_val(), lr=entry["lr"], tokens_per_s=self._tok_rate()))
                if self.step % hp.checkpoint_every == 0 and self.step < hp.steps:
                    self.save_checkpoint()
        except KeyboardInterrupt:
            if self.undo is not None:   # the unfinished step is dropped; its draws are undone
                rng, gen, order = self.undo
                torch.set_rng_state(rng)
                self.data_gen.set_state(gen)
                self.sampler = Sampler(len(self.data.train), self.data_gen, order["order"], order["pos"])
            self.opt.zero_grad(set_to_none=True)
            return self.result("interrupted", self.save_checkpoint())
        path = self.save_checkpoint()
        if status != "finished":
            return self.result(status, path)
        adapter_path = _write_outputs(self.out, self.pm, self.model, self._adapter_meta(), self._manifest(data_name))
        self.emit(TrainEvent("done", step=self.step, total_steps=hp.steps, message=str(adapter_path)))
        return self.result("finished", path, adapter_path)

    def save_checkpoint(self) -> Path:
        from . import checkpoint as ckpt
        meta = dict(self.meta, history=self.history, sampler=self.sampler.state())
        path = ckpt.save(self.out / "checkpoints", step=self.step, peft_model=self.pm, optimizer=self.opt,
                         scheduler=self.sched, scaler=self.scaler, data_gen=self.data_gen, meta=meta,
                         keep=self.hp.keep_checkpoints)
        self.emit(TrainEvent("checkpoint", step=self.step, total_steps=self.hp.steps, message=str(path)))
        return path

    # ------------------------------------------------------------------ what it leaves
    def _last_val(self) -> float | None:
        vals = [h["val_loss"] for h in self.history if h.get("val_loss") is not None]
        return vals[-1] if vals else None

    def _train_loss(self) -> float | None:
        last = [h["loss"] for h in self.history[-10:]]
        return sum(last) / len(last) if last else None

    def _tok_rate(self) -> float | None:
        return self.timing["tokens"] / self.timing["seconds"] if self.timing["seconds"] > 0 else None

    def result(self, status: str, checkpoint_path: Path | None, adapter_path: Path | None = None) -> FinetuneResult:
        d = self.data
        return FinetuneResult(status, self.out, self.step, adapter_path, self.out / MANIFEST if adapter_path else None,
                              checkpoint_path, self._train_loss(), self._last_val(), self.meta["val_loss_before"],
                              self.history, d.report, d.fingerprint, self._tok_rate(), d.report.encoded_windows)

    def _adapter_meta(self) -> dict[str, Any]:
        """What the adapter file's header records (read back by :func:`.adapter.read_adapter`)."""
        return {"format": FORMAT, "lora": lora_settings(self.pm), "layout": decoder_layout(self.model),
                "base": self.meta["base"], "data_fingerprint": self.data.fingerprint, "steps": self.step}

    def _manifest(self, data_name: str) -> dict[str, Any]:
        d, s, amp = self.data, self.data.settings, self.amp
        return {"format": "audiochain.finetune.manifest/1", "status": "finished", "steps": self.step,
                "base": self.meta["base"], "lora": lora_settings(self.pm),
                "data": {"dir": data_name, "fingerprint": d.fingerprint,
                         "codec": d.codec, "windows": {"train": len(d.train), "val": len(d.val)},
                         "window": {"tokens": s.size_tokens, "hop_tokens": s.hop_tokens,
                                    "min_tokens": s.min_tokens, "silence_db": s.silence_db,
                                    "sample_rate": self.profile.sample_rate,
                                    "tokens_per_s": float(self.profile.frame_rate)},
                         "report": d.report.to_dict()},
                "hyperparameters": self.hp.plain(),
                "losses": {"val_before": self.meta["val_loss_before"], "train": self._train_loss(),
                           "train_last_step": self.history[-1]["loss"] if self.history else None,
                           "val": self._last_val(), "history": self.history},
                "tokens_per_s": self._tok_rate(), "device": self.dev,
                "mixed_precision": str(amp).replace("torch.", "") if amp else None, "created_by": _versions()}
