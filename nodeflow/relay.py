"""A model's pieces handed on through the block nodes after it, while it still generates (QA68 D1).

:meth:`Executor.stream <nodeflow.executor.Executor.stream>` yields a node's output piece by piece as
the node makes it (``ctx.chunk``).  A model is rarely the last node: ``model | gain | resample`` is
the usual chain, and the gain and the resample run once the model has finished, so the stream gave
one piece at the end.  :class:`Relay` feeds the model's pieces, as they come, through the
streaming forms (``@node(stream=...)``, see :mod:`nodeflow.streaming`) of the nodes between it and
the node streamed, on a thread of its own, and hands their blocks on as the stream's pieces.

A stream is described before its first block (its length above all: a resampler ends on it), so
a model says its output's length with its first piece (``ctx.chunk(piece, total_frames=N)``); one
that cannot (a speech model that speaks sentence by sentence) gives the nodes after it nothing
early, as before.  The run itself is unchanged: it makes every value the ordinary way (and caches it);
what the relay hands on is the same arithmetic on the same samples (the streaming forms give
exactly what the whole forms give), and where it stops early (a node's streaming form refuses,
the model's pieces do not add up) the rest of the run's own output follows from where it stopped.
"""
from __future__ import annotations

import contextlib
import logging
import queue
import threading
from typing import Any, Callable, Iterator

import numpy as np

from .audio import Audio, StreamedAudio
from .errors import ExecutionError, GraphError
from .graph import Graph
from .node import Context, NodeSpec
from .runtypes import Event
from .streaming import Stream, _params
from .values import _samples_digest

__all__ = ["Relay", "Tally", "after", "unlike", "stream_pieces"]

STREAM_PIECES = 4       # pieces :meth:`Executor.stream` holds for its reader before the run waits (QA125-1: at 16,
#                         a generator kept unread, as a notebook keeps one, had 16 more windows made for nobody;
#                         4 blocks are 11 s of 48 kHz audio, windows are made one by one ahead of a reader)

log = logging.getLogger(__name__)

_END = object()


def _stage(spec: NodeSpec | None) -> bool:
    """A node the pieces can go through: one audio in, one out, a streaming form, no file written."""
    return spec is not None and spec.stream is not None and not spec.side_effect and not spec.multi_output \
        and len(spec.inputs) == 1 and len(spec.outputs) == 1 and _type(next(iter(spec.inputs.values()))) is Audio \
        and _type(next(iter(spec.outputs.values()))) is Audio


def _type(port: Any) -> Any:
    return getattr(port, "type", None)


