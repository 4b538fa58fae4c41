"""LoRA fine-tuning of MusicGen on a user's own recordings (``audiochain finetune``).

- :func:`finetune` (in :mod:`.train`): the Python API, with a progress callback and a cancel event.
- :mod:`.loop`: the training loop: steps, evaluation, checkpoints, and the adapter a finished run writes.
- :mod:`.data`: audio files -> captioned windows -> codec tokens (cached on disk).
- :mod:`.adapter`: the adapter file and loading it onto a model (``models.musicgen(adapter=...)``).
- :mod:`.checkpoint`: resumable checkpoints (safetensors + JSON, no pickle).
- :mod:`.cli`: ``audiochain finetune DIR --base ... --out ...``.

Importing this package is cheap: torch, transformers and peft load when training starts.
"""
from __future__ import annotations

from .errors import AdapterError, DataError, FinetuneError

__all__ = ["finetune", "FinetuneError", "DataError", "AdapterError", "require_packages"]

PACKAGES = ("torch", "transformers", "huggingface_hub", "peft")   # the 'models' and 'finetune' extras


def require_packages() -> None:
    """One clear error when the extras fine-tuning needs are not installed (e.g. after ``make demo``)."""
    from nodeflow.checkpoints import missing_model_packages
    from nodeflow.errors import install_hint
    missing = missing_model_packages(PACKAGES)
    if missing:
        raise FinetuneError(f"fine-tuning needs the 'models' and 'finetune' extras ({', '.join(missing)} not "
                            f"installed here): {install_hint('models', 'finetune')}")


def finetune(*args, **kwargs):
    """See :func:`nodes.models.finetune.train.finetune`."""
    require_packages()
    from .train import finetune as run
    return run(*args, **kwargs)
