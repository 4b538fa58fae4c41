"""Errors of ``audiochain finetune``: one :class:`FinetuneError` per user mistake, named and fixable."""
from __future__ import annotations

from nodeflow.errors import NodeflowError

__all__ = ["FinetuneError", "DataError", "AdapterError"]


class FinetuneError(NodeflowError):
    """Fine-tuning cannot start or continue (bad base model, output folder, settings, checkpoint)."""


class DataError(FinetuneError):
    """The training folder gives no usable audio (empty, no audio files, only unusable clips)."""


class AdapterError(FinetuneError):
    """A LoRA adapter file is missing, malformed, or made for a different base model."""
