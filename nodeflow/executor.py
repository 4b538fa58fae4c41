"""Runs a graph: the content cache (in memory, then on disk), targeted runs, background runs,
cancellation and streamed outputs; :class:`Executor` holds the caches and the thread pool across runs.

>>> ex = Executor()
>>> res = ex.run(graph)                       # doctest: +SKIP
>>> res["export"]["out"], res.ran, res.cached  # doctest: +SKIP

A run is planned (:mod:`nodeflow.planning`: content keys, what runs, what the cache holds), then
scheduled (:mod:`nodeflow.scheduler`: a thread pool for independent branches, values released
as soon as nothing needs them), each node called by :mod:`nodeflow.nodecall` (errors that name
the node).  Events are the only way callers learn what happens: ``on_event(Event)`` is called
(from worker threads) for every node: ``queued``, ``started``, ``progress``, ``cached``,
``finished``, ``failed``, ``cancelled`` (:mod:`nodeflow.runtypes`).
"""
from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .cache import MemoryCache, sizeof
from .context import Admission, MemoryRoom
from .diskcache import SAME_AS, DiskCache, default_cache, worth_keeping
from .errors import Cancelled, GraphError, NodeflowError, ParameterError
from .graph import Graph
from .node import NodeSpec
from .planning import content_keys, make_plan, structure
from .relay import stream_pieces
from .runtypes import SAME_INPUTS, Emit, Event, RunHandle, RunResult, Skips, no_listener
from .scheduler import Scheduler
from .threads import limit_blas_threads
from .validation import memory_room

__all__ = ["Executor", "Event", "RunResult", "RunHandle", "run"]

log = logging.getLogger(__name__)


class _Claim:
    """A key some run is computing: ``done`` is set when it finished (``outputs`` None: it failed)."""
    __slots__ = ("done", "outputs", "key")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.outputs: dict[str, Any] | None = None
        self.key = ""           # the content key it computes under


