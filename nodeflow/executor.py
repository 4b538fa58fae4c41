"""Runs a graph: topological scheduling, a thread pool for independent branches, the content
cache, events, targeted runs, cancellation and errors that name the node.

>>> ex = Executor()
>>> res = ex.run(graph)                       # doctest: +SKIP
>>> res["export"]["out"], res.ran, res.cached  # doctest: +SKIP

Events are the only way callers learn what happens: ``on_event(Event)`` is called (from worker
threads) for every node: ``queued``, ``started``, ``progress``, ``cached``, ``finished``,
``failed``, ``cancelled``.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import logging
import os
import queue
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from . import streaming
from .cache import MemoryCache, file_digest, node_key, sizeof
from .diskcache import DiskCache, default_cache, worth_keeping
from .errors import Cancelled, ExecutionError, ExportsFailed, GraphError, NodeflowError
from .graph import Graph
from .node import Context, NodeSpec
from .threads import limit_blas_threads

__all__ = ["Executor", "Event", "RunResult", "RunHandle", "run"]

log = logging.getLogger(__name__)

# how a run reports events: emit(kind, node_id, **Event fields)
Emit = Callable[..., None]


@dataclasses.dataclass(frozen=True)
class Event:
    kind: str                 # queued | started | progress | chunk | cached | finished | failed | cancelled
    node_id: str
    done: float | None = None
    total: float | None = None
    message: str = ""
    error: BaseException | None = None
    elapsed_s: float | None = None
    value: dict[str, Any] | None = None   # chunk: {output: piece}, a part of the node's outputs made so far


class RunResult(Mapping[str, dict[str, Any]]):
    """Outputs by node id (``res[node]["out"]``) plus what ran and what came from the cache.

    A read-only mapping like any other: ``dict(res)``, ``res.keys()``, ``res.items()``.  The nodes'
    content keys (what the cache is indexed by) are ``res.cache_keys``.
    """

    def __init__(self, outputs: dict[str, dict[str, Any]], ran: set[str], cached: set[str],
                 cache_keys: dict[str, str], elapsed_s: float):
        self.outputs, self.ran, self.cached, self.elapsed_s = outputs, ran, cached, elapsed_s
        self.cache_keys = cache_keys

    def __getitem__(self, node_id: str) -> dict[str, Any]:
        return self.outputs[node_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self.outputs)

    def __len__(self) -> int:
        return len(self.outputs)

    def __repr__(self) -> str:
        return f"<RunResult {len(self.outputs)} nodes, ran {sorted(self.ran)}, cached {sorted(self.cached)}>"


class RunHandle:
    """A run in a background thread: ``cancel()``, ``done()``, ``result(timeout)``."""

    def __init__(self, cancel_event: threading.Event):
        self._cancel = cancel_event
        self._future: cf.Future[RunResult] = cf.Future()

    def cancel(self) -> None:
        self._cancel.set()

    def done(self) -> bool:
        return self._future.done()

    def result(self, timeout: float | None = None) -> RunResult:
        return self._future.result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        return self._future.exception(timeout)


@dataclasses.dataclass
class _Plan:
    order: list[str]
    keys: dict[str, str]
    to_run: list[str]
    values: dict[str, dict[str, Any]]
    inputs: dict[str, list[tuple[str, str, str, str | None]]]   # node -> [(dst_port, src, src_port, mode)]
    protected: frozenset[Path]
    specs: dict[str, NodeSpec]                            # node -> its type, looked up once per run
    structure: "_Structure"


@dataclasses.dataclass
class _Structure:
    """The part of a run's plan that depends only on the graph's content (see ``Graph.derived``)."""
    order: list[str]
    wanted_set: set[str]
    specs: dict[str, NodeSpec]
    inputs: dict[str, list[tuple[str, str, str, str | None]]]
    consumers: dict[str, list[str]]
    ups: dict[str, list[tuple[str, str, str]]]             # node -> [(dst_port, src, src_port)]
    plain: dict[str, dict[str, Any]]                       # node -> parameters as plain values (for keys)
    ends: set[str]                                         # leaves and side-effect nodes
    leaves: set[str]
    exported: set[str]                                     # side-effect nodes and the nodes feeding them
    fingerprinted: list[str]
    keys_memo: dict[Any, dict[str, str]]

    @classmethod
    def of(cls, graph: Graph, targets: list[str] | None) -> "_Structure":
        needed = graph.required_for(targets) if targets else set(graph.nodes)
        order = [n for n in graph.run_order() if n in needed]
        types = graph.output_types()
        specs = {n: graph.registry[graph.nodes[n].type] for n in order}
        inputs: dict[str, list[tuple[str, str, str, str | None]]] = {n: [] for n in order}
        consumers: dict[str, list[str]] = {n: [] for n in order}
        ups: dict[str, list[tuple[str, str, str]]] = {n: [] for n in order}
        for l in graph.links:
            if l.dst in inputs:
                mode = graph._mode(l, specs[l.dst], types)
                inputs[l.dst].append((l.dst_port, l.src, l.src_port, mode))
                ups[l.dst].append((l.dst_port, l.src, l.src_port))
                consumers[l.src].append(l.dst)
        plain = {}
        for n in order:
            sp = specs[n].params
            plain[n] = {k: sp[k].to_plain(v) for k, v in graph.nodes[n].params.items() if k in sp}
        feeds = {l.src for l in graph.links}
        leaves = {n for n in order if n not in feeds}
        sinks = {n for n in order if specs[n].side_effect}
        exported = sinks | {src for n in sinks for (_, src, _, _) in inputs[n]}
        return cls(order, set(order), specs, inputs, consumers, ups, plain, leaves | sinks, leaves, exported,
                   [n for n in order if specs[n].fingerprint], {})


class _Claim:
    """A key some run is computing: ``done`` is set when it finished (``outputs`` None: it failed)."""
    __slots__ = ("done", "outputs")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.outputs: dict[str, Any] | None = None


class Executor:
    """Runs graphs against one output cache (so later runs reuse earlier work).

    ``max_workers`` bounds concurrently running nodes (default: the CPU count).
    ``disk_cache``: the on-disk store behind the memory cache (see :mod:`nodeflow.diskcache`),
    shared by every process on the machine; by default the user's cache folder unless
    ``AUDIOCHAIN_CACHE=off``; None: this executor remembers only in memory.
    ``stream``: run chains of streaming nodes (load -> resample -> export...) block by block, their
    intermediate values never made whole (see :mod:`nodeflow.streaming`): None (default) when a value
    would take ``STREAM_MIN_BYTES`` (256 MiB) or more than the cache's budget, True whenever the
    nodes can, False never.
    """

    def __init__(self, cache: MemoryCache | None = None, *, max_workers: int | None = None,
                 cache_bytes: int = 2 << 30, disk_cache: DiskCache | None | str = "default",
                 stream: bool | None = None):
        self.cache = cache if cache is not None else MemoryCache(cache_bytes)
        self.disk_cache: DiskCache | None = default_cache() if isinstance(disk_cache, str) else disk_cache
        self.max_workers = max_workers or max(2, os.cpu_count() or 2)
        self.fuse_streams = stream        # (the method stream() yields a node's output piece by piece)
        self._pool: cf.ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._claims: dict[str, _Claim] = {}     # keys being computed now, by any run on this executor
        self._claims_lock = threading.Lock()

    def _get_pool(self) -> cf.ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = cf.ThreadPoolExecutor(self.max_workers, thread_name_prefix="nodeflow")
            return self._pool

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None

    # ------------------------------------------------------------------ planning
    def keys(self, graph: Graph, *, base_dir: str | os.PathLike[str] | None = None,
             device: str = "auto") -> dict[str, str]:
        """The content key of every node (what the cache is indexed by) for a run on ``device``."""
        return dict(self._keys(graph, self._structure(graph, None), self._ctx_base(base_dir, graph), device))

    @staticmethod
    def _ctx_base(base_dir: str | os.PathLike[str] | None, graph: Graph) -> Path:
        if base_dir is not None:
            return Path(base_dir)
        return graph.base_dir()

    @staticmethod
    def _structure(graph: Graph, targets: list[str] | None) -> "_Structure":
        """What a run of ``targets`` needs from the graph's content alone, remembered per content version."""
        key = None if not targets else tuple(targets)
        return graph.derived("executor.structure", key, lambda: _Structure.of(graph, targets))

    @staticmethod
    def _keys(graph: Graph, st: "_Structure", base: Path, device: str = "auto") -> dict[str, str]:
        """Content keys of the nodes in ``st.order``: computed once per content, input file state,
        device and model fingerprints (the parts that can change between runs are checked each time)."""
        files_of: dict[str, dict[str, str]] = {}
        for (n, name), path in graph.input_files(base).items():
            if n in st.wanted_set:
                files_of.setdefault(n, {})[name] = file_digest(path)
        fps: dict[str, Any] = {}
        if st.fingerprinted:   # fingerprints see the run's device (--device); a probe is made only then
            probe = Context(base_dir=base, device=device, graph=graph)
            for nid in st.fingerprinted:
                fingerprint = st.specs[nid].fingerprint
                if fingerprint is not None:     # always: fingerprinted lists the nodes that have one
                    fps[nid] = fingerprint(st.plain[nid], probe)
        memo_key = (str(base), device, repr(sorted(files_of.items())), repr(sorted(fps.items())))
        keys = st.keys_memo.get(memo_key)
        if keys is None:
            keys = {}
            no_files: dict[str, str] = {}
            for nid in st.order:
                spec = st.specs[nid]
                ups = sorted([(port, keys[src], src_port) for (port, src, src_port) in st.ups[nid]])
                keys[nid] = node_key(spec.id, spec.version, st.plain[nid], files_of.get(nid, no_files),
                                     fps.get(nid), ups)
            if len(st.keys_memo) >= 8:
                st.keys_memo.pop(next(iter(st.keys_memo)))
            st.keys_memo[memo_key] = keys
        return keys

    def _plan(self, graph: Graph, targets: list[str] | None, base: Path, device: str = "auto",
              keep: Iterable[str] | str = "all") -> _Plan:
        st = self._structure(graph, targets)
        order, specs, consumers = st.order, st.specs, st.consumers
        keys = self._keys(graph, st, base, device)
        if targets:
            want = set(targets)
        elif keep == "all":
            want = st.wanted_set
        else:   # what the result returns: leaves, exports, kept nodes; upstream of a cached one need not run
            want = st.ends | (set(keep) & st.wanted_set)
        to_run: set[str] = set()
        values: dict[str, dict[str, Any]] = {}
        for nid in reversed(order):  # a node is needed if it is wanted or feeds a node that runs
            if nid not in want and to_run.isdisjoint(consumers[nid]):
                continue
            hit = None if specs[nid].side_effect else self._lookup(keys[nid])
            if hit is not None:
                values[nid] = hit   # pinned for this run even if evicted meanwhile
            else:
                to_run.add(nid)
        protected = {p.resolve() for p in graph.input_files(base).values()}
        return _Plan(order, dict(keys), [n for n in order if n in to_run], values, st.inputs, frozenset(protected), specs,
                     st)

    def _lookup(self, key: str) -> dict[str, Any] | None:
        """Outputs under ``key`` from memory, else from disk (then kept in memory too)."""
        hit = self.cache.get(key)
        if hit is None and self.disk_cache is not None:
            try:
                hit = self.disk_cache.get(key)
            except Exception:  # noqa: BLE001 - a broken cache is a miss, never a failed run
                log.exception("value cache read failed for %s", key)
                hit = None
            if hit is not None:
                self.cache.put(key, hit)
        return hit

    def _persist(self, spec: NodeSpec, key: str, outputs: dict[str, Any], elapsed_s: float) -> None:
        """Write ``outputs`` to the disk cache when :func:`worth_keeping` says so; failures only log."""
        if self.disk_cache is None or not worth_keeping(spec, elapsed_s, sizeof(outputs)):
            return
        try:
            self.disk_cache.put(key, outputs, node=spec.id)
        except Exception as e:  # noqa: BLE001 - a full disk must not fail the run
            self.disk_cache.stats.write_errors += 1
            log.warning("value cache: could not store %s (%s): %s", spec.id, key, e)

    # ------------------------------------------------------------------ running
    def run(self, graph: Graph, targets: Iterable[str] | None = None, *,
            base_dir: str | os.PathLike[str] | None = None, output_dir: str | os.PathLike[str] | None = None,
            device: str = "auto", on_event: Callable[[Event], None] | None = None,
            cancel_event: threading.Event | None = None, allow_outside: Iterable[Any] = (),
            keep: Iterable[str] | str = (), on_output: Callable[[str, dict[str, Any]], None] | None = None,
            inputs: Any = None) -> RunResult:
        """Run ``graph`` (or only what ``targets`` need) and return the outputs asked for.

        The result holds the outputs of ``targets`` (default: the graph's leaves), of side-effect
        nodes (exports: the paths they wrote) and of the nodes feeding them (what an export wrote,
        which DAWproject clips place), plus any node listed in ``keep`` (``keep="all"``: every
        node).  Any other value is released as soon as its last consumer in the run has finished,
        so a long chain holds a few values at a time, not all of them; the executor's cache keeps
        its own reference within its byte budget.  A chain of streaming nodes whose values nobody
        else needs runs block by block (:mod:`nodeflow.streaming`): its inner values are never made
        whole nor cached, and one that fed an export comes back as a
        :class:`~nodeflow.audio.StreamedAudio` (no samples).  ``on_output(node_id, outputs)`` sees every
        node's outputs (computed or from the cache) before they may be released.

        ``inputs`` feeds values held in memory into the graph's open inputs (input ports no link
        feeds): one value for the one required open input, or ``{"node.port": value}``; a value is an
        :class:`Audio`, a ``(numpy array, rate)`` pair, a file path or text (see
        :func:`nodeflow.chain.bind`); the graph itself is not changed.

        Files are written only inside ``output_dir`` (default: the graph's folder) unless the user
        set the path or it lies under a folder in ``allow_outside`` (see :mod:`nodeflow.outputs`).

        Raises :class:`GraphError` listing every problem before anything runs,
        :class:`ExecutionError` naming the failing node (its cause kept as ``__cause__``; results
        computed so far stay cached) or :class:`Cancelled`.  A failing export (a side-effect node)
        does not stop the run: every other node still runs, and the run then raises
        :class:`ExportsFailed` listing each failed export, with the results of the rest.
        """
        t0 = time.perf_counter()
        limit_blas_threads()      # nodes run side by side; BLAS threads would fight them (nodeflow.threads)
        if inputs is not None:    # values held in memory feed the graph's open inputs (nodeflow.chain.bind)
            from .chain import bind
            path, graph = graph.path, bind(graph, inputs, what="run(inputs=...)")
            graph.path = path
        targets = list(targets) if targets is not None else None
        base = self._ctx_base(base_dir, graph)
        out_dir = Path(output_dir) if output_dir is not None else base
        allow_outside = tuple(allow_outside)
        with graph.pinned():    # the content is compared once; validation and planning reuse what it derived
            graph.check(targets, base_dir=base, output_dir=out_dir, allow_outside=allow_outside, device=device)
            plan = self._plan(graph, targets, base, device, keep)
        cancel = cancel_event or threading.Event()
        emit_lock = threading.Lock()

        if on_event is None:
            emit = _no_listener
        else:
            listener = on_event

            def emit(kind: str, node_id: str, **kw: Any) -> None:
                try:
                    with emit_lock:
                        listener(Event(kind, node_id, **kw))
                except Exception:  # a broken listener must not break the run
                    log.exception("event listener failed on %s %s", kind, node_id)

        cached = {n for n in plan.order if n in plan.values}
        for n in plan.order:
            if n in cached:
                emit("cached", n)
        for n in plan.to_run:
            emit("queued", n)

        values = plan.values
        specs, keys = plan.specs, plan.keys
        kept = self._kept(graph, plan, targets, keep)
        # chains of streaming nodes run as one unit, named by their last node (nodeflow.streaming)
        fused = streaming.plan_segments(plan, kept, targets, keep) if self.fuse_streams is not False else {}
        stream_min = 0 if self.fuse_streams else min(streaming.STREAM_MIN_BYTES, self.cache.budget_bytes)
        inner = {n for seg in fused.values() for n in seg[:-1]}
        units = [n for n in plan.to_run if n not in inner] if inner else plan.to_run
        inputs_of = {last: plan.inputs[seg[0]] for last, seg in fused.items()}
        uses: dict[str, int] = {}            # links from a value into nodes that have yet to finish
        for n in units:
            for (_, src, _, _) in inputs_of.get(n) or plan.inputs[n]:
                uses[src] = uses.get(src, 0) + 1
        for n in list(values):               # cache hits: seen, then dropped unless something takes them
            if on_output is not None:
                on_output(n, values[n])
            if kept is not None and n not in kept and not uses.get(n):
                del values[n]
        dependents: dict[str, list[str]] = {n: [] for n in units}   # only nodes that run
        remaining = dict.fromkeys(units, 0)
        for n in units:
            for (_, src, _, _) in inputs_of.get(n) or plan.inputs[n]:
                if src in dependents:
                    dependents[src].append(n)
                    remaining[n] += 1
        ready = [n for n in units if remaining[n] == 0]
        in_flight: dict[cf.Future[tuple[dict[str, Any], bool]], str] = {}
        failure: BaseException | None = None
        failed_sinks: list[ExecutionError] = []      # exports that failed; the run goes on without them
        ran: set[str] = set()

        def failed(nid: str, e: BaseException) -> BaseException | None:
            """The error that stops the run, or None when ``nid`` is an export that may fail alone."""
            nid = getattr(e, "node_id", nid) if nid in fused else nid    # which node of a fused chain
            if specs[nid].side_effect and isinstance(e, ExecutionError) and not cancel.is_set():
                failed_sinks.append(e)
                return None
            return e

        ctx_kw = dict(emit=emit, cancel_event=cancel, base_dir=base, output_dir=out_dir, graph=graph,
                      protected_files=plan.protected, device=device, allow_outside=allow_outside)

        def execute(nid: str) -> tuple[dict[str, Any], bool]:
            if nid in fused:
                outs, took = streaming.run_segment(graph, fused[nid], plan, values, emit, cancel, ctx_kw, Context,
                                                   min_bytes=stream_min)
                for n, seconds in took.items():     # values computed whole: the disk cache's policy
                    if not specs[n].side_effect:
                        self._persist(specs[n], keys[n], outs[n], seconds)
                return outs, False
            if not specs[nid].side_effect:   # an identical node may have finished meanwhile
                hit = self.cache.get(keys[nid])
                if hit is not None:
                    emit("cached", nid)
                    return hit, True
            def run_node() -> dict[str, Any]:
                return self._execute(graph, nid, plan, values, emit, cancel, ctx_kw, workers=self.max_workers)

            if specs[nid].side_effect:
                return run_node(), False
            return self._compute_once(keys[nid], nid, specs[nid], emit, cancel, run_node)

        def finish(nid: str, result: tuple[dict[str, Any], bool]) -> None:
            outputs, from_cache = result
            if nid in fused:                 # a streamed chain: its inner nodes ran, their values were streamed
                for n in fused[nid][:-1]:
                    ran.add(n)
                    if streaming.is_whole(outputs[n]):      # the chain ran node by node (short audio)
                        self.cache.put(keys[n], outputs[n])
                    if on_output is not None:
                        on_output(n, outputs[n])
                    if kept is None or n in kept:   # a value that fed an export: its description (StreamedAudio)
                        values[n] = outputs[n]
                outputs = outputs[nid]
            values[nid] = outputs
            (cached if from_cache else ran).add(nid)
            if not from_cache and not specs[nid].side_effect:
                self.cache.put(keys[nid], outputs)
            if on_output is not None:
                on_output(nid, outputs)
            if kept is not None:             # release what no node still to finish needs
                for (_, src, _, _) in inputs_of.get(nid) or plan.inputs[nid]:
                    uses[src] -= 1
                    if not uses[src] and src not in kept:
                        values.pop(src, None)
                if nid not in kept and not uses.get(nid):
                    values.pop(nid, None)
            for d in dependents[nid]:
                remaining[d] -= 1
                if remaining[d] == 0:
                    ready.append(d)

        while (ready or in_flight) and failure is None:
            if cancel.is_set():
                failure = Cancelled("run cancelled")
                break
            if ready and not in_flight and len(ready) == 1:
                nid = ready.pop()      # a lone ready node runs inline: no pool hop on chains
                try:
                    finish(nid, execute(nid))
                except BaseException as e:  # noqa: BLE001 - re-raised below after cleanup
                    failure = failed(nid, e)
                continue
            pool = self._get_pool()
            while ready and len(in_flight) < self.max_workers:
                nid = ready.pop(0)
                in_flight[pool.submit(execute, nid)] = nid
            done, _ = cf.wait(list(in_flight), return_when=cf.FIRST_COMPLETED)
            for fut in done:
                nid = in_flight.pop(fut)
                try:
                    finish(nid, fut.result())
                except BaseException as e:  # noqa: BLE001
                    failure = failure or failed(nid, e)
            del done, fut                    # a finished future holds its outputs: let released ones go
        if failure is None and cancel.is_set():   # the last node finished after Stop: still cancelled
            failure = Cancelled("run cancelled")
        if failure is not None:
            if in_flight:  # let running nodes finish (their results stay cached), start nothing new
                for fut in cf.as_completed(list(in_flight)):
                    nid = in_flight[fut]
                    if fut.exception() is None:
                        finish(nid, fut.result())
            if isinstance(failure, Cancelled):    # what finished before Stop (the CLI lists it)
                failure.result = RunResult({n: values[n] for n in plan.order if n in values}, ran, cached,
                                           plan.keys, time.perf_counter() - t0)
            raise failure
        outputs = {n: values[n] for n in plan.order if n in values}
        result = RunResult(outputs, ran, cached, plan.keys, time.perf_counter() - t0)
        if failed_sinks:
            raise ExportsFailed(failed_sinks, result)
        return result

    @staticmethod
    def _kept(graph: Graph, plan: _Plan, targets: list[str] | None, keep: Iterable[str] | str) -> set[str] | None:
        """Nodes whose outputs the result returns (None: all of them, nothing is released)."""
        if isinstance(keep, str):
            if keep != "all":
                raise ValueError(f"keep={keep!r}: pass node ids or 'all'")
            return None
        kept = set(keep)
        kept.update(targets if targets else plan.structure.leaves)
        kept.update(plan.structure.exported)
        return kept

    def _compute_once(self, key: str, nid: str, spec: NodeSpec, emit: Emit, cancel: threading.Event,
                      compute: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
        """``compute()`` the outputs under ``key``, unless another run on this executor (a sweep's
        variant, an editor run) is computing the same key now: then wait for its outputs and report
        the node as cached.  Concurrent variants that share upstream work compute it once."""
        while True:
            with self._claims_lock:
                claim = self._claims.get(key)
                owner = claim is None
                if claim is None:
                    claim = self._claims[key] = _Claim()
            if owner:
                break
            while not claim.done.wait(0.05):
                if cancel.is_set():
                    emit("cancelled", nid)
                    raise Cancelled(f"node '{nid}' cancelled")
            if claim.outputs is not None:
                emit("cached", nid)
                return claim.outputs, True
            # the other run failed or was cancelled: its error is its own; compute it here
        try:
            t0 = time.perf_counter()
            outputs = compute()
            self._persist(spec, key, outputs, time.perf_counter() - t0)
            claim.outputs = outputs
            return outputs, False
        finally:
            with self._claims_lock:
                self._claims.pop(key, None)
            claim.done.set()

    def stream(self, graph: Graph, target: str, port: str | None = None, **kw: Any) -> Iterator[Any]:
        """Run what ``target`` needs in the background and yield its output ``port`` (default: its
        first output) piece by piece as the node makes it: a list item of a mapped node, a window
        of a model that reports chunks (``ctx.chunk``).  The pieces are the node's output in
        order: a list's items (also when the list is made at once or comes from the cache), an
        audio node's consecutive parts, which concatenate to it (made at once or cached: the whole,
        once).  Errors are raised here; closing the generator early stops the run.  Keywords as
        :meth:`run`.
        """
        spec = graph.spec(target) if target in graph.nodes else None
        if spec is None:
            raise GraphError(f"stream: no node named '{target}' in the graph" if target not in graph.nodes
                             else f"stream: node '{target}' has an unknown type")
        port = port or next(iter(spec.outputs))
        if port not in spec.outputs:
            raise GraphError(f"stream: node '{target}' has no output '{port}'; outputs are: {', '.join(spec.outputs)}")
        pieces: queue.Queue[Any] = queue.Queue()
        listener = kw.pop("on_event", None)

        def on_event(ev: Event) -> None:
            if ev.kind == "chunk" and ev.node_id == target and ev.value is not None and port in ev.value:
                pieces.put(ev.value[port])
            if listener is not None:
                listener(ev)

        handle = self.submit(graph, [target], on_event=on_event, **kw)
        streamed = False
        try:
            while True:
                try:
                    piece = pieces.get(timeout=0.02)
                except queue.Empty:
                    if handle.done() and pieces.empty():
                        break
                    continue
                streamed = True
                yield piece
            result = handle.result()
            if not streamed:                 # made at once or cached: a list's items, else the value
                whole = result[target][port]
                yield from (whole if isinstance(whole, list) else [whole])
        finally:
            if not handle.done():
                handle.cancel()
                with contextlib.suppress(BaseException):
                    handle.result(60)

    def submit(self, graph: Graph, targets: Iterable[str] | None = None, **kw: Any) -> RunHandle:
        """Start :meth:`run` on a background thread; the handle cancels and collects it."""
        cancel = kw.pop("cancel_event", None) or threading.Event()
        handle = RunHandle(cancel)

        def body() -> None:
            try:
                handle._future.set_result(self.run(graph, targets, cancel_event=cancel, **kw))
            except BaseException as e:  # noqa: BLE001 - delivered through the handle
                handle._future.set_exception(e)

        handle._future.set_running_or_notify_cancel()
        threading.Thread(target=body, name="nodeflow-run", daemon=True).start()
        return handle

    @staticmethod
    def _execute(graph: Graph, nid: str, plan: _Plan, values: dict[str, dict[str, Any]], emit: Emit,
                 cancel: threading.Event, ctx_kw: dict[str, Any], workers: int = 1) -> dict[str, Any]:
        spec = plan.specs[nid]
        if cancel.is_set():
            emit("cancelled", nid)
            raise Cancelled(f"node '{nid}' cancelled")
        emit("started", nid)
        t0 = time.perf_counter()
        wants_ctx = spec.wants_ctx or spec.process   # a Context only for nodes that declare one (or run in a worker: Stop)
        try:
            args: dict[str, Any] = {}
            mapped: dict[str, list[Any]] = {}
            for (port, src, src_port, mode) in plan.inputs[nid]:
                v = values[src][src_port]
                if mode == "map":
                    mapped[port] = list(v)
                elif mode == "wrap":
                    args[port] = [v]
                else:
                    args[port] = v
            params = dict(graph.nodes[nid].params)
            if not mapped:
                outputs = spec.call(args, params, Context(nid, **ctx_kw) if wants_ctx else None)
            else:
                lengths = {p: len(v) for p, v in mapped.items()}
                if len(set(lengths.values())) > 1:
                    raise ExecutionError(nid, "lists of different lengths feed one node: " +
                                         ", ".join(f"{p}={n}" for p, n in lengths.items()))
                outputs = _map_items(spec, nid, args, mapped, params, ctx_kw if wants_ctx else None,
                                     emit, cancel, workers)
        except Cancelled as e:
            emit("cancelled", nid)
            raise e
        except ExecutionError as e:
            emit("failed", nid, error=e, message=str(e))
            raise
        except NodeflowError as e:
            err = ExecutionError(nid, str(e))
            err.__cause__ = e                # listeners (a trace) see the cause and its traceback
            emit("failed", nid, error=err, message=str(err))
            raise err from e
        except Exception as e:
            err = ExecutionError(nid, f"{spec.id} failed: {type(e).__name__}: {e}")
            err.__cause__ = e
            emit("failed", nid, error=err, message=str(err))
            raise err from e
        emit("finished", nid, elapsed_s=time.perf_counter() - t0)
        return outputs


def _map_items(spec: NodeSpec, nid: str, args: dict[str, Any], mapped: dict[str, list[Any]],
               params: dict[str, Any], ctx_kw: dict[str, Any] | None, emit: Emit, cancel: threading.Event,
               workers: int) -> dict[str, list[Any]]:
    """Call ``spec`` once per list item, up to ``workers`` items at a time (numpy, soxr, worker
    processes and model nodes on other devices release the GIL; a model locks itself per model and
    device).  Outputs keep the items' order; ``progress`` counts finished items and a ``chunk``
    event hands each item's outputs on in item order (what :meth:`Executor.stream` yields); the
    first error (in item order) stops the node and no new item starts; Stop starts no new item."""
    n = len(next(iter(mapped.values())))
    results: list[dict[str, Any] | None] = [None] * n
    if spec.batch_fn is not None and n > 1:      # the node computes its items together (one generate)
        if cancel.is_set():
            raise Cancelled(f"node '{nid}' cancelled")
        items = [{**args, **{p: v[i] for p, v in mapped.items()}} for i in range(n)]
        outs = spec.batch_fn(items, params, Context(nid, **ctx_kw) if ctx_kw is not None else Context(nid))
        if len(outs) != n:
            raise ExecutionError(nid, f"{spec.id} batch gave {len(outs)} results for {n} items")
        for i, res in enumerate(outs):
            results[i] = res
            emit("chunk", nid, value=res, done=i + 1, total=n)
        emit("progress", nid, done=n, total=n)
        return {name: [res[name] for res in outs] for name in spec.outputs}

    def one(i: int) -> dict[str, Any]:
        if cancel.is_set():
            raise Cancelled(f"node '{nid}' cancelled")
        item_args = dict(args)
        item_args.update({p: v[i] for p, v in mapped.items()})
        return spec.call(item_args, params, Context(nid, item=(i, n), **ctx_kw) if ctx_kw is not None else None)

    workers = max(1, min(workers, n))
    if workers == 1:
        for i in range(n):
            results[i] = one(i)
            emit("progress", nid, done=i + 1, total=n)
            emit("chunk", nid, value=results[i], done=i + 1, total=n)
    else:
        failed = threading.Event()
        order_lock, sent = threading.Lock(), [0]

        def stream_ready() -> None:       # chunks leave in item order, as soon as the next item is done
            with order_lock:
                while sent[0] < n and results[sent[0]] is not None:
                    emit("chunk", nid, value=results[sent[0]], done=sent[0] + 1, total=n)
                    sent[0] += 1

        def guarded(i: int) -> dict[str, Any] | None:
            if failed.is_set():
                return None          # an earlier item failed: start nothing new
            try:
                results[i] = one(i)
            except BaseException:
                failed.set()
                raise
            stream_ready()
            return results[i]

        with cf.ThreadPoolExecutor(workers, thread_name_prefix=f"nodeflow-{nid}") as pool:
            futures = [pool.submit(guarded, i) for i in range(n)]
            done = 0
            for fut in cf.as_completed(futures):
                if fut.exception() is None:
                    done += 1
                    emit("progress", nid, done=done, total=n)
            for i, fut in enumerate(futures):      # the first failure in item order is the node's error
                results[i] = fut.result()
    gathered: dict[str, list[Any]] = {name: [] for name in spec.outputs}
    for item in results:
        for name, val in (item or {}).items():
            gathered[name].append(val)
    return gathered


def _no_listener(kind: str, node_id: str, **kw: Any) -> None:
    """``emit`` for a run nobody listens to."""


_default_executor: Executor | None = None


def run(graph: Graph, targets: Iterable[str] | None = None, **kw: Any) -> RunResult:
    """Run a graph with the process-wide executor (its cache persists across calls)."""
    global _default_executor
    if _default_executor is None:
        _default_executor = Executor()
    return _default_executor.run(graph, targets, **kw)


