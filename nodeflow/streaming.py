"""Streamed chains: long audio flows through a chain of nodes in blocks, never whole.

A node may declare a streaming form next to its whole-value function, ``@node(..., stream=fn)``::

    fn(inputs: dict[str, Stream], params: dict, ctx: Context) -> Stream | value

``inputs`` maps the node's audio input port to a :class:`Stream` (empty for a source such as
``io.load``); a transform returns a :class:`Stream`, a sink (``io.export``) consumes its input and
returns its output value (the path written).  The form must give exactly the samples the
whole-value function gives (the tests compare them bit for bit).  Where it cannot for these
parameters or this input (an ffmpeg-only format, a loudness target that needs the whole file, ...)
it raises :class:`NotStreamable`, before consuming a block or, for a sink, when it finds out (the
export learns only at the end that the audio needed the limiter): the chain then runs again the
ordinary way, node by node, from its inputs.

The executor (:func:`plan_segments`) fuses each maximal chain of such nodes whose intermediate
values nobody else needs into one *segment*: a value is fused into its consumer when it is computed
in this run, has that one consumer, feeds it as a plain value (not mapped over a list) and is not
a target, a leaf or listed in ``keep``; ``keep="all"`` (the editor) fuses nothing.  A value feeding
an export is returned as a :class:`~nodeflow.audio.StreamedAudio` (its rate, length, placement and
tags, no samples) when it streamed.  :func:`run_segment` runs a segment with the events each node
would have sent (``started``, ``progress`` in frames, ``finished``; ``failed`` naming the node whose
code raised, ``cancelled`` for the others), checks for cancellation between blocks, and returns the
last node's outputs (a transform's stream collected into one :class:`~nodeflow.audio.Audio`).
Intermediate values of a segment are never made, so they are not cached (in memory or on disk);
the segment's last value is cached as any other.  Hence the executor streams by default only when
a value of the chain would take :data:`STREAM_MIN_BYTES` or more (or more than its memory cache's
budget): shorter clips run node by node, their values cached for the next run
(``Executor(stream=True)`` streams whatever can stream, ``stream=False`` nothing).
"""
from __future__ import annotations

import dataclasses
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

import numpy as np

from .audio import Audio, StreamedAudio
from .errors import Cancelled, ExecutionError, NodeflowError

if TYPE_CHECKING:   # the executor's scheduler imports this module; these are for annotations only
    from .graph import Graph
    from .node import Context, NodeSpec
    from .planning import Plan
    from .runtypes import Emit

__all__ = ["Stream", "NotStreamable", "fuses", "plan_segments", "run_segment", "is_whole", "BLOCK", "STREAM_MIN_BYTES",
           "reblock"]

BLOCK = 1 << 17     # frames per block a whole value is cut into (512 KiB of float32 a channel)
STREAM_MIN_BYTES = 256 << 20   # by default a chain streams when one of its values would be this big


class NotStreamable(Exception):
    """Raised by a node's streaming form when it cannot stream with these parameters or this input:
    the segment runs the ordinary way instead.  The message says why (logged, never shown as an error)."""


@dataclasses.dataclass
class Stream:
    """One audio value as a description (``head``: rate, channels, frames, placement, info, markers)
    and its samples as successive float32 ``[channels, n]`` blocks (``n > 0``; the blocks' frames
    add up to ``head.frames``).  Blocks may be views: consumers never change them in place."""
    head: StreamedAudio
    blocks: Iterator[np.ndarray]

    @classmethod
    def of(cls, audio: Audio, node: str = "", block: int = BLOCK) -> "Stream":
        """A whole value in blocks (views of its samples)."""
        x = audio.samples
        head = StreamedAudio.describe(audio.sample_rate, audio.channels, audio.frames, node=node,
                                      **{f: getattr(audio, f) for f in _META})
        return cls(head, (x[:, a:a + block] for a in range(0, x.shape[1], block)))

    def map(self, fn: Callable[[np.ndarray], np.ndarray], head: StreamedAudio | None = None) -> "Stream":
        """Each block through ``fn`` (same frames out as in), under ``head`` (default: this one)."""
        return Stream(head if head is not None else self.head, (fn(b) for b in self.blocks))