class Relay:
    """Hands ``source``'s audio pieces on through ``stages`` (node ids, each fed by the one before,
    the last the node streamed) into ``put`` (``put(piece)``, one :class:`Audio` per block, in
    order; it may wait for a slow reader).  Built by :meth:`plan`; fed with the run's events
    (:meth:`on_event`); :meth:`finished` says when the last piece is handed on, after the run."""

    def __init__(self, graph: Graph, source: tuple[str, str], stages: list[tuple[str, str, NodeSpec]],
                 put: Callable[[Audio], None]):
        self.graph, self.source, self.stages, self.put = graph, source, stages, put
        self.active = False                 # the source said its length: the pieces go through the stages
        self.sent = 0                       # frames handed on (of the last stage's output)
        self.failed: BaseException | None = None
        self._feed: queue.Queue[Any] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = False
        self._ended = False
        self.tally = Tally()                # the source's pieces, held against its output once made
        self.total: int | None = None       # the frames the source's first piece said its output has

    @classmethod
    def plan(cls, graph: Graph, target: str, port: str, put: Callable[[Audio], None]) -> "Relay | None":
        """The relay for streaming ``target``'s ``port``: the chain of nodes with a streaming form
        that ends at ``target``, each reading one audio value from the one before it, and the node
        that feeds it (which may hand on pieces); None when ``target`` is no such node."""
        spec = graph.spec(target)
        if not _stage(spec) or next(iter(spec.outputs)) != port:      # type: ignore[union-attr]
            return None
        stages: list[tuple[str, str, NodeSpec]] = []
        nid = target
        while True:
            spec = graph.spec(nid)
            assert spec is not None
            inport = next(iter(spec.inputs))
            link = graph.link_into(nid, inport)
            if link is None or graph.mapped_inputs(nid):
                return None
            stages.insert(0, (nid, inport, spec))
            src = graph.spec(link.src)
            if _stage(src):
                nid = link.src
                continue
            if src is None or src.stream is not None or _type(src.outputs.get(link.src_port)) is not Audio:
                return None               # a source that streams itself (a file) runs as a segment
            return cls(graph, (link.src, link.src_port), stages, put)

    # -- fed from the run's events (its thread)
    def on_event(self, ev: Event) -> None:
        if ev.node_id != self.source[0] or self._stop.is_set():
            return
        if ev.kind == "chunk" and ev.value is not None and isinstance(ev.value.get(self.source[1]), Audio):
            piece = ev.value[self.source[1]]
            if not self._started:
                self._started = True
                if ev.total is None:
                    return                  # its length not said: nothing early (as a node run whole)
                self.active, self.total = True, int(ev.total)
                self._thread = threading.Thread(target=self._run, args=(piece, int(ev.total)),
                                                name="nodeflow-relay", daemon=True)
                self._thread.start()
            if self.active:
                self.tally.add(piece)
                self._feed.put(piece)
        elif ev.kind in ("finished", "failed", "cancelled", "cached", "skipped"):
            self._feed.put(_END)

    def length_problem(self, made: Any) -> str | None:
        """How the length the source's first piece said differs from its output (QA93 D3: the blocks after
        it, a fade-out placed by that length, streamed other audio than the run made, without a word)."""
        if self.total is None or not isinstance(made, Audio) or made.frames == self.total:
            return None
        return f"its first piece said total_frames={self.total}, its output has {made.frames} frames"

    def close(self) -> None:
        """Stop handing on (the reader went away)."""
        self._stop.set()
        self._feed.put(_END)

    def finished(self) -> bool:
        """Whether every piece on its way has been handed on; asked once the run has ended."""
        if not self._ended:
            self._ended = True
            self._feed.put(_END)
        return self._thread is None or not self._thread.is_alive()

    # -- the relay's thread
    def _blocks(self, channels: int, rate: int, total: int) -> Iterator[np.ndarray]:
        got = 0
        while True:
            piece = self._feed.get()
            if piece is _END or self._stop.is_set():
                break
            if piece.sample_rate != rate or piece.channels != channels:
                raise ValueError(f"a piece at {piece.sample_rate} Hz, {piece.channels} channel(s) after "
                                 f"{rate} Hz, {channels}")
            if got + piece.frames > total:
                raise ValueError(f"pieces of more than the {total} frames the first one announced")
            got += piece.frames
            yield piece.samples
            if got == total:
                return
        if got != total and not self._stop.is_set():
            raise ValueError(f"pieces of {got} of the {total} frames the first one announced")

    def _run(self, first: Audio, total: int) -> None:
        head = StreamedAudio.describe(first.sample_rate, first.channels, total, node=self.source[0])
        stream: Any = Stream(head, self._blocks(first.channels, first.sample_rate, total))
        try:
            for nid, inport, spec in self.stages:
                ctx = Context(nid, emit=lambda *a, **k: None, base_dir=self.graph.base_dir(), graph=self.graph)
                stream = spec.stream({inport: stream}, _params(self.graph, spec, nid), ctx)     # type: ignore[misc]
                if not isinstance(stream, Stream):
                    raise TypeError(f"{spec.id}'s streaming form returned {type(stream).__name__}")
            h = stream.head
            for b in stream.blocks:
                if self._stop.is_set():
                    return
                self.put(Audio(np.array(b, np.float32), h.sample_rate, start_frame=h.start_frame + self.sent))
                self.sent += b.shape[1]
        except Exception as e:  # noqa: BLE001 - the run's own output follows from where it stopped
            self.failed = e
            log.info("handing %s's pieces on through %s stopped: %s", self.source[0],
                     " -> ".join(n for n, _, _ in self.stages), e)
        finally:
            self._stop.set()


class Tally:
    """What a stream handed on of an audio output, held against the node's output once the run has
    made it (QA77 D1: a node that handed on pieces other than what it returned streamed wrong audio
    without a word; the pieces must concatenate to the output, ``ctx.chunk``).  A digest per piece
    where ``exact`` (a node's own pieces; the samples are not kept), else their lengths only (the
    blocks of the engine's own streaming forms, whose output is kept as a description only: digests
    of an hour's stream cost seconds and compare with nothing)."""

    def __init__(self, exact: bool = True) -> None:
        self.exact = exact
        self.frames = 0
        self.parts: list[tuple[int, int, str | None]] = []       # (frame in the output, frames, digest)

    def add(self, piece: Any) -> None:
        if isinstance(piece, Audio) and not isinstance(piece, StreamedAudio):
            self.parts.append((self.frames, piece.frames, _samples_digest(piece.samples) if self.exact else None))
            self.frames += piece.frames

    def problem(self, whole: Any, *, complete: bool) -> str | None:
        """How the pieces differ from ``whole`` (None: they are its first frames, all of them when
        ``complete``); a list's items or a value without samples are not looked at."""
        if not self.parts or not isinstance(whole, Audio):
            return None
        if complete and self.frames != whole.frames or self.frames > whole.frames:
            return f"its pieces held {self.frames} frames, its output {whole.frames}"
        if isinstance(whole, StreamedAudio):
            return None
        for start, n, digest in self.parts:
            if digest is not None and _samples_digest(whole.samples[:, start:start + n]) != digest:
                return f"the piece at frame {start} ({n} frames) is not those frames of its output"
        return None


