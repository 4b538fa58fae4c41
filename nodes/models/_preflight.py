"""What ``validate`` and the editor's preflight say of a model node before it runs: what this machine
lacks (the family's packages, a checkpoint not on it while offline), a family's declaration that names
a class transformers does not have, what the run would refuse in the node's ``adapter``, and what the
node's own ``check`` refuses against the checkpoint's configuration.  :class:`~.layer.Family` uses these.
"""
from __future__ import annotations

import difflib
import functools
import importlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nodeflow import checkpoints
from nodeflow.checkpoints import Resolved as Checkpoint
from nodeflow.errors import ParameterError, ValueProblem

if TYPE_CHECKING:
    from .layer import Family, ParamCheck

__all__ = ["checkpoint_preflight", "class_problems"]


@functools.lru_cache(maxsize=None)
def _missing_class(name: str) -> str:
    """Why the class ``name`` (see :func:`_class`) cannot be found ("" when it can), with the nearest
    names the module has."""
    mod, _, cls = name.rpartition(".")
    try:        # (transformers and diffusers list their classes without importing them, or torch)
        names = dir(importlib.import_module(mod or "transformers"))
    except ImportError:
        return f"no module '{mod}' is installed"
    if cls in names:
        return ""
    near = difflib.get_close_matches(cls, names, n=2)
    hint = f" (did you mean {' or '.join(repr(n) for n in near)}?)" if near else ""
    return f"{mod or 'transformers'} has no class '{cls}'{hint}"


def class_problems(fam: Family) -> list[str]:
    """The family's ``model_class`` and ``processor`` that cannot be found, each one line naming the
    family and the setting (QA: a misspelt ``model_class`` registered, validated and failed at run time
    as a bare AttributeError from inside the layer)."""
    said = []
    for setting, name in (("model_class", fam.model_class), ("processor", fam.processor)):
        why = _missing_class(name) if name and fam.load is None else ""
        if why:
            said.append(f"model family '{fam.name}': {setting}='{name}' cannot be loaded: {why}; fix {setting} "
                        "in the family's declaration, or tell the plug-in's author")
    return said


def checkpoint_preflight(params: dict[str, Any], base_dir: Path, fam: Family | None = None,
                         check: ParamCheck | None = None) -> list[str]:
    """What this machine lacks to run the node (the editor marks it): the family's packages (the
    'models' extra), or a checkpoint that is neither a usable folder (of ``fam``, when given) nor
    in the hub cache (when it cannot be downloaded now, i.e. HF_HUB_OFFLINE is set), what the run
    would refuse in its ``adapter`` (:func:`_adapter_preflight`: NaN or infinite weights too) and, once the checkpoint is on this
    machine, what ``check`` refuses in the parameters (:meth:`Family.node`)."""
    try:
        if fam is not None:
            checkpoints.require_model_packages(fam.packages, fam.extra)
        else:
            checkpoints.require_model_packages()
    except checkpoints.CheckpointError as e:
        return [str(e)]
    try:
        res = checkpoints.resolve(params.get("checkpoint", ""), base_dir=base_dir, download=False, family=fam)
    except checkpoints.CheckpointError as e:
        said = [str(e)] if checkpoints.offline() or not isinstance(e, checkpoints.NotDownloaded) else []
        return said + _adapter_preflight(params, base_dir, None)       # online, a run fetches the checkpoint
    checked = _param_check(check, params, res)      # (a family's own check may say the time base: once)
    return (class_problems(fam) if fam is not None else []) + [t for t in _time_base_problem(fam, res)
                                                               if t not in checked] \
        + _adapter_preflight(params, base_dir, res) + checked


def _time_base_problem(fam: Family | None, res: Checkpoint) -> list[str]:
    """What the family's ``time_base`` cannot read of the checkpoint's configuration, said before any
    model loads (QA93 D2: the run said it after loading the model; validate said ok).  Only where the
    run reads it so (the layer's own load): a family that loads with a function of its own reads the
    loaded model's configuration, defaults filled in (MusicGen, Bark), and says its own problems."""
    if fam is None or res.path is None or getattr(fam, "load", None) is not None:
        return []
    try:
        fam.read_profile(res.path)
    except ParameterError as e:
        return [str(e)]
    except Exception:  # noqa: BLE001 - an unreadable configuration is the checkpoint checks' to say
        return []
    return []


def _param_check(check: ParamCheck | None, params: dict[str, Any], res: Checkpoint) -> list[str]:
    """What ``check`` refuses in ``params`` against the checkpoint ``res``: its one line; nothing when
    it cannot read the configuration (a bad config.json is the run's and the checkpoint checks' to say)."""
    if check is None:
        return []
    try:
        check(params, res)
    except ParameterError as e:
        return [ValueProblem(e)]
    except Exception:  # noqa: BLE001 - an unreadable or odd configuration: not this check's to say
        return []
    return []


def _adapter_preflight(params: dict[str, Any], base_dir: Path, res: checkpoints.Resolved | None) -> list[str]:
    """What the run would refuse in the node's adapter, said before it: the run's own check of the
    file (:func:`read_adapter`: a folder without an adapter, a file that is not safetensors, not
    readable as one or not LoRA; QA: validate said ok where the run refused each) and, with the
    checkpoint ``res``, an adapter trained on another model type than the checkpoint's, from the
    adapter's header and the checkpoint's config.json (QA: a MusicGen adapter on a plug-in's VITS
    node passed validate, and the run failed inside, on a VITS config without a decoder)."""
    if not params.get("adapter"):
        return []
    from .finetune.adapter import AdapterError, check_base, given_path, nonfinite_problem, read_adapter
    try:
        given = given_path(params["adapter"], base_dir)
        if not (given.is_dir() or given.is_file()):
            return []           # not there, or a FIFO...: the input-file check says so, once
        adapter = read_adapter(params["adapter"], base_dir)
    except AdapterError as e:
        return [str(e)]
    except (OSError, ValueError):
        return []               # unreadable: the input-file check says why
    # NaN or infinite weights, from the file's tensors (no model loaded; QA: validate said ok, and the run
    # refused them only at load, after the base checkpoint): said whatever the checkpoint, as the file is
    said = [why] if (why := nonfinite_problem(adapter)) else []
    if res is None:
        return said
    try:
        have = json.loads((res.path / "config.json").read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError):
        return said             # a bad config: the run says what is wrong with it
    try:            # another model type, or other weights than its base's (QA52: validate said ok, run refused)
        check_base(adapter, have if isinstance(have, str) else None, str(params.get("checkpoint", "")), res.revision,
                   res.path)
    except AdapterError as e:
        return [str(e)] + said
    return said
