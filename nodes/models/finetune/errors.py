"""Errors of ``audiochain finetune``: one :class:`FinetuneError` per user mistake, named and fixable."""
from __future__ import annotations

import re

from nodeflow.errors import NodeflowError, os_error_words

__all__ = ["FinetuneError", "DataError", "AdapterError", "io_error_of", "cannot_write"]


class FinetuneError(NodeflowError):
    """Fine-tuning cannot start or continue (bad base model, output folder, settings, checkpoint)."""


class DataError(FinetuneError):
    """The training folder gives no usable audio (empty, no audio files, only unusable clips)."""


class AdapterError(FinetuneError):
    """A LoRA adapter file is missing, malformed, or made for a different base model."""


_OS_ERROR = re.compile(r"I/O error: (.*?) \(os error (\d+)\)")


def io_error_of(e: BaseException) -> OSError | None:
    """The OSError behind a failed write: ``e`` itself, or the one safetensors' ``SafetensorError``
    names in its text ("Error while serializing: I/O error: File too large (os error 27)"); None
    for any other error."""
    if isinstance(e, OSError):
        return e
    m = _OS_ERROR.search(str(e)) if type(e).__name__ == "SafetensorError" else None
    return OSError(int(m.group(2)), m.group(1)) if m else None


def cannot_write(what: str, e: OSError, then: str = "") -> FinetuneError:
    """One line for ``what`` (the file or checkpoint being written) refused by ``e``: why, in a
    user's words, and the fix (QA: a full disk was a 25-line SafetensorError traceback).  ``then``, a
    sentence of its own, says what is kept and how to go on.

    >>> import errno
    >>> str(cannot_write("out/x", OSError(errno.ENOSPC, "No space left on device")))
    'could not write out/x: the disk is full; free some space or choose another --out'
    """
    why = os_error_words(e, "free some space or choose another --out").replace("another folder", "another --out")
    return FinetuneError(f"could not write {what}: {why}" + (f". {then}" if then else ""))
