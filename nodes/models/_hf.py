"""The names the model nodes imported before the public model layer existed, kept importable.

The one way to declare and run a model family is :mod:`nodes.models.layer`; this module only
re-exports its helpers under their older names, and ``using(kind, ...)`` is
``layer.family(kind).using(...)``.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from nodeflow import checkpoints
from nodeflow.errors import ParameterError
from nodeflow.node import Context
from nodeflow.timebase import ModelProfile

from ._musicgen import MusicgenPrecision
from .layer import (Device, Loaded, Precision, checkpoint_preflight, family, model_fingerprint, sampler, seeded,
                    step_criterion, to_model_audio)

__all__ = ["Device", "Precision", "MusicgenPrecision", "Loaded", "using", "model_fingerprint", "checkpoint_preflight", "seeded",
           "sampler", "step_criterion", "profile_of", "to_model_audio", "EXPECTED_TYPES"]


class _ExpectedTypes(Mapping):
    """Family name -> the ``config.json`` model type its checkpoints have (from the family registry)."""

    def __getitem__(self, name: str) -> str:
        fam = family(name)
        return (fam.model_types or (name,))[0]

    def __iter__(self) -> Iterator[str]:
        from nodeflow import families
        return iter([f.name for f in families.families() if f.model_types])

    def __len__(self) -> int:
        return len(list(iter(self)))


EXPECTED_TYPES: Mapping[str, str] = _ExpectedTypes()


def profile_of(model, name: str | None = None) -> ModelProfile:
    """The time base of a *loaded* model, read from its own config (not from constants)."""
    prof = checkpoints.profile_from_config(model.config.to_dict(), model.generation_config.to_dict(), name)
    if prof is None:
        raise ParameterError(f"no time base for model type {model.config.model_type!r}")
    return prof


@contextlib.contextmanager
def using(kind: str, checkpoint: str, ctx: Context, device: Any = "auto", precision: Any = "auto",
          adapter: str = "") -> Iterator[Loaded]:
    """``layer.family(kind).using(checkpoint, ctx, device, precision, adapter)``."""
    with family(kind).using(checkpoint, ctx, device, precision, adapter) as loaded:
        yield loaded