_META = ("start_frame", "index", "tokens", "overlap_frames", "info", "markers", "edges", "exact_start", "exact_end",
         "marker_times")


def reblock(blocks: Iterator[np.ndarray], channels: int, size: int) -> Iterator[np.ndarray]:
    """The same frames in blocks of exactly ``size`` (the last one shorter), as one whole array cut
    at ``0, size, 2 size, ...`` would give them: block-wise arithmetic that depends on where blocks
    start (a seeded dither, a meter fed fixed blocks) then matches the whole-value path exactly."""
    buf = np.empty((channels, size), np.float32)
    filled = 0
    for b in blocks:
        pos, n = 0, b.shape[1]
        while pos < n:
            if filled == 0 and n - pos >= size:     # a whole block straight from the input
                yield b[:, pos:pos + size]
                pos += size
                continue
            take = min(size - filled, n - pos)
            buf[:, filled:filled + take] = b[:, pos:pos + take]
            filled, pos = filled + take, pos + take
            if filled == size:
                yield buf
                buf, filled = np.empty((channels, size), np.float32), 0
    if filled:
        yield buf[:, :filled]


# ---------------------------------------------------------------------------------------- planning
def fuses(src: Any, dst: Any, mode: str | None, src_modes: Iterable[str | None], consumers: int,
          dst_links: int) -> bool:
    """Whether the value of node ``src`` (its spec) can be handed on in blocks into ``dst``: both
    stream, ``dst`` reads that one value alone (``dst_links`` links into it, ``mode`` the link's), and
    the value feeds nothing else (``consumers``) and is no file written or several outputs; ``src``
    reads its own inputs whole (``src_modes``, each ``direct``).  :func:`plan_segments` fuses chains by
    it, and :func:`nodeflow.costs.estimate` counts such a value as a few blocks."""
    return (dst.stream is not None and dst_links == 1 and len(dst.inputs) == 1 and src.stream is not None
            and mode == "direct" and not src.side_effect and not src.multi_output and consumers == 1
            and all(m == "direct" for m in src_modes))


def plan_segments(plan: Plan, kept: set[str] | None, targets: list[str] | None,
                  keep: Iterable[str]) -> dict[str, list[str]]:
    """Chains to stream: ``{last node: [first, ..., last]}`` (two nodes or more), from the run's
    plan (see the module docstring for which values are fused)."""
    specs = plan.specs
    if kept is None or not any(specs[n].stream is not None for n in plan.to_run):
        return {}                         # keep="all", or nothing here streams
    to_run = set(plan.to_run)
    consumers: dict[str, int] = {}        # links out of each value into nodes of this run
    for n in plan.order:
        for (_, src, _, _) in plan.inputs[n]:
            consumers[src] = consumers.get(src, 0) + 1
    whole = set(keep) | set(targets or ())          # values the caller asked for (and the leaves)
    if not targets:
        whole.update(n for n in plan.order if n not in consumers)
    nxt: dict[str, str] = {}
    for dst in plan.to_run:
        ins = plan.inputs[dst]
        if not ins:
            continue
        _port, src, _src_port, mode = ins[0]
        if src in to_run and src not in whole and fuses(specs[src], specs[dst], mode, (
                m for (_, _, _, m) in plan.inputs[src]), consumers.get(src, 0), len(ins)):
            nxt[src] = dst
    prev = set(nxt.values())
    segments: dict[str, list[str]] = {}
    for n in plan.to_run:
        if n in nxt and n not in prev:    # the head of a chain
            seg = [n]
            while seg[-1] in nxt:
                seg.append(nxt[seg[-1]])
            segments[seg[-1]] = seg
    return segments


# ---------------------------------------------------------------------------------------- running
class _Small(Exception):
    """Every value of the chain is below the size worth streaming: run it node by node."""


def is_whole(outputs: dict[str, Any]) -> bool:
    """Whether ``outputs`` hold real values (not a streamed value's description)."""
    return not any(isinstance(v, StreamedAudio) for v in outputs.values())


class _StageError(Exception):
    """An exception from a segment's node ``node_id`` (the original is ``__cause__``); ``finished``: the
    outputs of the nodes before it that ran whole and finished (a chain run node by node)."""

    def __init__(self, node_id: str, error: BaseException, finished: dict[str, dict[str, Any]] | None = None):
        super().__init__(node_id)
        self.node_id, self.error, self.finished = node_id, error, finished or {}


