"""Running model nodes the way a user does: inside a Graph, through the Executor, fed by real
files (io.load) and real text nodes; plus the measurements the model tests make."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np
import soundfile as sf

from nodeflow import Audio, Executor, Graph
from nodeflow.executor import Event, RunResult


def write_clip(path: Path, samples: np.ndarray, rate: int) -> Path:
    """``samples`` [channels, frames] as a 32-bit float WAV (bit-exact when read back)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.asarray(samples, np.float32).T, rate, subtype="FLOAT")
    return path


def sine(freq_hz: float, seconds: float, rate: int, channels: int = 1, amp: float = 0.3) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return np.repeat((amp * np.sin(2 * np.pi * freq_hz * t))[None], channels, axis=0).astype(np.float32)


def model_graph(node_type: str, tmp_path: Path, *, audio: dict[str, tuple[np.ndarray, int]] | None = None,
                text: str | None = None, node_id: str = "model", **params: Any) -> Graph:
    """A graph: optional io.load nodes feeding ``audio`` ports, an optional prompt_template node
    feeding ``text``, and the model node ``node_id`` with ``params``."""
    g = Graph()
    m = g.add(node_type, id=node_id, **params)
    for port, (samples, rate) in (audio or {}).items():
        f = write_clip(tmp_path / f"{node_id}-{port}.wav", samples, rate)
        src = g.add("io.load", id=f"load_{port}", path=str(f))
        g.connect(src.out, m[port])
    if text is not None:
        t = g.add("text.prompt_template", id="text", template=text)
        g.connect(t.out, m.text)
    return g


def run_graph(g: Graph, *, executor: Executor | None = None, node_id: str = "model", device: str = "auto",
              on_event: Callable[[Event], None] | None = None,
              cancel_event: threading.Event | None = None) -> tuple[Audio, RunResult]:
    ex = executor or Executor()
    res = ex.run(g, device=device, on_event=on_event, cancel_event=cancel_event)
    return res[node_id]["out"], res


def run_model(node_type: str, tmp_path: Path, **kw: Any) -> Audio:
    """Build :func:`model_graph` and run it with a fresh Executor; the model node's Audio."""
    run_kw = {k: kw.pop(k) for k in ("executor", "device", "on_event", "cancel_event") if k in kw}
    out, _ = run_graph(model_graph(node_type, tmp_path, **kw), node_id=kw.get("node_id", "model"), **run_kw)
    return out


def jumps(x: np.ndarray) -> np.ndarray:
    """Sample-to-sample jumps |x[n+1] - x[n]| (channels folded by max)."""
    return np.abs(np.diff(np.atleast_2d(x), axis=1)).max(axis=0)


def frame_rms(x: np.ndarray, frame: int) -> np.ndarray:
    n = x.shape[-1] // frame
    return np.sqrt((np.atleast_2d(x)[:, :n * frame].reshape(-1, n, frame) ** 2).mean(axis=(0, 2)))
