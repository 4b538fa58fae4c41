"""Runs graphs for the editor on a background thread and keeps each node's state.

The UI never waits for the engine: :meth:`Runner.run` hands a *copy* of the graph to
:meth:`Executor.submit <nodeflow.Executor.submit>` (so the user may keep editing), executor events
arrive on worker threads into a queue, and :meth:`Runner.poll`, called once per frame on the UI
thread, folds them into :attr:`Runner.states` (how each event moves a node's state on is
:mod:`.statefold`).  One executor (one cache) serves every run, so auditioning a node after a
run, or re-running after a small edit, recomputes only what changed.

Node states: ``queued``, ``running`` (with progress and, once it can be estimated, the time left),
``cached``, ``done``, ``failed`` (with the error text), ``cancelled``, ``blocked`` (not run: the node
or one before it cannot run, e.g. an input is not connected, and the rest of the graph still runs;
or a node before it failed in the run, e.g. a model whose checkpoint could not be downloaded); a
state is tied to the node's content key, so an edit that changes what a node would compute makes
:meth:`forget_stale` drop its state and its outputs.  When a run ends (stopped, failed or done) no
node is left ``queued`` or ``running``.  A job, and what follows from it alone (the nodes it leaves
out, the line its end says), is :mod:`.jobs`.
This module does not import dearpygui.
"""
from __future__ import annotations

import collections
import concurrent.futures as cf
import time
import weakref
from pathlib import Path
from typing import Any, Callable

from ..cache import file_stamp
from ..errors import Cancelled, GraphError, NodeflowError
from ..executor import Event, Executor, RunResult
from ..graph import Graph
from .jobs import Job, blocked_nodes, downstream, summary
from .runstate import NodeState, Said
from .statefold import StateFolding

__all__ = ["Runner", "Job"]

WRITTEN_KEPT = 256      # exports' written files (and finished nodes' states) kept for an undone delete or edit
CLOSE_WAIT_S = 10.0     # the longest close() waits for cancelled jobs to end (the window closing)