def _watch(nid: str, blocks: Iterator[np.ndarray], total: int, emit: Emit,
           cancel: threading.Event, spent: dict[str, float]) -> Iterator[np.ndarray]:
    """``blocks`` with cancellation checked and progress sent for ``nid`` between them; an exception
    raised by the node's own code is tagged with its id.  ``spent[nid]`` adds up the seconds spent
    getting its blocks (with the nodes before it, whose blocks it pulls: see :func:`_own_seconds`)."""
    done = 0
    last = 0.0
    while True:
        if cancel.is_set():
            raise _StageError(nid, Cancelled(f"node '{nid}' cancelled"))
        t0 = time.perf_counter()
        try:
            b = next(blocks)
        except StopIteration:
            spent[nid] = spent.get(nid, 0.0) + time.perf_counter() - t0
            if done != total:
                raise _StageError(nid, _miscounted(done, total)) from None
            return
        except _StageError:
            raise
        except Exception as e:  # noqa: BLE001 - tagged with the node and re-raised
            raise _StageError(nid, e) from e
        now = time.perf_counter()
        spent[nid] = spent.get(nid, 0.0) + now - t0
        done += b.shape[1]
        if done > total:
            raise _StageError(nid, _miscounted(done, total, more=True))
        if now - last >= 0.05 or done >= total:
            last = now
            emit("progress", nid, done=done, total=total)
        yield b


def _miscounted(done: int, total: int, more: bool = False) -> RuntimeError:
    """A node's stream that gave other than the frames its head announced (a bug in its ``stream=``
    form), said of that node (QA68 D4: it was blamed on the node after it, and an export after it
    wrote the short file)."""
    gave = f"more than the {total} frames it announced" if more else f"{done} of the {total} frames it announced"
    return RuntimeError(f"its stream gave {gave}; a stream= form must give exactly the frames its head says "
                        "(run without streaming, Executor(stream=False), to use the node's whole form)")


def _collect(nid: str, stream: Stream) -> Audio:
    """The stream as one :class:`Audio` (one full-size array, filled block by block)."""
    h = stream.head
    out = np.empty((h.channels, h.frames), np.float32)
    pos = 0
    for b in stream.blocks:
        if pos + b.shape[1] > h.frames:
            raise _StageError(nid, RuntimeError(f"stream gave more than the {h.frames} frames it announced"))
        out[:, pos:pos + b.shape[1]] = b
        pos += b.shape[1]
    if pos != h.frames:
        raise _StageError(nid, RuntimeError(f"stream gave {pos} of the {h.frames} frames it announced"))
    return Audio(out, h.sample_rate, **{f: getattr(h, f) for f in _META})


def _hand_on(nid: str, spec: NodeSpec, stream: Stream, emit: Emit) -> StreamedAudio:
    """Each block of the stream as a ``chunk`` of ``nid``'s audio (consecutive clips that make it);
    the stream's description stands for the value (``Executor.stream`` with ``-o -``: an hour of
    audio to standard output is never held whole)."""
    h = stream.head
    port, pos = next(iter(spec.outputs)), 0
    for b in stream.blocks:
        piece = np.array(b, np.float32)      # its own: a stage may reuse the buffer it handed on
        emit("chunk", nid, value={port: Audio(piece, h.sample_rate, start_frame=h.start_frame + pos)})
        pos += b.shape[1]
    if pos != h.frames:
        raise _StageError(nid, RuntimeError(f"stream gave {pos} of the {h.frames} frames it announced"))
    return h.replace(node=nid)


def _params(graph: Graph, spec: NodeSpec, nid: str) -> dict[str, Any]:
    params = {k: p.default for k, p in spec.params.items()}
    params.update(graph.nodes[nid].params)
    return params