CLAIM_POLL_S = 0.1      # how often a run waiting for another process's value looks again


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
        if max_workers is not None and (isinstance(max_workers, bool) or not isinstance(max_workers, int)
                                        or max_workers < 1):
            raise ParameterError(f"max_workers={max_workers!r}: expected a whole number of at least 1 (or None: the "
                                 "CPU count)")
        self.cache = cache if cache is not None else MemoryCache(cache_bytes)
        self.disk_cache: DiskCache | None = default_cache() if isinstance(disk_cache, str) else disk_cache
        self.max_workers = max_workers or max(2, os.cpu_count() or 2)
        self.fuse_streams = stream        # (the method stream() yields a node's output piece by piece)
        self._pool: cf.ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._claims: dict[str, _Claim] = {}     # keys being computed now, by any run on this executor
        self.warned: dict[str, list[str]] = {}   # what a node said of the value of each content key (ctx.warn)
        self._claims_lock = threading.Lock()
        self._admission = Admission()             # runs side by side on this executor fit the memory limit

    def _get_pool(self) -> cf.ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = cf.ThreadPoolExecutor(self.max_workers, thread_name_prefix="nodeflow")
            return self._pool

    def close(self, wait: bool = True) -> None:
        """Shut the worker pool down: nodes not started are dropped; with ``wait``, until the
        running ones end (without: a caller that already waited as long as it would, e.g. the
        editor quitting)."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=wait, cancel_futures=True)
                self._pool = None

    # ------------------------------------------------------------------ planning
    def keys(self, graph: Graph, *, base_dir: str | os.PathLike[str] | None = None,
             device: str = "auto") -> dict[str, str]:
        """The content key of every node (what the cache is indexed by) for a run on ``device``; an input
        file a run refuses to read (a stranger's graph naming ``~/...``) is not opened to be hashed."""
        from .graphpaths import refused_keys
        base = self._ctx_base(base_dir, graph)
        return dict(content_keys(graph, structure(graph, None), base, device, refused_keys(graph)))

    @staticmethod
    def _ctx_base(base_dir: str | os.PathLike[str] | None, graph: Graph) -> Path:
        if base_dir is not None:
            return Path(base_dir)
        return graph.base_dir()

    # ------------------------------------------------------------------ the value cache
    def _lookup(self, key: str) -> dict[str, Any] | None:
        """Outputs under ``key`` from memory, else from disk (then kept in memory too)."""
        hit = self.cache.get(key)
        if hit is None and self.disk_cache is not None:
            said: list[str] = []
            before: dict[str, list[str]] = {}
            try:
                hit = self.disk_cache.get(key, said, before)
            except Exception:  # noqa: BLE001 - a broken cache is a miss, never a failed run
                log.exception("value cache read failed for %s", key)
                hit = None
            if hit is not None:
                self.cache.put(key, hit)
                if said and not self.warned.get(key):    # said again in this process too (QA: a sweep
                    self.warned[key] = said              # written later showed no warnings)
                for k, messages in before.items():       # and what the nodes before it said (QA41 D4)
                    self.warned.setdefault(k, messages)
        return hit

    def lookup_by_value(self, vkey: str, as_key: str | None = None) -> dict[str, Any] | None:
        """The outputs a node computed from the same input values (its value key ``vkey``, see
        :func:`~nodeflow.planning.value_key`) in an earlier run, from memory or disk; what the node
        warned of then is said again under ``as_key`` (the content key they are taken for)."""
        alias = self._lookup(vkey)
        if alias is None or set(alias) != {SAME_AS} or not isinstance(alias[SAME_AS], str):
            return None
        key = alias[SAME_AS]
        hit = self._lookup(key)
        if hit is not None and as_key is not None and self.warned.get(key):
            self.warned[as_key] = list(self.warned[key])
        return hit

    def remember_by_value(self, vkey: str, key: str, node: str) -> None:
        """Note that the outputs under ``key`` were computed from the input values of ``vkey``: an entry
        of its own (a few bytes), in memory and on disk, so later runs and processes find it."""
        alias = {SAME_AS: key}
        self.cache.put(vkey, alias)
        if self.disk_cache is not None and key in self.disk_cache:
            try:
                self.disk_cache.put(vkey, alias, node=node)
            except Exception:  # noqa: BLE001 - as _persist: a full disk must not fail the run
                log.debug("value cache: could not note %s by value", node, exc_info=True)

    def _persist(self, spec: NodeSpec, key: str, outputs: dict[str, Any], elapsed_s: float,
                 before: dict[str, list[str]] | None = None) -> None:
        """Write ``outputs`` to the disk cache when :func:`worth_keeping` says so (with what the node
        and, ``before``, the nodes feeding it said); failures only log."""
        if self.disk_cache is None or not worth_keeping(spec, elapsed_s, sizeof(outputs)):
            return
        try:
            self.disk_cache.put(key, outputs, node=spec.id, said=self.warned.get(key), before=before)
        except Exception as e:  # noqa: BLE001 - a full disk must not fail the run
            self.disk_cache.stats.write_errors += 1
            if self.disk_cache.stats.write_errors == 1:    # once, not once a node (QA: a line per node)
                log.warning("value cache: could not store %s (%s): %s; values are not kept on disk this run "
                            "(audiochain cache info says why)", spec.id, key, e)

    def _compute_once(self, key: str, nid: str, spec: NodeSpec, emit: Emit, cancel: threading.Event,
                      compute: Callable[[], dict[str, Any]], vkey: str | None = None,
                      before: dict[str, list[str]] | None = None) -> tuple[dict[str, Any], bool]:
        """``compute()`` the outputs under ``key``, unless another run on this executor (a sweep's
        variant, an editor run) is computing the same key now, or the same value key ``vkey`` (the
        same input values, see :func:`~nodeflow.planning.value_key`): then wait for its outputs and
        report the node as cached.  Concurrent variants that share upstream work, or whose inputs
        came out the same, compute it once."""
        names = [key] if vkey is None else [key, vkey]
        while True:
            with self._claims_lock:
                claim = next((c for c in map(self._claims.get, names) if c is not None), None)
                owner = claim is None
                if claim is None:
                    claim = _Claim()
                    for name in names:
                        self._claims[name] = claim
            if owner:
                break
            while not claim.done.wait(0.05):
                if cancel.is_set():
                    emit("cancelled", nid)
                    raise Cancelled(f"node '{nid}' cancelled")
            if claim.outputs is not None:
                if claim.key != key and self.warned.get(claim.key):     # what it said, said here too (QA)
                    self.warned[key] = list(self.warned[claim.key])
                emit("cached", nid, message="" if claim.key == key else SAME_INPUTS)
                return claim.outputs, True
            # the other run failed or was cancelled: its error is its own; compute it here
        claim.key = key
        try:
            outputs, elsewhere = self._compute_shared(key, nid, spec, emit, cancel, compute, vkey, before)
            claim.outputs = outputs
            if elsewhere:
                emit("cached", nid, message="computed by another process meanwhile")
            return outputs, elsewhere
        finally:
            with self._claims_lock:
                for name in names:
                    if self._claims.get(name) is claim:
                        del self._claims[name]
            claim.done.set()

    def _compute_shared(self, key: str, nid: str, spec: NodeSpec, emit: Emit, cancel: threading.Event,
                        compute: Callable[[], dict[str, Any]], vkey: str | None = None,
                        before: dict[str, list[str]] | None = None) -> tuple[dict[str, Any], bool]:
        """``compute()`` and keep the outputs under ``key`` (and note them under the value key ``vkey``,
        :meth:`remember_by_value`); for a node whose outputs always go to disk (a model), claimed
        across processes first (:meth:`DiskCache.claim`, by ``vkey`` when there is one: the same
        input values): while another process computes it this one waits for its entry (``True``: the
        outputs are its), saying so once, and stops waiting when the run is stopped or that process
        ends without one."""
        dc = self.disk_cache
        name = vkey or key
        told = False
        shared = dc is not None and dc.budget_bytes > 0 and worth_keeping(spec, None, 0)   # 0: keeps nothing
        while True:
            holder = dc.claim(name) if dc is not None and shared else None
            if holder is None or holder == 0:
                try:
                    if holder == 0 and (hit := self._made_elsewhere(key, vkey)) is not None:   # just before
                        return hit, True
                    t0 = time.perf_counter()
                    outputs = compute()
                    self._persist(spec, key, outputs, time.perf_counter() - t0, before)
                    if vkey is not None:         # before the claim ends: a process waiting on it finds it
                        self.remember_by_value(vkey, key, nid)
                    return outputs, False
                finally:
                    if holder == 0 and dc is not None:
                        dc.release(name)
            who = f"process {holder}" if holder > 0 else "another process"
            if not told:
                emit("progress", nid, message=f"waiting: {who} is computing the same value, to take it from the cache")
                told = True
            while dc is not None and dc.holder(name) is not None:
                if cancel.wait(CLAIM_POLL_S):
                    emit("cancelled", nid)
                    raise Cancelled(f"node '{nid}' cancelled")
            if (hit := self._made_elsewhere(key, vkey)) is not None:
                return hit, True
            # that process failed, was stopped, or could not keep the value (QA38: it said "kept for both")
            emit("progress", nid, message=f"{who} ended without keeping the value (it failed, was stopped, or the "
                                           "cache could not hold it): computing it here")

    def _made_elsewhere(self, key: str, vkey: str | None) -> dict[str, Any] | None:
        """The outputs another process stored under ``key``, or under the value key ``vkey``."""
        if self.disk_cache is not None and key in self.disk_cache and (hit := self._lookup(key)) is not None:
            return hit
        return self.lookup_by_value(vkey, key) if vkey is not None else None

    # ------------------------------------------------------------------ running
    def run(self, graph: Graph, targets: Iterable[str] | None = None, *,
            base_dir: str | os.PathLike[str] | None = None, output_dir: str | os.PathLike[str] | None = None,
            device: str = "auto", on_event: Callable[[Event], None] | None = None,
            cancel_event: threading.Event | None = None, allow_outside: Iterable[Any] = (),
            keep: Iterable[str] | str = (), on_output: Callable[[str, dict[str, Any]], None] | None = None,
            inputs: Any = None, keep_going: bool = False, skips: Skips | None = None,
            pieces_of: str | None = None) -> RunResult:
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
        :class:`ExportsFailed` listing each failed export, with the results of the rest.  With
        ``keep_going`` (the editor's runs, as ``make -k``) no failing node stops the run: only the
        nodes after it are not run, every other node still runs (its results cached), and then the
        first failure is raised, its ``result`` the :class:`RunResult` of all that ran.  ``skips``
        (a :class:`~nodeflow.runtypes.Skips`, what :meth:`RunHandle.skip` fills while the run goes on)
        leaves out nodes that have not started, and the nodes after them.  ``pieces_of`` (what
        :meth:`stream` sets): that node's audio, when it ends a chain that streams block by block, is
        handed on as ``chunk`` events block by block and never made whole (the result holds its
        :class:`~nodeflow.audio.StreamedAudio` description).
        """
        t0 = time.perf_counter()
        limit_blas_threads()      # nodes run side by side; BLAS threads would fight them (nodeflow.threads)
        hidden: set[str] = set()
        if inputs is not None:    # values held in memory feed the graph's open inputs (nodeflow.chain.bind)
            from .chain import bind
            given = set(graph.nodes)
            path, graph = graph.path, bind(graph, inputs, what="run(inputs=...)", base_dir=base_dir)
            graph.path = path
            hidden = set(graph.nodes) - given
        else:                     # the run's own copy: an edit made while it runs waits for the next run
            graph = graph.frozen()
        targets = [targets] if isinstance(targets, str) else _names("targets", targets) if targets is not None else None
        if isinstance(keep, str) and keep != "all":
            keep = [keep]               # one node id (QA: keep="gain" raised a bare ValueError)
        elif not isinstance(keep, str):
            keep = _names("keep", keep)
        if unknown := [k for k in ([] if isinstance(keep, str) else list(keep)) if k not in graph.nodes]:
            raise GraphError(f"keep: no node named {', '.join(map(repr, unknown))} in the graph; nodes are: "
                             f"{', '.join(sorted(graph.nodes)[:20])}")       # (QA: a typo was silently ignored)
        base = self._ctx_base(base_dir, graph)
        if output_dir is not None and not str(output_dir).strip():     # Path("") is the current folder
            raise ParameterError('output_dir="": empty output folder; give a folder, or None for the graph\'s '
                                 "folder (the CLI refuses -o \"\" the same way)")
        out_dir = Path(output_dir) if output_dir is not None else base
        allow_outside = tuple(allow_outside)
        with graph.pinned():    # the content is compared once; validation and planning reuse what it derived
            graph.check(targets, base_dir=base, output_dir=out_dir, allow_outside=allow_outside, device=device)
            room, work, peak = memory_room(graph, targets, base, allow_outside)
            room -= self._admission.admit(peak, room, cancel_event)    # the peaks of the runs beside it come off
            try:
                self.cache.hold_at_most(room)    # (earlier runs' values count too)
                plan = make_plan(graph, targets, base, self._lookup, device, keep)
            except BaseException:
                self._admission.leave(peak)
                raise
        try:
            cancel = cancel_event or threading.Event()
            emit = _emitter(on_event)
            ctx_kw = dict(emit=emit, cancel_event=cancel, base_dir=base, output_dir=out_dir, graph=graph,
                          protected_files=plan.protected, device=device, allow_outside=allow_outside,
                          memory=MemoryRoom(room))
            scheduler = Scheduler(self, graph, plan, targets, keep, emit, cancel, ctx_kw, on_output, t0,
                                  keep_going=keep_going, skips=skips, pieces_of=pieces_of, work=work)
            result = scheduler.result()
        except NodeflowError as e:
            _without(getattr(e, "result", None), hidden)
            raise
        finally:
            self._admission.leave(peak)      # (whatever happens: a reservation left would hold others back)
        _without(result, hidden)
        return result

    def stream(self, graph: Graph, target: str, port: str | None = None, **kw: Any) -> Iterator[Any]:
        """Run what ``target`` needs in the background and yield its output ``port`` (default: its
        first output) piece by piece as the node makes it: a list item of a mapped node, a window
        of a model that reports chunks (``ctx.chunk``), and the blocks of the nodes after such a
        model that work block by block, as it generates (:mod:`nodeflow.relay`: where the model
        says its length up front).  The pieces are the node's output in
        order: a list's items (also when the list is made at once or comes from the cache), an
        audio node's consecutive parts, which concatenate to it (made at once or cached: the whole,
        once).  Errors are raised here; closing the generator early stops the run.  Keywords as
        :meth:`run`.
        """
        return stream_pieces(self, graph, target, port, **kw)

    def submit(self, graph: Graph, targets: Iterable[str] | None = None, **kw: Any) -> RunHandle:
        """Start :meth:`run` on a background thread; the handle cancels and collects it."""
        cancel = kw.pop("cancel_event", None) or threading.Event()
        handle = RunHandle(cancel, kw.pop("skips", None))

        def body() -> None:
            try:
                handle._future.set_result(self.run(graph, targets, cancel_event=cancel, skips=handle.skips, **kw))
            except BaseException as e:  # noqa: BLE001 - delivered through the handle
                handle._future.set_exception(e)

        handle._future.set_running_or_notify_cancel()
        threading.Thread(target=body, name="nodeflow-run", daemon=True).start()
        return handle


def _names(what: str, ids: Any) -> list[str]:
    """``targets``/``keep`` as a list of node ids, or one line saying what they should be (QA: a bare
    TypeError for ``keep=5`` or ``targets=["drive", 3]``)."""
    items = list(ids) if isinstance(ids, Iterable) and not isinstance(ids, (bytes, dict)) else None
    if items is None or not all(isinstance(i, str) for i in items):
        bad = ids if items is None else next(i for i in items if not isinstance(i, str))
        raise ParameterError(f"{what}: expected node ids (a name or a list of names, e.g. {what}=['gain']); "
                             f"got {bad!r}")
    return items


def _emitter(on_event: Callable[[Event], None] | None) -> Emit:
    """``emit`` for a run: each event to ``on_event``, one at a time; a listener that raises is logged."""
    if on_event is None:
        return no_listener
    emit_lock = threading.Lock()
    listener = on_event

    def emit(kind: str, node_id: str, **kw: Any) -> None:
        try:
            with emit_lock:
                listener(Event(kind, node_id, **kw))
        except Exception:  # a broken listener must not break the run
            log.exception("event listener failed on %s %s", kind, node_id)

    return emit


_default_executor: Executor | None = None


def _without(result: RunResult | None, hidden: set[str]) -> None:
    """Leave out of ``result`` the nodes a run added to read its ``inputs`` (QA47: ``ran`` listed a
    node 'input' the caller never made)."""
    if result is not None and hidden:
        result.ran = result.ran - hidden
        result.cached = result.cached - hidden
        result.outputs = {n: v for n, v in result.outputs.items() if n not in hidden}
        result.cache_keys = {n: k for n, k in result.cache_keys.items() if n not in hidden}


def run(graph: Graph, targets: Iterable[str] | None = None, **kw: Any) -> RunResult:
    """Run a graph with the process-wide executor (its cache persists across calls)."""
    global _default_executor
    if _default_executor is None:
        _default_executor = Executor()
    return _default_executor.run(graph, targets, **kw)