class Runner(StateFolding):
    """Background runs with per-node states; one shared :class:`~nodeflow.Executor` and cache."""

    def __init__(self, executor: Executor | None = None, scratch_root: Path | None = None):
        self.executor = executor or Executor()
        self.scratch_root = scratch_root   # where untitled graphs' output folders go (default: state folder/unsaved)
        self._scratch: Path | None = None  # this untitled document's output folder, once it wrote something
        self.states: dict[str, NodeState] = {}
        self._said: dict[str, list[str]] = {}     # warnings of the node's run so far (see NodeState.warnings)
        self.outputs: dict[str, tuple[str, dict[str, Any]]] = {}   # node -> (key, outputs)
        self.version = 0                   # bumped whenever states change (the view redraws then)
        self._ticks = 0                    # whole seconds that nodes without progress have run (poll)
        # content key -> (outputs, their files' stamps, state) of exports whose node changed or went
        self._written: collections.OrderedDict[str, tuple[dict[str, Any], dict[str, Any], NodeState | None]] = \
            collections.OrderedDict()
        # content key -> the state (done/cached) of a node whose content changed or that went: the same
        # node back (an undone delete or edit) shows it again while its result is in the cache
        self._ran: collections.OrderedDict[str, NodeState] = collections.OrderedDict()
        self.jobs: list[Job] = []
        self._detached: list[Job] = []     # jobs of a graph no longer open: they stop, nothing of them is shown
        self._generation = 0               # bumped by detach(): events of older jobs are dropped
        self._events: collections.deque[tuple[int, int, Event]] = collections.deque()   # (generation, job no, event)
        self._submitted = 0                # jobs submitted: each job's number tags its events
        self._waiting: dict[str, set[int]] = {}     # node -> jobs that have it queued (see _rides)
        self._riding: set[tuple[int, str]] = set()  # (job, node): the job waits for another's computation
        self._job_keys: dict[str, str] = {}
        # (the graph, what its keys depend on, the keys): see current_keys
        self._keys_memo: tuple[weakref.ref[Graph] | None, tuple[Any, ...] | None, dict[str, str] | None] = \
            (None, None, None)
        from .live import LivePieces
        self.live = LivePieces()           # streamed pieces of running nodes (play while generating)

    # ------------------------------------------------------------------ starting
    @property
    def running(self) -> bool:
        return any(j.kind == "run" for j in self.jobs)

    def output_dir(self, graph: Graph, *, make: bool = False) -> Path:
        """Where a run of ``graph`` writes its exports: the graph file's folder; for a graph never
        saved, a folder of its own under the editor's state folder (``unsaved/untitled-<time>``,
        one per untitled document, made when ``make``), never the folder the editor was started
        from.  The Python API and the CLI keep writing into the current folder (``-o``)."""
        if graph.path:
            return graph.base_dir()
        if self._scratch is None:
            from .files import state_dir
            root = self.scratch_root or state_dir() / "unsaved"
            stem = "untitled-" + time.strftime("%Y%m%d-%H%M%S")
            self._scratch = root / stem
            n = 2
            while self._scratch.exists():
                self._scratch, n = root / f"{stem}-{n}", n + 1
        if make:
            self._scratch.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self._scratch

    @property
    def scratch(self) -> Path | None:
        """The untitled document's output folder, if a run made it."""
        return self._scratch if self._scratch is not None and self._scratch.is_dir() else None

    def run(self, graph: Graph, targets: list[str] | None = None, *, kind: str = "run",
            on_done: Callable[[RunResult | None, BaseException | None], None] | None = None,
            allow_outside: tuple[str, ...] = ()) -> Job:
        """Start running a snapshot of ``graph`` (only what ``targets`` need, if given).

        Exports write into :meth:`output_dir` (the graph's folder; an untitled graph's own folder);
        ``allow_outside`` lists places outside it the user allowed for this run (the app's *Allow once*).  A whole-graph run whose graph has problems
        runs every node that does not depend on one (``job.blocked`` names the others, shown as
        ``blocked``); raises :class:`~nodeflow.GraphError` at once (nothing starts) when nothing
        can run, or when the ``targets`` asked for cannot.
        """
        g = graph.copy()
        blocked: dict[str, str] = {}
        out_dir = self.output_dir(g)
        try:
            g.check(targets, allow_outside=allow_outside, output_dir=out_dir)
        except GraphError as e:
            if targets is not None:
                raise
            blocked = self.blocked_nodes(g, e.problems)
            if not blocked or len(blocked) == len(g.nodes):
                raise
            for nid in blocked:                  # run the rest: the nodes that do not depend on a problem
                g.remove(nid)
            g.check(None, allow_outside=allow_outside, output_dir=out_dir)
        scratch = None
        if not g.path and g.write_paths():         # an untitled graph that exports: its own folder, made now
            scratch = out_dir = self.output_dir(g, make=any(     # (where an export goes: not for paths typed
                not Path(str(v)).expanduser().is_absolute() for v in g.write_paths().values()))   # whole, QA65)
        keys = self.executor.keys(g)
        self._keys_memo = (None, None, None)       # input files may have changed on disk: current_keys looks again
        self._job_keys.update(keys)
        gen, number = self._generation, self._submitted
        self._submitted += 1
        handle = self.executor.submit(g, targets, on_event=lambda ev: self._on_event(ev, gen, number),   # keep every
                                      allow_outside=allow_outside, keep="all",   # node's value: previews, states
                                      output_dir=out_dir, keep_going=True)      # a failure stops only what follows it
        job = Job(kind, handle, keys, targets, on_done, time.perf_counter(), blocked, graph=g, scratch=scratch)
        for nid, why in blocked.items():
            self.states[nid] = NodeState("blocked", None, message=why)
        for nid in g.nodes if targets is None else ():    # a node stopped, failed or blocked last run: queued from
            if (st := self.states.get(nid)) is not None and st.kind in ("cancelled", "failed", "blocked"):   # now,
                self.states[nid] = NodeState("queued", keys.get(nid))    # not seconds later (QA108, QA111)
        self.version += 1
        self.jobs.append(job)
        return job

    blocked_nodes = staticmethod(blocked_nodes)   # (the sweep dialog asks it too)

    def _on_event(self, ev: Event, generation: int, number: int) -> None:
        """The engine's worker threads: streamed pieces go to :attr:`live` at once, the rest waits for poll."""
        if generation != self._generation:
            return                            # a job of a graph no longer open
        self.live.on_event(ev, self._job_keys.get(ev.node_id))
        if ev.kind != "chunk":
            self._events.append((generation, number, ev))
        else:
            self.version += 1                 # the growing waveform is redrawn

    def stop(self) -> bool:
        """Cancel every job; running nodes stop at their next progress/cancel check."""
        for j in self.jobs + self._detached:
            j.handle.cancel()
        return bool(self.jobs)

    def detach(self) -> bool:
        """Another graph was opened: every job stops (as :meth:`stop`) and nothing of it, nor any
        node state, is shown on the new graph (node ids repeat across graphs).  Returns whether a
        run was going."""
        running = self.running
        self.stop()
        self._detached += self.jobs
        self.jobs = []
        self._generation += 1
        self._events.clear()
        self._waiting.clear()
        self._riding.clear()
        self.states.clear()
        self._ran.clear()
        self._scratch = None               # the next untitled graph gets a folder of its own
        self.version += 1
        return running

    def drop_deleted(self, graph: Graph) -> tuple[list[str], list[str]]:
        """Nodes deleted from ``graph`` that a run still had to do never run or write a file: ones that
        have not started are left out, with the nodes after them, and the run goes on (QA: deleting
        an unrelated export threw away a half-generated model); one already running stops its run
        (as :meth:`stop`).  Returns ``(left out, stopped for)``."""
        left: list[str] = []
        stopped: list[str] = []
        for job in self.jobs:
            if job.kind != "run" or job.deleted or job.handle.done():
                continue
            pending = sorted(n for n in job.keys if n not in graph.nodes and n not in job.left_out and (
                (st := self.states.get(n)) is None or st.kind in ("queued", "running")))
            if not pending:
                continue
            if job.handle.skip(pending):
                job.left_out += pending
                left += pending
                for d in downstream(job, set(pending)):      # they will not run: no longer queued
                    if (st := self.states.get(d)) is not None and st.kind == "queued":
                        del self.states[d]
                        self.version += 1
            else:
                job.deleted = pending
                job.handle.cancel()
                stopped += pending
        return left, stopped

    # ------------------------------------------------------------------ polling (UI thread)
    def poll(self, graph: Graph | None = None) -> list[Said]:
        """Apply queued events and finish completed jobs; returns status-bar messages.  With the
        ``graph`` shown (the editor's), nodes edited while a run ran are not left showing what the
        run made of them before the edit: their states and outputs go (:meth:`forget_stale`) and
        the run's message names them."""
        changed = False
        ended = [j for j in self.jobs if j.handle.done()]     # their events are all queued: applied first
        ticks = sum(int(time.monotonic() - st.started) for st in self.states.values()
                    if st.kind == "running" and not st.total and st.started is not None)
        if ticks != self._ticks:                # a second more on a node that tells no progress: redrawn
            self._ticks, changed = ticks, True
        while self._events:
            gen, number, ev = self._events.popleft()
            if gen == self._generation and not self._rides(ev, number):
                self._apply(ev)
                changed = True
        for job in [j for j in self._detached if j.handle.done()]:
            self._detached.remove(job)          # finished quietly: its graph is gone
            if job.on_done is not None:
                job.on_done(None, job.handle.exception() or Cancelled("its graph was closed"))
        messages = []
        if ended:
            self._keys_memo = (None, None, None)    # (a model the run downloaded has a revision now: keys change)
        if not self.jobs or len(ended) == len(self.jobs):   # no job left to wait for another (see _rides)
            self._waiting.clear()
            self._riding.clear()
        for job in ended:
            self.jobs.remove(job)
            changed = True
            err = job.handle.exception()      # a failed run's result: all that ran beside the failure
            result = job.handle.result() if err is None else getattr(err, "result", None)
            if result is not None:
                for nid, outs in result.outputs.items():
                    self.outputs[nid] = (job.keys.get(nid, ""), outs)
                    self.live.settle(nid, outs)
            after = self._settle(job, err)
            edited = self._changed_since(job, graph)
            if job.kind == "run":
                messages.append(summary(job, result, err, after, edited))
            if job.on_done is not None:
                job.on_done(result, err)
        if changed and graph is not None:       # a node edited while it waited is not shown "done" when it is
            self.forget_stale(graph, results_only=True)
        if changed:
            self.version += 1
        return [m for m in messages if m]

    def _changed_since(self, job: Job, graph: Graph | None) -> list[str]:
        """The nodes ``job`` ran that ``graph`` has changed since it started (an edit during the run):
        what the run made of them is not what the graph says now."""
        if graph is None or job.graph is None:
            return []
        now = self.current_keys(graph) or {}      # (a node with no key now cannot run: it is marked as such)
        return sorted(n for n in job.keys if n in graph.nodes and n in job.graph.nodes and now.get(n) is not None
                      and now[n] != job.keys[n])

    def _settle(self, job: Job, err: BaseException | None) -> dict[str, str]:
        """A finished job leaves no node of its own queued or running: a stopped one is cancelled;
        one that never started has no state (it did not run), unless a node before it failed: then
        it is ``blocked`` ("not run: after 'x'"), as a node after one with a problem is marked
        before a run (:meth:`blocked_nodes`).  Returns those ``{node: the failed node before it}``."""
        after = self._after_failure(job, err)
        for nid in job.keys:
            st = self.states.get(nid)
            kind = st.kind if st is not None else None
            if kind not in (None, "queued", "running") or any(j is not job and nid in j.keys for j in self.jobs):
                continue
            if nid in after and kind != "running":
                self.states[nid] = NodeState("blocked", job.keys[nid], message=f"after '{after[nid]}'")
            elif st is not None and kind == "running":
                self.states[nid] = NodeState("cancelled", st.key, message="stopped" if isinstance(err, Cancelled)
                                             else "the run ended")
            elif st is not None:
                del self.states[nid]
        return after

    def _after_failure(self, job: Job, err: BaseException | None) -> dict[str, str]:
        """The nodes after one that failed in ``job`` (its error's node, or a node it marked
        failed): ``{node: the failed node before it}``; none when it was stopped or did not fail."""
        if err is None or isinstance(err, Cancelled) or job.graph is None:
            return {}
        failed: set[str] = {str(e.node_id) for e in getattr(err, "failures", [err]) if hasattr(e, "node_id")}
        failed |= {n for n in job.keys if (st := self.states.get(n)) is not None and st.kind == "failed"
                   and st.key == job.keys[n]}
        return downstream(job, failed)

    def wait(self, timeout: float = 60.0) -> list[Said]:
        """Block until every job is finished (tests and scripts); returns the messages."""
        end = time.monotonic() + timeout
        out: list[Said] = []
        while self.jobs and time.monotonic() < end:
            time.sleep(0.01)
            out += self.poll()
        return out + self.poll()

    # ------------------------------------------------------------------ staleness
    def current_keys(self, graph: Graph) -> dict[str, str] | None:
        """Content keys of ``graph`` now, or None when they cannot be computed (unknown types, cycles).

        Remembered while nothing they depend on changes: the graph (the same object, its revision
        and content, so a parameter changed without an edit counts), its folder (relative input
        paths resolve against it: Save as elsewhere moves it and rewrites those paths without an
        edit) and, until a run starts or ends, the input files and models on disk (a run computes
        the keys afresh; what it shows must match them).  Input files are re-hashed only when their
        size or mtime changes.
        """
        try:
            stamp: tuple[Any, ...] | None = (graph.revision, graph.content_version(), str(graph.base_dir()))
        except (NodeflowError, OSError):     # (no current folder)
            stamp = None
        ref, seen, memo = self._keys_memo
        if stamp is not None and ref is not None and ref() is graph and seen == stamp:
            return memo
        try:
            keys = self.executor.keys(graph)
            self._keys_memo = (weakref.ref(graph), stamp, keys)
            return keys
        except (NodeflowError, GraphError, KeyError, Exception):  # noqa: BLE001 - an unrunnable graph has no keys
            return None

    def forget_stale(self, graph: Graph, *, results_only: bool = False) -> set[str]:
        """Drop states and outputs of nodes whose content changed since they ran (or that were
        deleted); returns those ids.  What an export wrote is remembered by its content key
        (:meth:`_remember_written`): the same node back (an undone delete or edit) shows its file
        again while that file is as written; a finished node's state is remembered the same way
        (:meth:`_remember_ran`), and comes back with the node while its result is in the cache (QA: an
        undone delete showed the waveform but no state).  ``results_only`` (while a run goes on, no edit
        since): the marks of nodes a run could not start (``blocked``) stay."""
        keys = self.current_keys(graph) or {}
        kept = ("queued", "running", "blocked") if results_only else ("queued", "running")
        gone = {n for n, st in self.states.items() if st.kind not in kept and keys.get(n) != st.key}
        gone |= {n for n, (k, _) in self.outputs.items() if keys.get(n) != k}
        for n in gone:
            self._remember_written(n)
            self._remember_ran(self.states.pop(n, None))
            self.outputs.pop(n, None)
        back = []
        for n in [n for n, k in keys.items() if n not in self.outputs and k in self._written]:
            outs, stamps, state = self._written.pop(keys[n])
            if all(file_stamp(p) == stamp for p, stamp in stamps.items()):      # not written over since
                self.outputs[n] = (keys[n], outs)
                if n not in self.states and state is not None:
                    self.states[n] = state
                back.append(n)
        for n in [n for n, k in keys.items() if n not in self.states and k in self._ran]:
            k = keys[n]
            if self.outputs.get(n, ("", {}))[0] == k or k in self.executor.cache:     # its result is at hand
                self.states[n] = self._ran.pop(k)
                back.append(n)
        if gone or back:
            self.version += 1
        return gone

    def _remember_ran(self, state: NodeState | None) -> None:
        """Keep a finished node's state (``done``, ``cached``) by its content key, for that node back
        (see :meth:`forget_stale`); the last :data:`WRITTEN_KEPT` only."""
        if state is None or state.kind not in ("done", "cached") or not state.key:
            return
        _keep(self._ran, state.key, state)

    def _remember_written(self, nid: str) -> None:
        """Keep what node ``nid`` wrote (outputs that are all file paths, e.g. an export's), its
        state, and each file's stamp, by its content key; the last :data:`WRITTEN_KEPT` only."""
        item = self.outputs.get(nid)
        if item is None or not item[1] or not all(isinstance(v, str) for v in item[1].values()):
            return
        stamps = {p: file_stamp(p) for p in item[1].values()}
        if any(stamp is None for stamp in stamps.values()):
            return
        _keep(self._written, item[0], (item[1], stamps, self.states.get(nid)))

    def output(self, graph: Graph, node_id: str, port: str, keys: dict[str, str] | None = None) -> Any | None:
        """The value of ``node_id.port`` from the last run, if it still matches the graph."""
        keys = keys if keys is not None else (self.current_keys(graph) or {})
        key = keys.get(node_id)
        item = self.outputs.get(node_id)
        if item is None or item[0] != key:
            hit = self.executor.cache.get(key) if key else None   # e.g. finished before a failed run stopped
            if key is None or hit is None:
                return None
            item = self.outputs[node_id] = (key, hit)
        return item[1].get(port)

    def close(self, timeout_s: float = CLOSE_WAIT_S) -> bool:
        """Cancel every job and wait until each has ended, at most ``timeout_s`` in all, then close
        the executor; returns whether they all ended.  A run's thread is a daemon: one still inside
        native code when Python finalizes is ended there (``pthread_exit``), and that unwinding a C++
        frame with the GIL released (scipy's pocketfft) aborted the editor on quit (QA70 D2:
        "terminate called without an active exception", rc 134).  A cancelled node stops at its next
        progress or cancel check, so the wait is that long."""
        self.stop()
        end = time.monotonic() + timeout_s
        for job in self.jobs + self._detached:
            try:
                job.handle.exception(max(0.0, end - time.monotonic()))
            except (cf.TimeoutError, cf.CancelledError):
                pass
        ended = all(job.handle.done() for job in self.jobs + self._detached)
        self.executor.close(wait=ended)
        return ended


def _keep(memory: collections.OrderedDict[str, Any], key: str, value: Any) -> None:
    """Remember ``value`` under content key ``key`` as the newest; only the last :data:`WRITTEN_KEPT` stay."""
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > WRITTEN_KEPT:
        memory.popitem(last=False)
