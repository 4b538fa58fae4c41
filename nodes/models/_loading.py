"""Loading a transformers checkpoint for the model families that need no generation machinery of
their own (MMS-TTS, Whisper, EnCodec): resolve the name through the checkpoint cache, check the
checkpoint's ``model_type`` against what the node expects, place it on a device at a precision and
keep it in the process-wide model cache, locked while a node uses it.

Each family's knowledge (its model types, classes, rates read from its config) stays in its own
module; this one only knows how any such checkpoint is loaded and held.  It is the generic part of
:func:`nodes.models._hf.using` (which is tied to MusicGen and Bark), written for families that bring
their own loader.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

from nodeflow import checkpoints, devices
from nodeflow.errors import ParameterError
from nodeflow.modelcache import ModelKey, default_cache
from nodeflow.node import Context

__all__ = ["Held", "using_checkpoint", "read_config", "torch_threads_for"]


@dataclasses.dataclass(eq=False)
class Held:
    """A loaded checkpoint: the model, its processor/tokenizer, and where and how it was loaded."""
    model: Any
    processor: Any
    checkpoint: str
    revision: str
    path: Path
    device: str
    dtype: str
    lock: Any = dataclasses.field(default_factory=threading.RLock, repr=False, compare=False)

    def tags(self) -> dict[str, str]:
        """What an output says about where it came from (a local folder by name, never its path)."""
        return {"checkpoint": self.checkpoint, "revision": self.revision}


def read_config(path: Path) -> dict:
    """``config.json`` of a checkpoint folder ({} when unreadable)."""
    try:
        return json.loads((Path(path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def torch_threads_for(device: str) -> Iterator[None]:
    """The CPU thread policy model nodes share (a no-op off the CPU), applied to *this* thread too.

    torch's count is process-wide, but OpenMP keeps one per thread: a node running in an executor's
    worker thread computed with OpenMP's default (every core) whenever the count asked for equalled
    the count already set (measured on tiny VITS, 1 thread asked, 2 cores: 1.6x the time of the same
    call on the main thread).  Setting it again here binds it to the calling thread."""
    if device != "cpu":
        yield
        return
    import torch
    with devices.torch_threads(devices.generation_threads()) as n:
        torch.set_num_threads(int(n))
        yield


@contextlib.contextmanager
def using_checkpoint(kind: str, checkpoint: str, ctx: Context, device: Any, precision: Any, *,
                     node: str, model_types: tuple[str, ...], example: str,
                     load: Callable[[checkpoints.Resolved, str, str], Held]) -> Iterator[Held]:
    """The checkpoint ``checkpoint`` loaded by ``load(resolved, device, dtype)``, from the model cache,
    pinned and locked while the ``with`` block runs.

    ``model_types`` are the ``config.json`` model types ``node`` accepts; another one is a
    :class:`ParameterError` naming the checkpoint, what it is and ``example`` (a checkpoint that fits).
    A missing checkpoint is the cache's :class:`~nodeflow.checkpoints.CheckpointError`, which names
    ``audiochain models pull``."""
    checkpoints.require_model_packages()
    res = checkpoints.resolve(checkpoint, base_dir=ctx.base_dir)
    found = read_config(res.path).get("model_type")
    if found not in model_types:
        raise ParameterError(f"{node}: checkpoint '{checkpoint}' is a {found!r} model; this node needs a "
                             f"{model_types[0]!r} checkpoint such as {example}")
    dev = devices.pick_device(device, getattr(ctx, "device", "auto"))
    dtype = devices.resolve_dtype(precision, dev)
    if dtype == "int8":
        raise ParameterError(f"{node}: precision=int8 is for MusicGen; use float32 or bfloat16")
    key = ModelKey(kind, str(res.path), res.revision, dev, dtype)
    with default_cache().use(key, lambda: load(res, dev, dtype)) as held, held.lock, torch_threads_for(dev):
        yield held