def _own_seconds(seg: list[str], spent: dict[str, float], total: float) -> dict[str, float]:
    """Each node's own seconds in a streamed chain: a node pulls its blocks from the one before it,
    so what it spent less what that one spent (the last node, which pulls everything: ``total``).
    Every node of the chain runs from its first block to its last, so the chain's wall time said
    nothing about a node (a 0.9 s gain read '53 s' before a slow MP3 encode).

    >>> {k: round(v, 2) for k, v in _own_seconds(["load", "gain", "export"], {"load": 1.0, "gain": 1.25}, 9.0).items()}
    {'load': 1.0, 'gain': 0.25, 'export': 7.75}
    """
    inclusive = [spent.get(nid, 0.0) for nid in seg[:-1]] + [max(total, spent.get(seg[-1], 0.0))]
    return {nid: max(inclusive[i] - (inclusive[i - 1] if i else 0.0), 0.0) for i, nid in enumerate(seg)}


def _streamed(graph: Graph, seg: list[str], plan: Plan, values: dict[str, dict[str, Any]], emit: Emit,
              cancel: threading.Event, make_ctx: Callable[[str], Context],
              min_bytes: int = 0, spent: dict[str, float] | None = None,
              pieces: bool = False) -> dict[str, dict[str, Any]]:
    """Run ``seg`` as one block pipeline; ``{node: outputs}`` (inner nodes: their StreamedAudio).
    Raises :class:`_Small` before anything is consumed when no value reaches ``min_bytes``.
    ``spent``: the seconds each node spent, with those before it (see :func:`_watch`)."""
    spent = {} if spent is None else spent
    specs = plan.specs
    outs: dict[str, dict[str, Any]] = {}
    stream: Stream | None = None
    result: Any = None
    opened: list[Iterator[np.ndarray]] = []
    try:
        for i, nid in enumerate(seg):
            spec = specs[nid]
            args: dict[str, Any] = {}
            if i == 0:
                for (port, src, src_port, _mode) in plan.inputs[nid]:
                    args[port] = Stream.of(values[src][src_port], node=src)
            else:
                args[plan.inputs[nid][0][0]] = stream
            if i == len(seg) - 1 and min_bytes:     # every inner value described: is any worth streaming?
                heads = [o for n in seg[:-1] for o in outs[n].values()] + [a.head for a in args.values()]
                if max(h.frames * h.channels * 4 for h in heads) < min_bytes:
                    raise _Small()
            stream_fn = spec.stream
            assert stream_fn is not None    # plan_segments fuses only nodes that have a streaming form
            t0, upstream = time.perf_counter(), spent.get(seg[i - 1], 0.0) if i else 0.0
            try:
                got = stream_fn(args, _params(graph, spec, nid), make_ctx(nid))
            except (_StageError, NotStreamable, _Small):
                raise
            except Exception as e:  # noqa: BLE001 - tagged with the node
                raise _StageError(nid, e) from e
            spent[nid] = time.perf_counter() - t0 + upstream     # (a sink pulls every block in here)
            if i == len(seg) - 1 and not isinstance(got, Stream):
                result = got
                break
            if not isinstance(got, Stream):
                raise _StageError(nid, TypeError(f"{spec.id}'s streaming form returned {type(got).__name__}, "
                                                 "not a Stream"))
            head = got.head.replace(node=nid)
            opened.append(got.blocks)
            stream = Stream(head, _watch(nid, got.blocks, head.frames, emit, cancel, spent))
            outs[nid] = {next(iter(spec.outputs)): head}
        else:
            assert stream is not None       # seg is never empty: the loop made the last node's stream
            result = _hand_on(seg[-1], specs[seg[-1]], stream, emit) if pieces else _collect(seg[-1], stream)
        outs[seg[-1]] = {next(iter(specs[seg[-1]].outputs)): result}
        return outs
    finally:
        for it in opened:             # close generators (open files) whatever happened
            close = getattr(it, "close", None)
            if close is not None:
                close()


