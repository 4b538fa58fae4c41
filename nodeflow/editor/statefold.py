"""How the engine's events become the editor's node states: the part of :class:`~.runner.Runner` that
folds each event :meth:`Runner.poll <.runner.Runner.poll>` takes from its queue into
:attr:`Runner.states <.runner.Runner.states>`.

A node's events move its :class:`~.runstate.NodeState` on (``queued``, ``running`` with its progress
and the marks its time left is estimated from, then ``done``, ``cached``, ``failed``, ``cancelled``);
its warnings are kept with its result; a failed node's error loses the node's name it repeats, and the
queued nodes after it are ``blocked`` at once.  A job that only waits for another job's computation of
a node (play pressed on a node a run computes) rides on it, and its own events for that node are not
shown.  Kept apart from :mod:`.runner`, which starts, stops and finishes the jobs and keeps their
results: :class:`StateFolding` is a mixin of :class:`~.runner.Runner`, working on the runner's own
attributes (declared below).  This module does not import dearpygui.
"""
from __future__ import annotations

import re
import time

from ..executor import Event
from .jobs import Job, downstream
from .runstate import NodeState

__all__ = ["StateFolding"]


class StateFolding:
    """Folding executor events into node states; :class:`~.runner.Runner` holds the attributes."""

    # the runner's own, made (and described) in Runner.__init__
    states: dict[str, NodeState]
    jobs: list[Job]
    _job_keys: dict[str, str]
    _said: dict[str, list[str]]
    _waiting: dict[str, set[int]]
    _riding: set[tuple[int, str]]

    def _rides(self, ev: Event, number: int) -> bool:
        """Whether ``ev`` is of a job that only waits for another job's computation of its node:
        the executor computes a value once, and a second job wanting it (play pressed on a node the
        run computes, or Run while a preview computes it) waits for it, then takes it as ``cached``.
        Its ``queued`` and ``cached`` (and what it says again) are not shown, or the node said
        ``queued`` while it ran, then ``cached`` instead of ``done in N s`` (QA70 D3): the node shows
        the job that computes it.  A waiting job that starts computing the node itself (the other
        was stopped) is shown again."""
        nid, ride = ev.node_id, (number, ev.node_id)
        if ev.kind in ("started", "progress"):        # computing it: jobs waiting for it ride on this one
            self._riding |= {(w, nid) for w in self._waiting.pop(nid, set()) if w != number}
            self._riding.discard(ride)
            return False
        if ev.kind == "queued":
            self._waiting.setdefault(nid, set()).add(number)
            st = self.states.get(nid)
            if st is not None and st.kind == "running":   # another job computes it: this one waits
                self._riding.add(ride)
                return True
            return False
        if ev.kind != "warning":                      # an end: cached, finished, failed, cancelled, skipped
            self._waiting.get(nid, set()).discard(number)
            if ride in self._riding:
                self._riding.discard(ride)
                return True
            return False
        return ride in self._riding

    def _apply(self, ev: Event) -> None:
        key = self._job_keys.get(ev.node_id)
        st = self.states.get(ev.node_id)
        now = time.monotonic()
        if ev.kind == "skipped":            # left out (deleted before it started), or never started in a run
            if st is None or st.kind != "blocked":     # that failed or stopped: it did not run (a node
                self.states.pop(ev.node_id, None)      # after a failed one keeps its 'not run: after')
            return
        if ev.kind == "warning":            # kept with the node's result (said again when it comes from cache)
            self._said.setdefault(ev.node_id, []).append(ev.message)
            if st is not None:
                st.warnings = list(self._said[ev.node_id])
            return
        if ev.kind in ("queued", "started"):
            self._said.pop(ev.node_id, None)
        if ev.kind == "progress":
            if st is None or st.kind != "running":
                st = self.states[ev.node_id] = NodeState("running", key, started=now)
            st.done, st.total, st.message, st.now = ev.done, ev.total, ev.message, now
            if ev.total:
                st.first = st.first or (now, (ev.done or 0.0) / ev.total)
                st.marks = [m for m in st.marks if now - m[0] <= 60.0][-200:] + [(now, (ev.done or 0.0) / ev.total)]
            return
        kind = {"started": "running", "finished": "done"}.get(ev.kind, ev.kind)
        message = ev.message
        if kind == "failed":        # on its own node the error needs no "node 'x' (type): " in front,
            message = re.sub(rf"^node '{re.escape(ev.node_id)}'( \([^)]*\))?: ", "", message or "")
            type_id = next((j.graph.nodes[ev.node_id].type for j in self.jobs       # nor the node type's
                            if j.graph is not None and ev.node_id in j.graph.nodes), "")   # "trim: " (QA: the
            short = type_id.rpartition(".")[2]          # one line showed "failed: trim: start_s=30 is...")
            if short and message.startswith(f"{short}: "):
                message = message[len(short) + 2:]
        self.states[ev.node_id] = NodeState(kind, key, message=message, elapsed_s=ev.elapsed_s, causes=_causes(ev.error),
                                            started=now if kind == "running" else None,
                                            warnings=list(self._said.get(ev.node_id, ())))
        if kind == "failed":                # the nodes after it will not run: said now, not when the run ends
            self._block_after(ev.node_id)

    def _block_after(self, nid: str) -> None:
        """Mark the queued nodes after failed node ``nid`` ``blocked`` ("not run: after 'nid'")."""
        for job in self.jobs:
            for d in downstream(job, {nid}):
                st = self.states.get(d)
                if d in job.keys and (st is None or st.kind == "queued"):
                    self.states[d] = NodeState("blocked", job.keys[d], message=f"after '{nid}'")


def _causes(err: BaseException | None) -> tuple[type[BaseException], ...]:
    """The types along ``err``'s chain of causes, ``err``'s own first."""
    out: list[type[BaseException]] = []
    while err is not None and len(out) < 16:
        out.append(type(err))
        err = err.__cause__
    return tuple(out)
