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
checkpoints beyond ``keep`` are deleted.  A save the disk refuses (full, ``ulimit -f``) removes
what it wrote and raises one :class:`~.errors.FinetuneError` saying what is kept.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import Any

from nodeflow.atomic import write_atomic

from .errors import FinetuneError, cannot_write, io_error_of

__all__ = ["TrainState", "save", "load", "latest", "write_json_atomic", "save_tensors"]

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


def save_tensors(path: Path, tensors: dict[str, Any], metadata: dict[str, str] | None = None) -> None:
    """``tensors`` as a safetensors file at ``path``, written atomically with the permissions other
    files get (:func:`~nodeflow.atomic.write_atomic`).  Not safetensors' ``save_file``: it makes every
    file private (0o600) whatever the umask (QA: the adapter finetune says to share could not be read
    by anyone else), and a temp file of its own that a killed process leaves behind."""
    from safetensors.torch import save
    write_atomic(path, save(tensors, metadata=metadata))


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
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step-{step:07d}"
    tmp = folder / f".tmp-step-{step:07d}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        adapter = {k: v.detach().to("cpu").contiguous() for k, v in get_peft_model_state_dict(peft_model).items()}
        save_tensors(tmp / "adapter.safetensors", adapter)
        opt_tensors, groups = _optimizer_parts(optimizer)
        save_tensors(tmp / "state.safetensors", {**opt_tensors, **_rng_tensors(data_gen)})
        sched = scheduler.state_dict()      # plain numbers; lr_lambdas is [None] for a function
        doc = dict(meta, format=FORMAT, step=int(step), optimizer_param_groups=groups, scheduler=sched,
                   scaler=scaler.state_dict() if scaler is not None else {})
        (tmp / "state.json").write_text(json.dumps(doc, indent=2, sort_keys=True, default=str), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        _refused(e, f"the checkpoint of step {step} ({final})", folder)
        raise
    try:
        write_json_atomic(folder / LATEST, {"step": int(step), "path": final.name})
    except OSError as e:        # the step's folder is complete: latest() finds it without latest.json
        _refused(e, f"{folder / LATEST}", folder)
        raise
    olds = sorted(p for p in folder.glob("step-*") if p.is_dir() and p != final)
    for p in olds[:max(0, len(olds) - (keep - 1))]:
        shutil.rmtree(p, ignore_errors=True)
    return final


def _refused(e: BaseException, what: str, folder: Path) -> None:
    """Raise the one-line :class:`FinetuneError` for a write the disk refused (full, ``ulimit -f``),
    saying what is kept; return for any other error (it propagates as it is)."""
    cause = io_error_of(e)
    if cause is None:
        return
    kept = latest(folder)
    if kept is not None:
        then = f"The checkpoint of step {int(kept.name.rsplit('-', 1)[1])} is kept; continue with --resume afterwards"
    else:
        with contextlib.suppress(OSError):
            folder.rmdir()          # empty: nothing here for a new run to trip on (QA: it asked for --resume)
        then = "No checkpoint was kept; run the same command again afterwards"
    raise cannot_write(what, cause, then) from e


def resume_command(data_dir: Any, base: Any, out: Any) -> str:
    """The command that finishes an interrupted fine-tune: said at Ctrl-C and where its unfinished
    folder is used as an adapter (QA72 L5)."""
    import shlex
    return shlex.join(["audiochain", "finetune", str(data_dir), "--base", str(base), "--out", str(out), "--resume"])


def run_record(data_dir: Any, base: str, local_base: bool, out: Path) -> dict[str, Any]:
    """What a checkpoint records of the command that made it, for :func:`resume_hint` and
    :func:`resumed_base`: local folders relative to ``out`` (the folder is shared: it holds no
    absolute path), a hub id as given."""
    def rel(p: Any) -> str:
        try:
            return os.path.relpath(os.path.abspath(p), os.path.abspath(out))
        except ValueError:          # another drive (Windows): its name only
            from nodeflow.fileformat import portable_text
            return portable_text(str(p))
    return {"data": rel(data_dir), "base": rel(base) if local_base else str(base), "local_base": bool(local_base)}


def _recorded(out: Path) -> tuple[dict[str, Any], str, str] | None:
    """The latest checkpoint's metadata in ``out``, and its data folder and base as usable from here
    ('DIR' where an older checkpoint did not record the data folder)."""
    found = latest(out / "checkpoints")
    try:
        meta = json.loads((found / "state.json").read_text(encoding="utf-8")) if found else None
        if meta is None:
            return None
        run = meta.get("run")
        if run is None:
            return meta, "DIR", str(meta["base"]["checkpoint"])
        here = (lambda p: os.path.normpath(Path(out) / p))
        return meta, here(run["data"]), here(run["base"]) if run.get("local_base") else str(run["base"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def resume_hint(out: Path) -> str:
    """How to finish the fine-tune whose output folder ``out`` holds checkpoints but no adapter yet
    ('' where it holds none): the command, with the recordings and base it was started with."""
    found = _recorded(out)
    if found is None:
        return ""
    meta, data, base = found
    where = "" if data != "DIR" else " (DIR: the recordings it was trained on)"
    return (f"its fine-tune did not finish (last checkpoint: step {int(meta.get('step', 0))}); finish it with: "
            f"{resume_command(data, base, out)}{where}, or point at a finished adapter")


def resumed_base(out: Path) -> str | None:
    """The base the latest checkpoint in ``out`` was trained on (None: no checkpoint): ``--resume``
    without ``--base`` goes on with it (QA72 L4: it fell back to facebook/musicgen-small)."""
    found = _recorded(out)
    return None if found is None else found[2]


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