def _whole(graph: Graph, seg: list[str], plan: Plan, values: dict[str, dict[str, Any]],
           make_ctx: Callable[[str], Context], took: dict[str, float],
           describe: bool = True) -> dict[str, dict[str, Any]]:
    """Run ``seg`` the ordinary way, node by node (``took``: seconds each node took).  ``describe``:
    an inner value is kept only as its description once the next node has it (the one feeding the
    last node stays whole: an export's is returned); else every value is returned whole."""
    outs: dict[str, dict[str, Any]] = {}
    prev: dict[str, Any] = {}           # the previous node's outputs (none before the first)
    for i, nid in enumerate(seg):
        t0 = time.perf_counter()
        spec = plan.specs[nid]
        args = {}
        for (port, src, src_port, _mode) in plan.inputs[nid]:
            args[port] = values[src][src_port] if i == 0 else prev[src_port]
        try:
            got = spec.call(args, _params(graph, spec, nid), make_ctx(nid) if spec.wants_ctx else None)
        except Exception as e:  # noqa: BLE001 - tagged with the node
            raise _StageError(nid, e, {n: outs[n] for n in seg[:i]}) from e
        took[nid] = time.perf_counter() - t0
        if describe and 0 < i < len(seg) - 1:
            outs[seg[i - 1]] = {k: _described(v, seg[i - 1]) for k, v in prev.items()}
            took.pop(seg[i - 1], None)
        del args                        # the inputs may be released while the next node runs
        prev = outs[nid] = got
    return outs


def _described(value: Any, node: str) -> Any:
    if isinstance(value, Audio) and not isinstance(value, StreamedAudio):
        return StreamedAudio.describe(value.sample_rate, value.channels, value.frames, node=node,
                                      **{f: getattr(value, f) for f in _META})
    return value


def _execution_error(nid: str, spec: NodeSpec, e: BaseException) -> BaseException:
    if isinstance(e, (ExecutionError, Cancelled)):
        return e
    if isinstance(e, NodeflowError):
        err = ExecutionError(nid, str(e))
    else:
        from .nodecall import failed_text
        err = ExecutionError(nid, failed_text(spec, e))
    err.__cause__ = e
    return err


def run_segment(graph: Graph, seg: list[str], plan: Plan, values: dict[str, dict[str, Any]], emit: Emit,
                cancel: threading.Event, ctx_kw: dict[str, Any], context_cls: type[Context],
                min_bytes: int = 0, pieces: bool = False) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
    """Run the fused chain ``seg`` (see the module docstring): ``({node: outputs}, {node: seconds})``
    for every node in it (inner nodes: ``{"out": StreamedAudio}`` when streamed) and, for each value
    returned whole, how long computing it took (the cache's policy wants it).  A chain none of whose
    values reaches ``min_bytes`` runs node by node, every value returned whole.  With ``pieces``
    the last node's audio is handed on block by block (``chunk`` events) and only described.  Raises
    :class:`ExecutionError` naming the node whose code failed, or :class:`Cancelled`."""
    import logging

    specs = plan.specs
    make_ctx = lambda nid: context_cls(nid, **ctx_kw)   # noqa: E731
    if cancel.is_set():
        for nid in seg:
            emit("cancelled", nid)
        raise Cancelled(f"node '{seg[0]}' cancelled")
    t0 = time.perf_counter()
    for nid in seg:
        emit("started", nid)
    took: dict[str, float] = {}
    own: dict[str, float] = {}                  # each node's own seconds, when the chain streamed
    try:
        try:
            spent: dict[str, float] = {}
            outs = _streamed(graph, seg, plan, values, emit, cancel, make_ctx, min_bytes, spent, pieces)
            took[seg[-1]] = time.perf_counter() - t0
            own = _own_seconds(seg, spent, took[seg[-1]])
        except _Small:
            outs = _whole(graph, seg, plan, values, make_ctx, took, describe=False)
        except NotStreamable as why:
            logging.getLogger(__name__).info("streaming %s: %s; running it whole", " -> ".join(seg), why)
            outs = _whole(graph, seg, plan, values, make_ctx, took)
    except _StageError as e:
        err = _execution_error(e.node_id, specs[e.node_id], e.error)
        for nid in seg:
            if nid in e.finished:       # ran whole before the failing node (QA: "cancelled load", "ran 0")
                emit("finished", nid, elapsed_s=took.get(nid, 0.0))
            elif nid == e.node_id and not isinstance(err, Cancelled):
                emit("failed", nid, error=err, message=str(err))
            else:
                emit("cancelled", nid)
        err.finished = e.finished       # type: ignore[attr-defined]  # the scheduler counts and caches them
        if err is e.error:
            raise err from err.__cause__
        raise err from e.error
    elapsed = time.perf_counter() - t0
    for nid in seg:
        emit("finished", nid, elapsed_s=own.get(nid, took.get(nid, elapsed)))
    return outs, took
