"""What a running node may ask of the engine: :class:`Context`, and the shared progress of a node
mapped over a list (:class:`ItemProgress`).

The executor makes a :class:`Context` for each node it calls (:mod:`nodeflow.nodecall`); a node gets
it by declaring a keyword-only ``ctx: Context`` (see :func:`nodeflow.node.node`) and through it
reports progress, checks for cancellation, warns, hands on pieces of its output while it works and
resolves the paths it reads and writes.  Kept apart from :mod:`nodeflow.node`, which declares node
types: this is the run's side of a call.  :mod:`nodeflow.node` re-exports :class:`Context`, where
node packs import it from.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

from .errors import Cancelled

__all__ = ["Context", "ItemProgress", "MemoryRoom", "Admission"]

_BILLION = 1_000_000_000


class MemoryRoom:
    """What a run may still take of memory past its estimate, shared by the nodes running side by side:
    the memory limit less the estimated peak (:func:`~nodeflow.validation.memory_room`).

    A node whose size the estimate could not know (a decode of a file whose header gives no length)
    takes each growth past what the estimate counted with :meth:`take`, and gives back what it frees;
    a growth that does not fit is refused, so such nodes never take the run past its memory limit
    together (QA79 D4: three loads of a 375 KB FLAC with its length zeroed, estimated at 4 s each,
    decoded 4 GiB apiece side by side: 14.5 GB, the limit being 11.8 GiB).  What was taken stays taken
    for the run: the value it made is held past its estimate.  A node that starts beside a running one takes
    its estimated working buffers from it until it ends (the estimate counts one node's at a time), and
    waits for its turn where they do not fit (:class:`~nodeflow.scheduler.Scheduler`)."""

    def __init__(self, room: int) -> None:
        self.room, self.taken = max(0, int(room)), 0
        self._lock = threading.Lock()

    def take(self, nbytes: int) -> bool:
        """Take ``nbytes`` more if they fit in what is left; False (nothing taken) where they do not."""
        with self._lock:
            if self.taken + nbytes > self.room:
                return False
            self.taken += nbytes
            return True

    def give(self, nbytes: int) -> None:
        with self._lock:
            self.taken = max(0, self.taken - nbytes)


class Admission:
    """Runs going on side by side on one executor (sweep variants, the editor's run and a preview): a run
    starts beside others only while their estimated peaks fit what the memory limit leaves past its own, and
    else waits its turn; a run alone always starts (measured: a sweep of two 3-minute masters, each estimated
    at 395 MiB, took 716 MB side by side under a 0.42 GB limit; now 390 MB, one after the other)."""

    def __init__(self) -> None:
        self.reserved = 0                   # the estimated peaks of the runs going on now
        self._cond = threading.Condition()

    def admit(self, peak: int, room: int, cancel_event: threading.Event | None = None) -> int:
        """Wait until the others' peaks are at most ``room`` (the limit less this run's ``peak``), then count
        this run's; returns the others' peaks, which come off its room.  Stop while waiting cancels it."""
        with self._cond:
            while self.reserved and self.reserved > room:
                if cancel_event is not None and cancel_event.is_set():
                    raise Cancelled("run cancelled")
                self._cond.wait(0.1)
            others = self.reserved
            self.reserved += peak
            return others

    def leave(self, peak: int) -> None:
        """A run admitted with ``peak`` ended (whatever happened)."""
        with self._cond:
            self.reserved -= peak
            self._cond.notify_all()


class ItemProgress:
    """The progress of a node mapped over a list, its items running side by side: each item's fraction
    done, reported as their sum of ``n`` items, so that it only goes forward (QA: items' own progress
    scaled to ``i * total + done`` interleaved, and a bar jumped back from 85 % to 2 %, 17 times)."""

    def __init__(self, node_id: str, n: int, emit: Callable[..., None]):
        self.node_id, self.n, self._emit = node_id, n, emit
        self._done = [0] * n         # each item's fraction in billionths: their sum is exact
        self._sum = 0                # of _done, kept as it changes: a list of 72,000 windows reports often
        self._lock = threading.Lock()

    def report(self, i: int, fraction: float, message: str = "") -> None:
        with self._lock:
            new = max(self._done[i], round(min(max(float(fraction), 0.0), 1.0) * _BILLION))
            self._sum += new - self._done[i]
            self._done[i] = new
            self._emit("progress", self.node_id, done=self._sum / _BILLION, total=self.n, message=message)


class Context:
    """What a running node may ask of the engine: progress, cancellation, paths and the graph.

    Created by the executor for each node execution; a node gets it by declaring ``ctx: Context``.
    """

    def __init__(self, node_id: str = "node", *, emit: Callable[..., None] | None = None,
                 cancel_event: threading.Event | None = None, base_dir: Path | None = None,
                 output_dir: Path | None = None, graph: Any = None, protected_files: frozenset[Path] = frozenset(),
                 device: str = "auto", item: tuple[int, int] | None = None, allow_outside: tuple[str | Path, ...] = (),
                 memory: MemoryRoom | None = None):
        self.node_id = node_id
        self._emit = emit
        self._cancel = cancel_event or threading.Event()
        self.base_dir = Path(base_dir) if base_dir else Path.cwd()
        self.output_dir = Path(output_dir) if output_dir else self.base_dir
        self.graph = graph
        self.protected_files = protected_files
        self.device = device
        self.item = item  # (index, count) while the node is mapped over a list
        self.items: ItemProgress | None = None      # the list's progress, shared by its items' contexts
        self.allow_outside = tuple(allow_outside)   # folders the user allowed writes under (--allow-outside)
        self._handed: dict[str, int] = {}           # port -> audio frames handed on by chunk()
        self.memory = memory    # the run's room past its estimate (None outside a run: only the node's own limits)

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        """Raise :class:`Cancelled` if the run was cancelled; long nodes call this often."""
        if self._cancel.is_set():
            raise Cancelled(f"node '{self.node_id}' cancelled")

    def progress(self, done: float, total: float, message: str = "") -> None:
        """Report progress (``done`` of ``total`` steps); also checks for cancellation."""
        self.check_cancelled()
        if self._emit is not None:
            if self.item is not None and self.items is not None:    # mapped: the whole list's progress
                self.items.report(self.item[0], done / total if total else 1.0, message)
                return
            self._emit("progress", self.node_id, done=done, total=total, message=message)

    def warn(self, message: str) -> None:
        """Say something about this node's result that is not an error (a near-silent clip raised by
        70 dB to its loudness target): the run goes on; the CLI prints it, the editor shows it on the
        node and :class:`~nodeflow.executor.RunResult` keeps it (``res.warnings``).  A value taken from
        the cache later in the same process says it again.  Called outside a run (no listener), it is
        a Python :class:`~nodeflow.errors.AudioChainWarning`."""
        if self.item is not None:
            message = f"item {self.item[0] + 1} of {self.item[1]}: {message}"
        if self._emit is not None:
            self._emit("warning", self.node_id, message=message)
            return
        import warnings

        from .errors import AudioChainWarning
        warnings.warn(f"node '{self.node_id}': {message}", AudioChainWarning, stacklevel=2)

    def chunk(self, value: Any, port: str = "out", *, total_frames: int | None = None) -> None:
        """Hand on a finished piece of output ``port`` while the node still works (a generated
        window): :meth:`Executor.stream <nodeflow.executor.Executor.stream>` yields it at once.
        The pieces, in order, must make the whole output (audio: consecutive parts that
        concatenate to it).  An audio piece that does not say where it starts (``start_frame``
        0 after the first) is placed after the frames handed on before it.  Ignored inside a list
        item (each item is a piece already).

        ``total_frames`` (with the first audio piece): the frames the whole output will have,
        where the node knows before it has made them (a model asked for a duration), for an
        output that starts at frame 0 of its own (not a window placed in a longer clip: a
        resample places its output by that).  Then the nodes after it that work block by block
        (gain, resample, fade...) hand their output on piece by piece too when one of them is
        streamed (:mod:`nodeflow.relay`)."""
        if self._emit is None or self.item is not None:
            return
        from .audio import Audio
        if isinstance(value, Audio):       # (QA: a plug-in's pieces all said start_frame=0)
            sent = self._handed.get(port, 0)
            if value.start_frame == 0 and sent:
                value = value.replace(start_frame=sent)
            self._handed[port] = sent + value.frames
        self._emit("chunk", self.node_id, value={port: value}, total=total_frames)

    def resolve_input(self, path: str) -> Path:
        """An input path, relative ones resolved against the graph file's folder."""
        from .outputs import resolve
        return resolve(path, self.base_dir)

    def resolve_output(self, path: str, *, param: str = "path") -> Path:
        """An output path, relative ones resolved against the run's output folder.

        Raises :class:`~nodeflow.errors.ParameterError` when the file may not be written there (see
        :mod:`nodeflow.outputs`): outside the output folder, or over a file AudioChain did not
        export, unless this node's ``param`` was set by the user or the place is allowed.
        """
        from .errors import ParameterError
        from .outputs import resolve, write_problem
        dest = resolve(path, self.output_dir)
        own = self.graph is not None and hasattr(self.graph, "is_own_path") and self.graph.is_own_path(self.node_id, param)
        why = write_problem(dest, self.output_dir, self.allow_outside, own=own or self.graph is None, value=path)
        if why:
            raise ParameterError(why)
        return dest
