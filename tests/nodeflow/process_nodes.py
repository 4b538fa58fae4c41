"""Nodes declared with ``process=True`` for the worker-process tests (module-level, so a worker
process can import them by name)."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

from nodeflow import Audio, Context, Range, node


@node("proc.spin", process=True)
def spin(audio: Audio, *, steps: Annotated[int, Range(1, 100)] = 3, meet: str = "", me: str = "",
         warn: str = "", ctx: Context = None) -> Audio:
    """Holds the GIL (a Python loop), reports progress, records the process it ran in.  With
    ``meet``/``me`` (a folder and a name) it waits until the other branch has arrived too; with
    ``warn``, it warns of that."""
    if warn:
        ctx.warn(warn)
    if meet:
        Path(meet, me).touch()
        other = "b" if me == "a" else "a"
        deadline = time.monotonic() + 30
        while not Path(meet, other).exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"branch {me} ran alone: the other branch never started")
            time.sleep(0.01)
    for i in range(steps):
        sum(range(20000))
        ctx.progress(i + 1, steps)
    return audio.replace(audio.samples * 2.0).with_info(pid=str(os.getpid()))


@node("proc.hang", process=True)
def hang(audio: Audio, *, pidfile: str = "") -> Audio:
    """Never returns on its own (an uninterruptible call); Stop must end its process."""
    if pidfile:
        Path(pidfile).write_text(str(os.getpid()))
    while True:
        sum(range(100000))


@node("proc.boom", process=True)
def boom(audio: Audio, *, message: str = "bad take") -> Audio:
    """Fails in the worker."""
    raise ValueError(message)


@node("proc.maybe", process=lambda inputs, params: params["far"])
def maybe(audio: Audio, *, far: bool = True) -> Audio:
    """Runs in a worker only when ``far`` (a per-call decision, as dsp.variation makes by clip size)."""
    return audio.with_info(pid=str(os.getpid()))


ALL = [spin, hang, boom, maybe]
