"""Training checkpoints: everything ``--resume`` needs, with no pickle anywhere.

``OUT/checkpoints/step-0000100/`` holds

- ``adapter.safetensors``: the LoRA weights (peft names);
- ``state.safetensors``: the optimizer's tensors (``opt.<param index>.<name>``) and the random
  generators' states (``rng.torch``, ``rng.data``, ``rng.cuda.<i>``);
- ``state.json``: the step, the trainable parameters' names (the optimizer's index order), the
  optimizer's param groups, the LR scheduler's and the gradient scaler's state, the loss history,
  the hyperparameters, the base model and the data fingerprint.

A checkpoint is written to a temporary folder and renamed into place, then ``latest.json`` is
replaced atomically, so an interrupted save leaves the previous checkpoint intact.  Older
checkpoints beyond ``keep`` are deleted.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import Any

from nodeflow.atomic import write_atomic

from .errors import FinetuneError

__all__ = ["TrainState", "save", "load", "latest", "write_json_atomic"]

LATEST = "latest.json"
FORMAT = "audiochain.finetune.checkpoint/1"


@dataclasses.dataclass
class TrainState:
    """What a checkpoint restores (besides the weights, which go straight into the model)."""
    step: int
    meta: dict[str, Any]          # state.json
    adapter: dict[str, Any]       # name -> tensor
    tensors: dict[str, Any]       # optimizer tensors and RNG states


def write_json_atomic(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str).encode("utf-8"), fsync=False)


def _optimizer_parts(optimizer) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    import torch
    sd = optimizer.state_dict()
    tensors = {}
    for idx, st in sd["state"].items():
        for name, v in st.items():
            t = v if torch.is_tensor(v) else torch.tensor(v)
            tensors[f"opt.{idx}.{name}"] = t.detach().to("cpu").contiguous()
    groups = []
    for g in sd["param_groups"]:
        groups.append({k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()})
    return tensors, groups


def _rng_tensors(data_gen) -> dict[str, Any]:
    import torch
    out = {"rng.torch": torch.get_rng_state(), "rng.data": data_gen.get_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            out[f"rng.cuda.{i}"] = s
    return out


def save(folder: Path, *, step: int, peft_model, optimizer, scheduler, scaler, data_gen, meta: dict[str, Any],
         keep: int = 2) -> Path:
    """Write the checkpoint of ``step`` under ``folder`` (``OUT/checkpoints``); returns its path."""
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step-{step:07d}"
    tmp = folder / f".tmp-step-{step:07d}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        adapter = {k: v.detach().to("cpu").contiguous() for k, v in get_peft_model_state_dict(peft_model).items()}
        save_file(adapter, str(tmp / "adapter.safetensors"))
        opt_tensors, groups = _optimizer_parts(optimizer)
        save_file({**opt_tensors, **_rng_tensors(data_gen)}, str(tmp / "state.safetensors"))
        sched = scheduler.state_dict()      # plain numbers; lr_lambdas is [None] for a function
        doc = dict(meta, format=FORMAT, step=int(step), optimizer_param_groups=groups, scheduler=sched,
                   scaler=scaler.state_dict() if scaler is not None else {})
        (tmp / "state.json").write_text(json.dumps(doc, indent=2, sort_keys=True, default=str), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    write_json_atomic(folder / LATEST, {"step": int(step), "path": final.name})
    olds = sorted(p for p in folder.glob("step-*") if p.is_dir() and p != final)
    for p in olds[:max(0, len(olds) - (keep - 1))]:
        shutil.rmtree(p, ignore_errors=True)
    return final


def latest(folder: Path) -> Path | None:
    """The newest complete checkpoint under ``folder``, or None."""
    try:
        name = json.loads((folder / LATEST).read_text(encoding="utf-8"))["path"]
        p = folder / str(name)
        if p.is_dir() and p.parent == folder and (p / "state.json").is_file():
            return p
    except (OSError, ValueError, KeyError, TypeError):
        pass
    found = sorted(p for p in folder.glob("step-*") if (p / "state.json").is_file()) if folder.is_dir() else []
    return found[-1] if found else None


def load(path: Path) -> TrainState:
    """Read the checkpoint at ``path`` (tensors on the CPU)."""
    from safetensors.torch import load_file
    try:
        meta = json.loads((path / "state.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"unknown format {meta.get('format')!r}")
        adapter = load_file(str(path / "adapter.safetensors"))
        tensors = load_file(str(path / "state.safetensors"))
    except Exception as e:  # noqa: BLE001 - damaged or foreign checkpoint
        raise FinetuneError(f"checkpoint {path} is damaged or not an AudioChain fine-tuning checkpoint ({e}); "
                            "delete it to resume from an older one, or start again with --force") from None
    return TrainState(int(meta["step"]), meta, adapter, tensors)


def restore_optimizer(optimizer, state: TrainState) -> None:
    """Load the optimizer's tensors and param groups saved by :func:`save`."""
    per: dict[int, dict[str, Any]] = {}
    for key, t in state.tensors.items():
        if key.startswith("opt."):
            _, idx, name = key.split(".", 2)
            per.setdefault(int(idx), {})[name] = t
    groups = []
    for g in state.meta["optimizer_param_groups"]:
        groups.append({k: (tuple(v) if k == "betas" else v) for k, v in g.items()})
    optimizer.load_state_dict({"state": per, "param_groups": groups})


def restore_rng(data_gen, state: TrainState) -> None:
    import torch
    torch.set_rng_state(state.tensors["rng.torch"])
    data_gen.set_state(state.tensors["rng.data"])
    cuda = sorted((k for k in state.tensors if k.startswith("rng.cuda.")), key=lambda k: int(k.rsplit(".", 1)[1]))
    if cuda and torch.cuda.is_available():
        states = [state.tensors[k] for k in cuda][:torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(states)