def after(sent: int, whole: Any, pieces: list[Any]) -> Iterator[Any]:
    """The frames of ``target``'s output from ``sent`` on, from the whole value or from the run's
    own pieces of it (a chain that streamed hands on pieces and keeps only a description)."""
    if not isinstance(whole, StreamedAudio):
        yield whole.replace(whole.samples[:, sent:], start_frame=whole.start_frame + sent)
        return
    for p in pieces:
        end = p.start_frame - whole.start_frame + p.frames
        if end > sent:
            cut = max(sent - (p.start_frame - whole.start_frame), 0)
            yield p.replace(p.samples[:, cut:], start_frame=p.start_frame + cut) if cut else p


def unlike(target: str, relay: Relay | None, bad: str) -> ExecutionError:
    """The error of a stream whose pieces are not the output it streamed (a node's pieces, or those of
    the model a relay handed on, that do not make what it returned)."""
    nid = relay.source[0] if relay is not None and relay.active else target
    via = f" (streamed through {' -> '.join(n for n, _, _ in relay.stages)})" if nid != target and relay else ""
    return ExecutionError(nid, f"the pieces it handed on are not its output{via}: {bad}; what was streamed is "
                               "wrong (a node's pieces, ctx.chunk, must concatenate to the value it returns, and "
                               "total_frames must be its length)")


def stream_pieces(executor: Any, graph: Graph, target: str, port: str | None = None, **kw: Any) -> Iterator[Any]:
    """:meth:`Executor.stream <nodeflow.executor.Executor.stream>`: the run of what ``target`` needs on
    ``executor`` in the background, its output ``port``'s pieces yielded as they come (through a
    :class:`Relay` where a model's pieces can go on through the block nodes after it)."""
    spec = graph.spec(target) if target in graph.nodes else None
    if spec is None:
        raise GraphError(f"stream: {graph.no_node(target)}" if target not in graph.nodes
                         else f"stream: node '{target}' has an unknown type")
    port = port or next(iter(spec.outputs))
    if port not in spec.outputs:
        raise GraphError(f"stream: node '{target}' has no output '{port}'; outputs are: {', '.join(spec.outputs)}")
    pieces: queue.Queue[Any] = queue.Queue(maxsize=STREAM_PIECES)   # the run waits for a slow reader
    closed = threading.Event()
    listener = kw.pop("on_event", None)

    def put(piece: Any) -> None:
        while not closed.is_set():
            try:
                pieces.put(piece, timeout=0.05)
                return
            except queue.Full:
                continue

    # a model's pieces through the block nodes after it, while it generates (nodeflow.relay)
    relay = Relay.plan(graph, target, port, put)
    later: list[Any] = []           # the run's own pieces of target while the relay hands them on

    def on_event(ev: Event) -> None:
        if relay is not None:
            relay.on_event(ev)
        if ev.kind == "chunk" and ev.node_id == target and ev.value is not None and port in ev.value:
            if relay is not None and relay.active:
                later.append(ev.value[port])
            else:
                put(ev.value[port])
        if listener is not None:
            listener(ev)

    kept = kw.get("keep", ())
    if relay is not None and kept != "all" and isinstance(kept, (str, list, tuple, set)):
        kw["keep"] = [*([kept] if isinstance(kept, str) else kept), relay.source[0]]   # (the model's output:
        # its pieces are held against it; a keep run() refuses is left to it to refuse)
    handle = executor.submit(graph, [target], on_event=on_event, pieces_of=target, **kw)
    # the pieces, held against the output once made: to the bit where the node or a relay makes them (QA93 D3)
    tally, streamed = Tally(exact=relay is not None or spec.stream is None), False
    try:
        while True:
            try:
                piece = pieces.get(timeout=0.02)
            except queue.Empty:
                if handle.done() and pieces.empty() and (relay is None or relay.finished()):
                    break
                continue
            tally.add(piece)
            streamed = True
            yield piece
        result = handle.result()
        whole = result[target][port]
        early = relay is not None and relay.active and isinstance(whole, Audio) and relay.sent < whole.frames
        bad = tally.problem(whole, complete=not early)
        if relay is not None and relay.active:
            made = result.outputs.get(relay.source[0], {}).get(relay.source[1])
            bad = relay.tally.problem(made, complete=relay.failed is None) or (
                bad and relay.length_problem(made)) or bad
        if bad is not None:
            raise unlike(target, relay, bad)
        if early:
            yield from after(relay.sent, whole, later)       # type: ignore[union-attr]  # the rest
        elif not streamed:               # made at once or cached: a list's items, else the value
            yield from (whole if isinstance(whole, list) else [whole])
    finally:
        closed.set()
        if relay is not None:
            relay.close()
        if not handle.done():
            handle.cancel()
            with contextlib.suppress(BaseException):
                handle.result(60)
