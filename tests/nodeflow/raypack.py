"""A node pack for the Ray tests: a slow node that records which worker process ran it."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

from nodeflow import Audio, Context, Range, node


@node("raytest.marked")
def marked(audio: Audio, *, tag: str = "", pid_dir: str = "", hold_s: Annotated[float, Range(0, 60)] = 0.0,
           ctx: Context = None) -> Audio:
    """Writes <pid_dir>/<tag>.<pid>, then holds for hold_s (checking for cancellation)."""
    if pid_dir:
        Path(pid_dir, f"{tag}.{os.getpid()}").touch()
    end = time.monotonic() + hold_s
    while time.monotonic() < end:
        ctx.check_cancelled()
        time.sleep(0.02)
    return audio


def register(registry) -> None:
    registry.add(marked)
