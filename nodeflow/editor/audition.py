"""Auditioning node outputs: a min/max waveform envelope, and computing a node then playing it.

Usage (for the editor; this module never imports dearpygui)
-----------------------------------------------------------
>>> from nodeflow.editor.audition import AudioDeviceError, audition, default_player, envelope
>>> t, lo, hi = envelope(audio, points=2000)     # doctest: +SKIP
>>> # plot lo and hi against t (seconds): a shaded band of at most 2000 points

To audition a node, let :func:`audition` compute it (only what it needs, from the executor's cache
where it can) on a background thread and then play it:

>>> th = audition(executor, graph, "fade", on_ready=draw_waveform,   # doctest: +SKIP
...               on_error=show_error, on_done=reset_button)

The latest press wins: if the user presses play on another node (or stop) while the first one is
still computing, the first one is not played when it is ready.  The sound itself goes through
:mod:`nodeflow.editor.player` (:class:`Player`, :func:`default_player`, :class:`AudioDeviceError`,
re-exported here): a non-blocking sounddevice player, one clip at a time per player.
"""
from __future__ import annotations

import logging
import threading
import typing
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..audio import Audio
from ..errors import AudioError, GraphError, ParameterError
from .player import AudioDeviceError, Player, default_player

if TYPE_CHECKING:
    from ..executor import Executor, RunResult
    from ..graph import Graph

