"""One run of a planned graph (:mod:`nodeflow.planning`): each node starts as soon as the nodes it
needs have finished, a lone ready node inline and several side by side on the executor's thread
pool; chains of streaming nodes run as one unit (:mod:`nodeflow.streaming`); each value is released
once no node still to finish needs it, unless the result returns it.  Stop or a failure starts
nothing new and lets running nodes finish (their results stay cached); a failing export does not
stop the others.  :meth:`Executor.run <nodeflow.executor.Executor.run>` makes a :class:`Scheduler`
per run.
"""
from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from . import streaming
from .errors import Cancelled, ExecutionError, ExportsFailed
from .graph import Graph
from .node import Context
from .nodecall import call_node
from .planning import Plan, kept_nodes, value_key
from .runtypes import SAME_INPUTS, Emit, RunResult, Skips
from .threads import TRIM_AFTER_BYTES, give_back_memory

if TYPE_CHECKING:   # the executor imports this module
    from .context import MemoryRoom
    from .executor import Executor

__all__ = ["Scheduler"]

# what running a node gives: its outputs, and whether they came from the cache
Outcome = tuple[dict[str, Any], bool]
# the events that end a node's part in a run: each node queued gets one of them
ENDS = frozenset(("finished", "cached", "failed", "cancelled", "skipped"))


