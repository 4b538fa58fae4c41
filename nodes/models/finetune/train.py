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

This module checks the output folder, the base and the settings and loads the model and the data;
the training loop itself (steps, checkpoints, the files a finished run writes) is :mod:`.loop`'s.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any, Callable

from nodeflow.atomic import temp_target

from .adapter import ADAPTER_FILE, CONFIG_FILE, target_regex
from .errors import FinetuneError
from .loop import MANIFEST, _Training
from .settings import FIXED_ON_RESUME, FinetuneResult, Hyperparameters, TrainEvent

__all__ = ["Hyperparameters", "TrainEvent", "FinetuneResult", "finetune", "MANIFEST"]

OUR_FILES = (ADAPTER_FILE, CONFIG_FILE, MANIFEST, "checkpoints")


def _our_temp_file(name: str) -> bool:
    """A temp file a crashed write of ours left behind (an atomic write's, or the ``.tmp-`` names of
    older runs)."""
    return name.startswith(".tmp-") or temp_target(name) in OUR_FILES


# ---------------------------------------------------------------------------------------- helpers
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