__all__ = ["AudioDeviceError", "Audition", "Player", "audition", "default_player", "envelope", "playable_port", "plays_file"]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------- envelope
def envelope(audio: Audio, points: int = 2000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min/max envelope of a clip over all its channels, for drawing a waveform.

    Parameters
    ----------
    audio : Audio
        The clip.
    points : int
        Most buckets to return (>= 1).  A clip with no more frames than ``points`` gives its
        samples themselves (one bucket per frame, exact).

    Returns
    -------
    times_s, mins, maxs : np.ndarray
        Start time in seconds of each bucket, and the lowest and highest sample in it (over all
        channels).  Every sample lies between ``mins`` and ``maxs`` of its bucket.

    Examples
    --------
    >>> t, lo, hi = envelope(Audio(np.array([[0.0, 0.5, -0.25, 1.0]]), 4), points=2)
    >>> t.tolist(), lo.tolist(), hi.tolist()
    ([0.0, 0.5], [0.0, -0.25], [0.5, 1.0])
    """
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or points < 1:
        raise ParameterError(f"envelope: points={points!r} must be a whole number >= 1 (e.g. 2000)")
    x, n, rate = audio.samples, audio.frames, audio.sample_rate
    if n <= points:
        lo = x.min(axis=0) if x.shape[0] > 1 else x[0].copy()
        hi = x.max(axis=0) if x.shape[0] > 1 else x[0].copy()
        return np.arange(n) / rate, lo, hi
    size = -(-n // points)                       # frames per bucket: ceil, so at most `points` buckets
    full = n // size
    body = x[:, :full * size].reshape(x.shape[0], full, size)
    lo, hi = body.min(axis=2), body.max(axis=2)  # [channels, full]: contiguous reductions
    if x.shape[0] > 1:
        lo, hi = lo.min(axis=0), hi.max(axis=0)
    else:
        lo, hi = lo[0], hi[0]
    if full * size < n:                          # the short last bucket
        tail = x[:, full * size:]
        lo, hi = np.append(lo, tail.min()), np.append(hi, tail.max())
    return np.arange(len(lo)) * size / rate, lo, hi


# ---------------------------------------------------------------------------------------- audition
def _is_audio_type(t: Any) -> bool:
    return t is Audio or (typing.get_origin(t) is list and typing.get_args(t) == (Audio,))


def plays_file(spec: Any, t: Any) -> bool:
    """Whether an output of type ``t`` of the node ``spec`` is a file it wrote that the editor plays
    (and draws): a side-effect node's ``str`` output, an export's path (a mapped export's paths: the
    first is shown and played)."""
    return bool(spec.side_effect) and (t is str or (typing.get_origin(t) is list and typing.get_args(t) == (str,)))


def playable_port(graph: Graph, node_id: str) -> str | None:
    """The output the editor plays for ``node_id``: its first audio output (by the graph's resolved
    types), else the file an export wrote (a side-effect node's ``str`` output, as the node's play
    button does); None when it has neither or its type is not installed."""
    spec = graph.spec(node_id) if node_id in graph.nodes else None
    if spec is None:
        return None
    types = graph.output_types()
    resolved = {name: types.get((node_id, name), p.type) for name, p in spec.outputs.items()}
    audio = [name for name, t in resolved.items() if _is_audio_type(t)]
    files = [name for name, t in resolved.items() if plays_file(spec, t)]
    return (audio + files)[0] if audio or files else None


def _audio_port(graph: Graph, node_id: str, port: str | None) -> str:
    if node_id not in graph.nodes:
        raise GraphError(f"cannot audition node '{node_id}': no such node in the graph")
    spec = graph.spec(node_id)
    if spec is None:
        raise GraphError(f"cannot audition node '{node_id}': its type '{graph.nodes[node_id].type}' is not installed")
    audio_ports = [name for name, p in spec.outputs.items() if _is_audio_type(p.type)]
    if port is None:
        if not audio_ports:
            raise GraphError(f"node '{node_id}' ({spec.id}) has no audio output to audition")
        return audio_ports[0]
    if port not in audio_ports:
        raise GraphError(f"node '{node_id}' ({spec.id}) has no audio output '{port}'; audio outputs: "
                         f"{', '.join(audio_ports) or 'none'}")
    return port


def _as_clip(value: Any, where: str) -> Audio:
    if isinstance(value, Audio):
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Audio) for v in value):
        shapes = {(v.sample_rate, v.channels) for v in value}
        if len(shapes) > 1:
            raise AudioError(f"{where}: the clips in this list differ in rate/channels {sorted(shapes)}; "
                             "audition them one by one or conform them first")
        return Audio(np.concatenate([v.samples for v in value], axis=1), value[0].sample_rate)
    raise AudioError(f"{where} gave {type(value).__name__}, not audio; nothing to play")


class Audition(threading.Thread):
    """The background computation and start of one audition (see :func:`audition`).

    After it ends: ``audio`` (the clip), ``result`` (the RunResult), ``played`` (False when a newer
    press superseded it) and ``error`` (the exception, or None).
    """

    def __init__(self, executor: Executor, graph: Graph, node_id: str, port: str, player: Player, ticket: int,
                 on_ready: Callable[[Audio], None] | None, on_error: Callable[[BaseException], None] | None,
                 on_done: Callable[[], None] | None, run_kw: dict[str, Any]):
        super().__init__(name=f"nodeflow-audition-{node_id}", daemon=True)
        self.executor, self.graph, self.node_id, self.port = executor, graph, node_id, port
        self.player, self.ticket = player, ticket
        self.on_ready, self.on_error, self.on_done, self.run_kw = on_ready, on_error, on_done, run_kw
        self.audio: Audio | None = None
        self.result: RunResult | None = None
        self.played = False
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = result = self.executor.run(self.graph, targets=[self.node_id], **self.run_kw)
            self.audio = _as_clip(result[self.node_id][self.port], f"node '{self.node_id}' output '{self.port}'")
            if self.on_ready is not None:
                self.on_ready(self.audio)
            self.played = self.player._play_if_current(self.ticket, self.audio, self.on_done)
        except Exception as e:  # noqa: BLE001 - delivered to on_error / .error
            self.error = e
            if self.on_error is not None:
                self.on_error(e)
            else:
                log.error("audition of node '%s' failed: %s", self.node_id, e)


def audition(executor: Executor, graph: Graph, node_id: str, port: str | None = None, *, player: Player | None = None,
             on_ready: Callable[[Audio], None] | None = None,
             on_error: Callable[[BaseException], None] | None = None,
             on_done: Callable[[], None] | None = None, **run_kw: Any) -> Audition:
    """Compute ``node_id``'s audio output on a background thread, then play it.

    Runs ``executor.run(graph, targets=[node_id], **run_kw)`` (so only what the node needs, reusing
    the executor's cache), calls ``on_ready(audio)`` (draw the waveform), then plays it on ``player``
    (default: :func:`default_player`).  Pressing play elsewhere or ``stop()`` meanwhile wins: this
    one then is not played.  Errors (:class:`~nodeflow.ExecutionError`, :class:`AudioDeviceError`,
    :class:`~nodeflow.Cancelled`...) go to ``on_error(exc)`` and ``.error``.  ``port`` defaults to the
    node's first audio output; a node without one raises :class:`~nodeflow.GraphError` at once.
    Returns the started thread.
    """
    port = _audio_port(graph, node_id, port)
    player = player or default_player()
    th = Audition(executor, graph, node_id, port, player, player._reserve(), on_ready, on_error, on_done, run_kw)
    th.start()
    return th
