"""``finetune()``: LoRA fine-tuning of MusicGen on a folder of recordings.

>>> result = finetune("my-recordings", base="facebook/musicgen-small", out="adapters/mine",
...                   steps=500, rank=8, learning_rate=1e-4)            # doctest: +SKIP
>>> result.status, result.adapter, result.val_loss                     # doctest: +SKIP
('finished', PosixPath('adapters/mine/adapter_model.safetensors'), 4.12)

The decoder gets LoRA layers (attention, feed-forward and LM heads by default; the text encoder
and EnCodec stay frozen); training runs on windows of codec tokens (:mod:`.data`), in float32 on
the CPU and with mixed precision (bfloat16, else float16 with loss scaling) on CUDA.  A
checkpoint is written every ``checkpoint_every`` steps, at the end, on Ctrl-C and on cancel;
``resume=True`` continues from the latest one with the same optimizer, scheduler, random state
and data order.  A finished run writes ``OUT/adapter_model.safetensors``, peft's
``adapter_config.json`` and ``manifest.json`` (base checkpoint and revision, data fingerprint,
hyperparameters, losses, the skipped-file report).  Use it with ``models.musicgen(adapter=OUT)``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable

from nodeflow.atomic import temp_target, write_atomic

from .adapter import ADAPTER_FILE, CONFIG_FILE, FORMAT, META_KEY, apply_lora, decoder_layout, lora_settings, \
    target_regex
from .errors import FinetuneError, cannot_write
from .settings import FIXED_ON_RESUME, FinetuneResult, Hyperparameters, TrainEvent

__all__ = ["Hyperparameters", "TrainEvent", "FinetuneResult", "finetune", "MANIFEST"]

MANIFEST = "manifest.json"
OUR_FILES = (ADAPTER_FILE, CONFIG_FILE, MANIFEST, "checkpoints")


def _our_temp_file(name: str) -> bool:
    """A temp file a crashed write of ours left behind (an atomic write's, or the ``.tmp-`` names of
    older runs)."""
    return name.startswith(".tmp-") or temp_target(name) in OUR_FILES


# ---------------------------------------------------------------------------------------- helpers
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


def _check_out(out: Path, *, resume: bool, force: bool) -> list[Path]:
    """Refuse an output folder that is in use; returns what ``force`` will delete once training
    is about to start (so a mistake found later deletes nothing)."""
    if out.exists() and not out.is_dir():
        raise FinetuneError(f"out={out} is a file; give a folder for the adapter")
    contents = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if resume:
        if force:
            raise FinetuneError("--resume and --force contradict each other; --resume continues the training in "
                                "out, --force starts over")
        if not (out / "checkpoints").is_dir():
            raise FinetuneError(f"nothing to resume in {out}: it has no checkpoints/ folder; start a new run "
                                "without --resume")
        return []
    if not contents:
        return []
    if all(_our_temp_file(n) or (n == "checkpoints" and _unfinished(out / n)) for n in contents):
        return [out / n for n in contents]      # what a run stopped before its first checkpoint left (QA: a
    if not force:                               # full disk left checkpoints/ that refused the retry and --resume)
        raise FinetuneError(f"out folder {out} already exists; use --resume to continue its training, --force to "
                            "start over (it replaces the adapter there), or choose another --out")
    foreign = [n for n in contents if n not in OUR_FILES and not _our_temp_file(n)]
    if foreign:
        raise FinetuneError(f"--force would replace a fine-tuning output, but {out} also holds other files "
                            f"({', '.join(foreign[:5])}); choose another --out")
    return [out / n for n in contents]


def _unfinished(checkpoints: Path) -> bool:
    """Whether ``checkpoints`` is a folder holding no complete checkpoint, only what a save that never
    finished leaves (its ``.tmp-step-*`` folder, a temp file of ``latest.json``): nothing to resume."""
    from . import checkpoint as ckpt
    try:
        names = [p.name for p in checkpoints.iterdir()] if checkpoints.is_dir() and not checkpoints.is_symlink() \
            else None
    except OSError:
        return False
    return names is not None and ckpt.latest(checkpoints) is None and \
        all(n.startswith(".tmp-step-") or temp_target(n) == ckpt.LATEST for n in names)


def _base_model(base: str, base_dir: Path | None):
    from nodeflow import checkpoints
    res = checkpoints.resolve(base, base_dir=base_dir)
    try:
        kind = json.loads((res.path / "config.json").read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError):
        kind = None
    if kind != "musicgen":
        hint = " (MusicGen-Melody is not supported for fine-tuning yet)" if kind == "musicgen_melody" else ""
        raise FinetuneError(f"base '{base}' is a {kind!r} model{hint}; fine-tuning needs a MusicGen checkpoint such "
                            "as facebook/musicgen-small, -medium, -large or a local folder of one")
    if not checkpoints.tokenizer_files(res.path):     # (QA: it trained on captions read as <unk>)
        raise FinetuneError(f"base '{base}' has no tokenizer files ({', '.join(checkpoints.TOKENIZER_FILES[:4])}...): "
                            "the captions would be read as unknown words; copy them from the original checkpoint")
    return res


def _amp(precision: str, device: str):
    import torch
    if device.split(":")[0] != "cuda":
        if precision not in ("auto", "float32"):
            raise FinetuneError(f"precision={precision}: mixed precision training runs on CUDA only; "
                                f"use float32 (or auto) on {device}")
        return None
    if precision == "float32":
        return None
    if precision == "bfloat16" or (precision == "auto" and torch.cuda.is_bf16_supported()):
        if not torch.cuda.is_bf16_supported():
            raise FinetuneError(f"precision=bfloat16: this GPU ({device}) does not support bfloat16; use float16")
        return torch.bfloat16
    return torch.float16


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


# ---------------------------------------------------------------------------------------- the run
DEFAULT_BASE = "facebook/musicgen-small"


def finetune(data_dir: str | os.PathLike, *, base: str | None = None, out: str | os.PathLike,
             resume: bool = False, force: bool = False, device: str = "auto",
             cache_dir: str | os.PathLike | None = None, base_dir: str | os.PathLike | None = None,
             progress: Callable[[TrainEvent], None] | None = None, cancel: threading.Event | None = None,
             **hyperparams: Any) -> FinetuneResult:
    """Fine-tune MusicGen checkpoint ``base`` with LoRA on the recordings under ``data_dir``.

    Parameters
    ----------
    data_dir : path
        Folder of audio files (any format ``io.load`` reads), searched recursively; optional
        caption sidecars ``NAME.txt`` / ``NAME.json`` beside each file.
    base : str, optional
        Hub id or local folder of a MusicGen checkpoint (safetensors); default ``DEFAULT_BASE``, or
        with ``resume`` the base the checkpoint was trained on.
    out : path
        Output folder; must not exist yet (or be empty) unless ``resume`` or ``force``.
    resume, force
        Continue the latest checkpoint in ``out`` / replace a previous run's output there.
    device : str
        ``auto`` (CUDA, MPS, CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
    cache_dir : path, optional
        Token cache folder (default :func:`.tokens.default_cache_dir`).
    progress : callable, optional
        Called with a :class:`TrainEvent` after each file read and each step; may raise
        ``KeyboardInterrupt`` (treated as Ctrl-C).
    cancel : threading.Event, optional
        Set it to stop: a checkpoint is saved and the result's status is ``cancelled``.
    **hyperparams
        Fields of :class:`Hyperparameters` (steps, rank, alpha, learning_rate, batch_size,
        grad_accum, target_modules, window_s, instance_prompt, checkpoint_every...).

    Returns
    -------
    FinetuneResult
    """
    from .data import check_folder
    out = Path(out).expanduser()
    check_folder(data_dir)   # cheap checks first: nothing heavy loads for a wrong folder
    replaced = _check_out(out, resume=resume, force=force)
    hp, state = _settings(out, resume, hyperparams)
    if base is None:
        from .checkpoint import resumed_base
        base = (resumed_base(out) if state is not None else None) or DEFAULT_BASE
    target_regex(hp.target_modules)
    res = _base_model(base, Path(base_dir) if base_dir else None)
    from .adapter import same_weights
    if state is not None and state.meta["base"]["revision"] != res.revision and \
            not same_weights(state.meta["base"], res.path if res.source == "local" else None):
        raise FinetuneError(f"--resume: the checkpoint was trained on '{state.meta['base']['checkpoint']}' revision "
                            f"{state.meta['base']['revision']}, but '{base}' is revision {res.revision} (other "
                            "weights); resume with that base or start over with --force")
    from nodeflow import devices
    from nodeflow.fileformat import portable_text
    dev = devices.resolve_device(device)
    amp = _amp(str(hp.precision), dev)
    emit = progress or (lambda ev: None)
    model, tokenizer, profile, data = _load(res, data_dir, hp, dev, cache_dir, base_dir, emit, cancel)
    if state is not None and state.meta["data_fingerprint"] != data.fingerprint:
        raise FinetuneError(f"--resume: the training data in {data_dir} changed since the checkpoint (files added, "
                            "removed, edited or re-captioned); restore it, or start over with --force")
    for p in replaced:     # --force: the previous run's checkpoints go now that this one can start; its
        if p.name not in (ADAPTER_FILE, CONFIG_FILE, MANIFEST):     # adapter stays until the new one replaces
            shutil.rmtree(p) if p.is_dir() else p.unlink()          # it (QA64 D2: a Ctrl-C left none at all)
    created = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        # what the adapter records travels with it (bundles, shared folders): a local base or data folder by name only
        base_meta = {"checkpoint": portable_text(base), "revision": res.revision, "model_type": "musicgen"}
        if res.source == "local":       # its content too: a copy of the folder is the same base (see check_base)
            from nodeflow.checkpoints import weights_digest
            base_meta["weights"] = weights_digest(res.path, model_only=True)
        run = _Training(model, tokenizer, profile, data, hp, dev, amp, out, base_meta, emit, cancel)
        from .checkpoint import run_record          # for the resume command (QA72 L4, L5)
        run.meta["run"] = run_record(data_dir, base, res.source == "local", out)
        run.restore(state)
        return run.train(Path(data_dir).expanduser().resolve().name)
    except (FinetuneError, KeyboardInterrupt):
        if created:     # nothing kept (a full disk, a Ctrl-C before the first step: QA52): no folder left behind
            with contextlib.suppress(OSError):
                out.rmdir()
        raise


def _settings(out: Path, resume: bool, hyperparams: dict[str, Any]) -> tuple[Hyperparameters, Any]:
    """The run's hyperparameters, and with ``resume`` the checkpoint it continues (whose fixed
    settings the given ones may not change)."""
    from . import checkpoint as ckpt
    fields = [f.name for f in dataclasses.fields(Hyperparameters)]
    unknown = sorted(set(hyperparams) - set(fields))
    if unknown:
        raise FinetuneError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(fields)}")
    if isinstance(hyperparams.get("target_modules"), str):
        hyperparams["target_modules"] = hyperparams["target_modules"].replace(",", " ").split()
    if hyperparams.get("target_modules") is not None:
        hyperparams["target_modules"] = tuple(hyperparams["target_modules"])
    if not resume:
        hp = Hyperparameters(**hyperparams)
        hp.check()
        return hp, None
    found = ckpt.latest(out / "checkpoints")
    if found is None:
        raise FinetuneError(f"nothing to resume in {out}: no complete checkpoint in {out / 'checkpoints'}; start a new "
                            "run without --resume")
    state = ckpt.load(found)
    saved = {k: v for k, v in state.meta["hyperparameters"].items() if k in fields}
    saved["target_modules"] = tuple(saved["target_modules"])
    clash = [f"{k}={hyperparams[k]!r} (checkpoint: {saved.get(k)!r})" for k in FIXED_ON_RESUME
             if k in hyperparams and hyperparams[k] != saved.get(k)]
    if clash:
        raise FinetuneError(f"--resume: {'; '.join(clash)} {'differ' if len(clash) > 1 else 'differs'} from the "
                            "run being resumed; resume with the "
                            "same settings (only steps, checkpoint_every and eval_every may change) or start "
                            "over with --force")
    hp = Hyperparameters(**{**saved, **hyperparams})
    if hp.steps < state.step:
        raise FinetuneError(f"--resume: steps={hp.steps} is below the checkpoint's step {state.step}; "
                            f"give --steps {state.step} or more")
    hp.check()
    return hp, state


def _load(res: Any, data_dir: Any, hp: Hyperparameters, dev: str, cache_dir: Any, base_dir: Any,
          emit: Callable[[TrainEvent], None], cancel: threading.Event | None) -> tuple[Any, Any, Any, Any]:
    """The base model and its tokenizer, its profile, and the recordings cut and encoded to tokens."""
    from ..layer import loading, pretrained, tokenizer as tokenizer_of
    from ..musicgen import MUSICGEN
    from .captions import check_captions, whisper_captioner
    from .data import prepare, window_settings
    from .tokens import default_cache_dir
    with loading():             # not beside another model's load (transformers' loading is not thread-safe)
        model = pretrained("MusicgenForConditionalGeneration", res, dev, "float32")    # (the nodes' one way: its
        tokenizer = tokenizer_of(res)                                                   # errors said in one line)
    profile = MUSICGEN.loaded_profile(model)
    settings = window_settings(profile, window_s=hp.window_s, min_window_s=hp.min_window_s,
                               overlap_s=hp.overlap_s, silence_db=hp.silence_db)
    tokens_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    whisper_checkpoint = check_captions(hp.captions)
    captioner = None if whisper_checkpoint is None else \
        whisper_captioner(whisper_checkpoint, dev, tokens_dir, Path(base_dir) if base_dir else None)
    data = prepare(data_dir, model, profile, settings, instance_prompt=hp.instance_prompt,
                   val_fraction=hp.val_fraction, seed=hp.seed, cache_dir=tokens_dir,
                   progress=lambda i, n, msg: emit(TrainEvent("data", done=i, total=n, message=msg)), cancel=cancel,
                   captioner=captioner)
    return model, tokenizer, profile, data


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
