"""What a run hands its caller: an :class:`Event` for every step of every node (``on_event``), a
:class:`RunResult` at the end, a :class:`RunHandle` for a run in a background thread, and ``Emit``,
the signature through which the parts of a run report events.  :mod:`nodeflow.executor` makes
them and exports them; import them from there.
"""
from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import threading
from collections.abc import Mapping
from typing import Any, Callable, Iterable, Iterator

__all__ = ["Event", "RunResult", "RunHandle", "Skips", "Emit", "no_listener"]

# how a run reports events: emit(kind, node_id, **Event fields)
Emit = Callable[..., None]


#: what a ``cached`` event says of a value served by the values of its inputs (an early cutoff)
SAME_INPUTS = "its inputs are the same values as in an earlier run"


@dataclasses.dataclass(frozen=True)
class Event:
    kind: str                 # queued | started | progress | chunk | warning | cached | finished | failed | cancelled
                              # | skipped (not run: left out while the run went on, RunHandle.skip, or
                              # never started in a run that failed or was stopped; message says which)
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
    content keys (what the cache is indexed by) are ``res.cache_keys``; what nodes said of their
    results (:meth:`Context.warn <nodeflow.node.Context.warn>`) is ``res.warnings``, a list by node id.
    """

    def __init__(self, outputs: dict[str, dict[str, Any]], ran: set[str], cached: set[str],
                 cache_keys: dict[str, str], elapsed_s: float, warnings: dict[str, list[str]] | None = None):
        self.outputs, self.ran, self.cached, self.elapsed_s = outputs, ran, cached, elapsed_s
        self.cache_keys = cache_keys
        self.warnings: dict[str, list[str]] = warnings or {}

    def __getitem__(self, node_id: str) -> dict[str, Any]:
        return self.outputs[node_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self.outputs)

    def __len__(self) -> int:
        return len(self.outputs)

    def __repr__(self) -> str:
        return f"<RunResult {len(self.outputs)} nodes, ran {sorted(self.ran)}, cached {sorted(self.cached)}>"


class Skips:
    """Nodes a run in progress leaves out: ones that have not started (the editor deleted them), and so
    every node that needs them; the rest of the run goes on.  :meth:`skip` and the scheduler's
    :meth:`start` take the same lock, so a node either starts or is left out, never both."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.skipped: set[str] = set()
        self.started: set[str] = set()

    def skip(self, nodes: Iterable[str]) -> bool:
        """Leave ``nodes`` out; False (and nothing left out) when one of them has started already."""
        return self._claim(set(nodes), self.started, self.skipped)

    def start(self, nodes: Iterable[str]) -> bool:
        """The scheduler starts ``nodes`` (one unit: a node, or a streamed chain); False: left out."""
        return self._claim(set(nodes), self.skipped, self.started)

    def _claim(self, nodes: set[str], taken: set[str], into: set[str]) -> bool:
        with self._lock:
            if nodes & taken:
                return False
            into |= nodes
            return True


class RunHandle:
    """A run in a background thread: ``cancel()``, ``skip(nodes)``, ``done()``, ``result(timeout)``."""

    def __init__(self, cancel_event: threading.Event, skips: Skips | None = None):
        self._cancel = cancel_event
        self.skips = skips or Skips()
        self._future: cf.Future[RunResult] = cf.Future()

    def cancel(self) -> None:
        self._cancel.set()

    def skip(self, nodes: Iterable[str]) -> bool:
        """Leave out ``nodes`` and what needs them, the rest running on (see :class:`Skips`); False
        when one of them has started (then :meth:`cancel` is the way to stop it)."""
        return self.skips.skip(nodes)

    def done(self) -> bool:
        return self._future.done()

    def result(self, timeout: float | None = None) -> RunResult:
        return self._future.result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        return self._future.exception(timeout)



def no_listener(kind: str, node_id: str, **kw: Any) -> None:
    """``emit`` for a run nobody listens to."""
