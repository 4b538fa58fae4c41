"""libmpg123's own diagnostics kept off the terminal while libsndfile reads an mp3.

libmpg123 (inside libsndfile) writes to the process' standard error itself: a damaged mp3 printed
six "Note: Illegal Audio-MPEG-Header ... Trying to resync ... Skipped 116 bytes" lines before the one
error line AudioChain says, with ``-q`` and from ``validate`` too (QA66 M2).  While an mp3 is read,
file descriptor 2 goes to a temporary file; afterwards anything else written there meanwhile (another
thread's warning) is written back, and libmpg123's lines are handed to the caller, which says in one
warning what they mean (damaged bytes skipped) where the file still plays.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from pathlib import Path
from typing import Iterator

__all__ = ["quiet_mpg123", "skipped_words"]

#: libmpg123's lines: "Note: ...", "Warning: ...", "[src/libmpg123/parse.c:...] error: ..."
_MPG123 = re.compile(rb"^(Note: |Warning: |\[src/libmpg123/|\[[^\]]*mpg123[^\]]*\] |Big-endian|\s*$)")
_lock = threading.Lock()
_state: dict[str, int] = {"depth": 0, "saved": -1, "tmp": -1}


@contextlib.contextmanager
def quiet_mpg123(path: str | os.PathLike[str]) -> Iterator[list[bytes]]:
    """Around libsndfile's work on ``path``: libmpg123's messages kept off the terminal when it is an
    mp3, and given in the list yielded once the block ends (nested and concurrent uses share one
    redirection, undone when the last ends, which gets them)."""
    dropped: list[bytes] = []
    if Path(path).suffix.lower() != ".mp3" or not _redirectable():
        yield dropped
        return
    with _lock:
        if _state["depth"] == 0:
            sys.stderr.flush()
            tmp = tempfile.TemporaryFile()
            _state["saved"], _state["tmp"] = os.dup(2), os.dup(tmp.fileno())
            tmp.close()
            os.dup2(_state["tmp"], 2)
        _state["depth"] += 1
    try:
        yield dropped
    finally:
        with _lock:
            _state["depth"] -= 1
            if _state["depth"] == 0:
                dropped.extend(_restore())


def _redirectable() -> bool:
    try:
        os.fstat(2)
        return True
    except OSError:
        return False


def _restore() -> list[bytes]:
    """Standard error back; returns libmpg123's lines, and writes back the others."""
    saved, tmp = _state["saved"], _state["tmp"]
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)
    try:
        os.lseek(tmp, 0, os.SEEK_SET)
        with os.fdopen(tmp, "rb") as f:
            lines = f.read().splitlines(keepends=True)
    except OSError:
        lines = []
    if kept := [line for line in lines if not _MPG123.match(line)]:
        os.write(2, b"".join(kept))
    return [line.strip() for line in lines if _MPG123.match(line) and line.strip()]


def skipped_words(lines: list[bytes]) -> str:
    """What libmpg123's lines say of a damaged mp3 it played through, in a few words ('' if nothing):
    ``skipped 416 damaged bytes (at offset 16591)``.

    >>> skipped_words([b"Note: Illegal Audio-MPEG-Header 0xaeb0daf2 at offset 16591.",
    ...                b"Note: Skipped 416 bytes in input."])
    'skipped 416 damaged bytes (from offset 16591)'
    """
    skipped = sum(int(m.group(1)) for line in lines if (m := re.search(rb"Skipped (\d+) bytes", line)))
    at = next((int(m.group(1)) for line in lines if (m := re.search(rb"at offset (\d+)", line))), None)
    if not skipped:
        return ""
    return f"skipped {skipped} damaged bytes" + (f" (from offset {at})" if at is not None else "")
