"""A checkpoint that ``from_pretrained`` could not load, or loaded only in part, in the user's terms
(:func:`nodes.models.layer.pretrained`): one :class:`~nodeflow.checkpoints.CheckpointError` naming the
checkpoint and the fix, never transformers' own report of the load."""
from __future__ import annotations

from typing import Any

from nodeflow.checkpoints import CheckpointError
from nodeflow.checkpoints import Resolved as Checkpoint

__all__ = ["load_error", "missing_weights", "tells_what_loaded"]


def tells_what_loaded(cls: Any) -> bool:
    """Whether ``cls.from_pretrained`` can report the weights it did not find (a transformers model)."""
    try:
        from transformers import PreTrainedModel
    except ImportError:
        return False
    return isinstance(cls, type) and issubclass(cls, PreTrainedModel)


def load_error(checkpoint: Checkpoint, e: BaseException) -> Exception:
    """A failed ``from_pretrained`` in the user's terms: weights that do not fit ``config.json``, a
    weights file that cannot be read; anything else as it was."""
    text = str(e)
    if "ignore_mismatched_sizes" in text or "size mismatch" in text:
        return CheckpointError(f"checkpoint '{checkpoint.name}': its config.json does not match its weights (tensor "
                               "shapes differ); restore the checkpoint's own config.json, or get the checkpoint again")
    if type(e).__name__.startswith("StrictDataclass"):      # (huggingface_hub checks config fields by type)
        detail = " ".join(line.strip() for line in text.splitlines()[-1:]) or type(e).__name__
        return CheckpointError(f"checkpoint '{checkpoint.name}': its config.json has a value the model cannot take "
                               f"({detail}); restore the checkpoint's own config.json, or get the checkpoint again")
    if type(e).__name__ == "SafetensorError" or "safetensors" in text.lower():
        return CheckpointError(f"checkpoint '{checkpoint.name}': its weights cannot be read ({text.splitlines()[0]}); "
                               "get the checkpoint again")
    return e


def missing_weights(checkpoint: Checkpoint, cls: Any, info: dict[str, Any]) -> CheckpointError | None:
    """The refusal of a checkpoint whose weights do not all fit ``cls`` (``info``: what transformers'
    ``output_loading_info`` says it did not find), or None: a model run with parts left untrained makes
    noise or NaN (QA93 D1: another model's weights under a VITS config.json; two tensors deleted)."""
    missing = sorted(info.get("missing_keys") or ())
    if not missing:
        return None
    theirs = len(info.get("unexpected_keys") or ())
    return CheckpointError(f"checkpoint '{checkpoint.name}': {len(missing)} of the weights a {cls.__name__} needs are "
                           f"not in it (e.g. {missing[0]})" + (f", and {theirs} of its own fit no part of it" if theirs
                                                               else "") +
                           "; it would run with those untrained and make noise: get the checkpoint again, or use one "
                           "made for this model")