class Scheduler:
    """Runs ``plan`` with ``executor``'s caches, pool and worker limit; :meth:`result` runs it.

    Sends ``cached`` and ``queued`` for every node when made, and one of :data:`ENDS` for each node
    queued by the end: a node that never started in a run that failed or was stopped is ``skipped``,
    its message saying why.  ``on_output(node_id, outputs)`` sees every node's outputs (computed or
    from the cache) before they may be released.
    """

    def __init__(self, executor: Executor, graph: Graph, plan: Plan, targets: list[str] | None,
                 keep: Iterable[str] | str, emit: Emit, cancel: threading.Event, ctx_kw: dict[str, Any],
                 on_output: Callable[[str, dict[str, Any]], None] | None, t0: float, keep_going: bool = False,
                 skips: Skips | None = None, pieces_of: str | None = None, work: dict[str, int] | None = None):
        self.ended: set[str] = set()      # the nodes that had their last event (see ENDS)
        self.work = work or {}            # each node's estimated working buffers (bytes; see _fits)
        self.room: MemoryRoom | None = ctx_kw.get("memory")
        self.uncounted: str | None = None     # the unit running on the estimate's own count (see _fits)
        self.taken: dict[str, int] = {}       # units running beside it: the room each took
        self.warnings: dict[str, list[str]] = {}     # what nodes said of their results (ctx.warn)
        emit = self._noting(emit, plan, executor.warned)
        self.executor, self.graph, self.plan, self.emit, self.cancel = executor, graph, plan, emit, cancel
        self.keep_going, self.pieces_of = keep_going, pieces_of
        self.skips = skips or Skips()   # nodes left out while the run goes on (their dependents never become ready)
        self.failures: list[BaseException] = []   # with keep_going: failed nodes, whose dependents never run
        self.ctx_kw, self.on_output, self.t0 = dict(ctx_kw, emit=emit), on_output, t0   # nodes' events noted too
        self.cached = {n for n in plan.order if n in plan.values}
        for n in plan.order:
            if n in self.cached:
                emit("cached", n)
        for n in plan.to_run:
            emit("queued", n)

        self.values = values = plan.values
        self.kept = kept = kept_nodes(plan, targets, keep)
        # chains of streaming nodes run as one unit, named by their last node (nodeflow.streaming)
        self.fused = fused = (streaming.plan_segments(plan, kept, targets, keep)
                              if executor.fuse_streams is not False else {})
        self.stream_min = 0 if executor.fuse_streams else min(streaming.STREAM_MIN_BYTES,
                                                                executor.cache.budget_bytes)
        inner = {n for seg in fused.values() for n in seg[:-1]}
        units = [n for n in plan.to_run if n not in inner] if inner else plan.to_run
        self.inputs_of = inputs_of = {last: plan.inputs[seg[0]] for last, seg in fused.items()}
        self.uses: dict[str, int] = {}       # links from a value into nodes that have yet to finish
        uses = self.uses
        for n in units:
            for (_, src, _, _) in inputs_of.get(n) or plan.inputs[n]:
                uses[src] = uses.get(src, 0) + 1
        for n in list(values):               # cache hits: seen, then dropped unless something takes them
            if on_output is not None:
                on_output(n, values[n])
            if kept is not None and n not in kept and not uses.get(n):
                del values[n]
        self.dependents: dict[str, list[str]] = {n: [] for n in units}   # only nodes that run
        self.remaining = remaining = dict.fromkeys(units, 0)
        for n in units:
            for (_, src, _, _) in inputs_of.get(n) or plan.inputs[n]:
                if src in self.dependents:
                    self.dependents[src].append(n)
                    remaining[n] += 1
        self.ready = [n for n in units if remaining[n] == 0]
        self.in_flight: dict[cf.Future[Outcome], str] = {}
        self.failed_sinks: list[ExecutionError] = []      # exports that failed; the run goes on without them
        self.ran: set[str] = set()

    def _noting(self, emit: Emit, plan: Plan, warned: dict[str, list[str]]) -> Emit:
        """``emit``, noting which nodes had their last event and what they warned of: by node for the
        result, and by content key in ``warned`` (the executor's), so that a value taken from the
        cache says again what it said when it was computed, and what the nodes before it said that
        this run does not visit (its value stands for theirs; QA41: ``warner | gain`` invoked again
        said nothing)."""
        ended, said, keys = self.ended, self.warnings, plan.keys
        told: set[str] = set()
        place = {n: i for i, n in enumerate(plan.structure.order)}

        def before(nid: str) -> list[str]:
            """The nodes feeding ``nid``, directly or not, that this run neither runs nor takes from the cache."""
            return list(upstream(plan, nid, told, lambda n: n in plan.values or n in plan.to_run))

        def noted(kind: str, node_id: str, **kw: Any) -> None:
            key = keys.get(node_id)
            if kind in ENDS:
                ended.add(node_id)
            if kind == "started" and key is not None:
                warned.pop(key, None)
            elif kind == "warning":
                said.setdefault(node_id, []).append(kw.get("message", ""))
                if key is not None:
                    warned.setdefault(key, []).append(kw.get("message", ""))
            if kind == "cached" and key is not None:       # said before the node's last event
                for n in [*sorted(before(node_id), key=lambda a: place.get(a, 0)), node_id]:
                    for message in warned.get(keys.get(n, ""), ()):
                        said.setdefault(n, []).append(message)
                        emit("warning", n, message=message)
            emit(kind, node_id, **kw)
        return noted

    def _end_the_rest(self, failure: BaseException) -> None:
        """Each node queued that had no last event (it never started: the run failed or was stopped
        first) gets ``skipped``, saying why: a listener's view of the run ends with every node settled."""
        who = getattr(failure, "node_id", None)
        why = ("not run: the run was stopped" if isinstance(failure, Cancelled) else
               f"not run: node '{who}' failed" if who else "not run: the run failed")
        for n in self.plan.to_run:
            if n not in self.ended:
                self.emit("skipped", n, message=why)

    def failed(self, nid: str, e: BaseException) -> BaseException | None:
        """The error that stops the run, or None when ``nid`` is an export that may fail alone."""
        if nid in self.fused:       # the nodes of a chain that finished whole before the failing one
            for n, outputs in getattr(e, "finished", {}).items():
                self.ran.add(n)
                if streaming.is_whole(outputs) and not self.plan.specs[n].side_effect:
                    self.executor.cache.put(self.plan.keys[n], outputs)
            nid = getattr(e, "node_id", nid)      # which node of a fused chain
        if self.plan.specs[nid].side_effect and isinstance(e, ExecutionError) and not self.cancel.is_set():
            self.failed_sinks.append(e)
            if (written := getattr(e, "written", None)) is not None:    # the items of a mapped export it did write
                self.values[nid] = written
            return None
        if self.keep_going and isinstance(e, ExecutionError) and not self.cancel.is_set():
            self.failures.append(e)      # its dependents never become ready; everything else runs
            return None
        return e

    def execute(self, nid: str) -> Outcome:
        ex, specs, keys = self.executor, self.plan.specs, self.plan.keys
        if nid in self.fused:
            outs, took = streaming.run_segment(self.graph, self.fused[nid], self.plan, self.values, self.emit,
                                               self.cancel, self.ctx_kw, Context,
                                               min_bytes=0 if nid == self.pieces_of else self.stream_min,
                                               pieces=nid == self.pieces_of)
            for n, seconds in took.items():     # values computed whole: the disk cache's policy
                if not specs[n].side_effect:
                    ex._persist(specs[n], keys[n], outs[n], seconds, self.said_before(n))
            return outs, False
        if not specs[nid].side_effect:   # an identical node may have finished meanwhile
            hit = ex.cache.get(keys[nid])
            if hit is not None:
                self.emit("cached", nid)
                return hit, True
        def run_node() -> dict[str, Any]:
            return call_node(self.graph, nid, self.plan, self.values, self.emit, self.cancel, self.ctx_kw,
                             workers=ex.max_workers)

        if specs[nid].side_effect:
            return run_node(), False
        own = self.plan.own.get(nid)
        vkey = None if own is None else value_key(own, self.plan.inputs[nid], self.values)
        if vkey is not None and (hit := ex.lookup_by_value(vkey, keys[nid])) is not None:
            self.emit("cached", nid, message=SAME_INPUTS)    # the same input values as a run before
            return hit, True
        return ex._compute_once(keys[nid], nid, specs[nid], self.emit, self.cancel, run_node, vkey,
                                self.said_before(nid))

    def said_before(self, nid: str) -> dict[str, list[str]]:
        """What the nodes feeding ``nid`` (directly or not) said of their values, by content key: kept
        with ``nid``'s value on disk, so that a later process taking it says it again for them."""
        keys, warned = self.plan.keys, self.executor.warned
        if not warned:                # nothing was said in this process: no walk
            return {}
        return {key: list(warned[key]) for n in upstream(self.plan, nid, set())
                if (key := keys.get(n)) and warned.get(key)}

    def finish(self, nid: str, result: Outcome) -> None:
        outputs, from_cache = result
        values, kept, uses, on_output = self.values, self.kept, self.uses, self.on_output
        cache = self.executor.cache
        if nid in self.fused:            # a streamed chain: its inner nodes ran, their values were streamed
            for n in self.fused[nid][:-1]:
                self.ran.add(n)
                if streaming.is_whole(outputs[n]):      # the chain ran node by node (short audio)
                    cache.put(self.plan.keys[n], outputs[n])
                if on_output is not None:
                    on_output(n, outputs[n])
                if kept is None or n in kept:   # a value that fed an export: its description (StreamedAudio)
                    values[n] = outputs[n]
            outputs = outputs[nid]
        values[nid] = outputs
        (self.cached if from_cache else self.ran).add(nid)
        if not from_cache and not self.plan.specs[nid].side_effect and streaming.is_whole(outputs):
            cache.put(self.plan.keys[nid], outputs)     # (a value handed on in pieces is only described)
        if on_output is not None:
            on_output(nid, outputs)
        if kept is not None:             # release what no node still to finish needs
            for (_, src, _, _) in self.inputs_of.get(nid) or self.plan.inputs[nid]:
                uses[src] -= 1
                if not uses[src] and src not in kept:
                    values.pop(src, None)
            if nid not in kept and not uses.get(nid):
                values.pop(nid, None)
        for d in self.dependents[nid]:
            self.remaining[d] -= 1
            if self.remaining[d] == 0:
                self.ready.append(d)

    def _starts(self, nid: str) -> bool:
        """Whether ready node ``nid`` (a unit: a node or a streamed chain) runs now; a node left out
        (:class:`~nodeflow.runtypes.Skips`) is dropped, and the nodes after it never become ready."""
        if self.skips.start(self.fused.get(nid, [nid])):
            return True
        self.emit("skipped", nid)
        return False

    def _fits(self, nid: str) -> bool:
        """Whether ready unit ``nid`` may start beside the units running now.  The estimated peak counts one
        node's working buffers at a time: the first unit to run takes nothing more, and each unit beside it
        takes its buffers from the run's room (the memory limit less that peak, shared with decodes that
        outgrow their estimate), or waits for a unit to finish (measured: two masters side by side took 585
        MB, a run estimated at 395 MiB under a limit of 0.42 GB; now one after the other, 390 MB)."""
        if self.uncounted is None:
            self.uncounted = nid
            return True
        need = self._work_of(nid)
        if need and self.room is not None and not self.room.take(need):
            return False
        self.taken[nid] = need
        return True

    def _left(self, nid: str) -> None:
        """Unit ``nid`` stopped running (or never started): what it took of the room goes back, and the
        memory its working buffers held to the system (:func:`~nodeflow.threads.give_back_memory`)."""
        if self.uncounted == nid:
            self.uncounted = None
        elif (need := self.taken.pop(nid, 0)) and self.room is not None:
            self.room.give(need)
        if self._work_of(nid) >= TRIM_AFTER_BYTES:
            give_back_memory()

    def _work_of(self, nid: str) -> int:
        """The estimated working buffers of unit ``nid`` (a node, or a streamed chain's nodes)."""
        return sum(self.work.get(n, 0) for n in self.fused.get(nid, [nid]))

    def _loop(self) -> BaseException | None:
        """Run nodes until none is ready or running, or one fails; the failure, if any."""
        ready, in_flight = self.ready, self.in_flight
        failure: BaseException | None = None
        while (ready or in_flight) and failure is None:
            if self.cancel.is_set():
                failure = Cancelled("run cancelled")
                break
            if ready and not in_flight and len(ready) == 1:
                nid = ready.pop()      # a lone ready node runs inline: no pool hop on chains
                if not self._starts(nid):
                    continue
                try:
                    self.finish(nid, self.execute(nid))
                except BaseException as e:  # noqa: BLE001 - re-raised by result() after cleanup
                    failure = self.failed(nid, e)
                self._left(nid)
                continue
            pool = self.executor._get_pool()
            waiting = []                      # ready, but their buffers do not fit beside those running
            while ready and len(in_flight) < self.executor.max_workers:
                nid = ready.pop(0)
                if not self._fits(nid):
                    waiting.append(nid)
                elif self._starts(nid):
                    in_flight[pool.submit(self.execute, nid)] = nid
                else:
                    self._left(nid)
            ready[:0] = waiting
            if not in_flight:
                continue
            done, _ = cf.wait(list(in_flight), return_when=cf.FIRST_COMPLETED)
            for fut in done:
                nid = in_flight.pop(fut)
                self._left(nid)
                try:
                    self.finish(nid, fut.result())
                except BaseException as e:  # noqa: BLE001
                    failure = failure or self.failed(nid, e)
            del done, fut                    # a finished future holds its outputs: let released ones go
        return failure

    def _collect(self) -> RunResult:
        values = self.values
        return RunResult({n: values[n] for n in self.plan.order if n in values}, self.ran, self.cached,
                         self.plan.keys, time.perf_counter() - self.t0, self.warnings)

    def result(self) -> RunResult:
        """Run the plan: the outputs asked for, or the run's error (see :meth:`Executor.run
        <nodeflow.executor.Executor.run>`)."""
        failure = self._loop()
        if failure is None and self.cancel.is_set():   # the last node finished after Stop: still cancelled
            failure = Cancelled("run cancelled")
        if failure is None and self.failures:           # keep_going: all that could run has run
            failure = self.failures[0]
        if failure is not None:
            if self.in_flight:  # let running nodes finish (their results stay cached), start nothing new
                for fut in cf.as_completed(list(self.in_flight)):
                    nid = self.in_flight[fut]
                    if fut.exception() is None:
                        self.finish(nid, fut.result())
            if isinstance(failure, Cancelled) or self.failures:    # what finished before Stop (the CLI lists
                setattr(failure, "result", self._collect())        # it), or beside the failure (keep_going)
            self._end_the_rest(failure)
            raise failure
        result = self._collect()
        if self.failed_sinks:
            raise ExportsFailed(self.failed_sinks, result)
        return result


def upstream(plan: Plan, nid: str, seen: set[str], stop: Callable[[str], bool] = lambda n: False) -> Iterator[str]:
    """The nodes feeding ``nid``, directly or not, each once (``seen`` holds those already given,
    across calls); a node ``stop`` holds is neither given nor walked past."""
    todo = [src for _, src, _ in plan.structure.ups.get(nid, ())]
    while todo:
        n = todo.pop()
        if n in seen or stop(n):
            continue
        seen.add(n)
        yield n
        todo.extend(src for _, src, _ in plan.structure.ups.get(n, ()))
