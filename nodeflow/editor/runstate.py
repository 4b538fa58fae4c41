"""What the editor knows of each node's run: its state (:class:`NodeState`, with progress and the
time left), and the status-bar messages runs leave (:class:`Said`, :func:`blocked_list`).

:class:`~.runner.Runner` keeps a :class:`NodeState` per node; the canvas draws them.  This module
imports neither dearpygui nor the engine.
"""
from __future__ import annotations

import dataclasses
import time

__all__ = ["NodeState", "Said", "blocked_list"]


class Said(str):
    """A status-bar message that knows how it reads: ``kind`` is ``"error"`` (a run that failed),
    ``"warn"`` (a run that left nodes not run) or ``"info"``; the text is the string itself.

    >>> m = Said("run stopped")
    >>> m.kind, m.startswith("run")
    ('info', True)
    """

    kind: str

    def __new__(cls, text: str, kind: str = "info") -> Said:
        said = super().__new__(cls, text)
        said.kind = kind
        return said


@dataclasses.dataclass
class NodeState:
    kind: str                       # queued | running | cached | done | failed | cancelled
    key: str | None = None          # the content key the state belongs to
    done: float | None = None
    total: float | None = None
    message: str = ""
    # failed: the types of what was raised and its causes (the node's own error first wrapped by the
    # engine); types, not the errors: a traceback would keep the node's arrays alive
    causes: tuple[type[BaseException], ...] = ()
    elapsed_s: float | None = None
    started: float | None = None    # time.monotonic() when it started running (for the time left)
    now: float | None = None        # when the last progress came
    first: tuple[float, float] | None = None    # (when, fraction done) of the first progress it told
    marks: list[tuple[float, float]] = dataclasses.field(default_factory=list)   # recent (when, fraction done)
    warnings: list[str] = dataclasses.field(default_factory=list)   # what the node said of its result (ctx.warn)

    def eta_s(self) -> float | None:
        """Seconds left, from the progress since the node first told it (what came before, such as
        loading a model, is not the work the steps measure; QA: "6 min 56 s left" with 17 s left);
        None until 3 % more is done and 0.5 s have passed.  A node that slows down as it goes (a
        transformer's steps grow with the sequence: QA, 25-50 % low at the average rate) is taken
        to keep slowing at the same pace: its recent rate against its average gives the pace."""
        if not (self.total and self.done and self.now is not None):
            return None
        t0, f0 = self.first if self.first is not None else (self.started, 0.0)
        if t0 is None:
            return None
        frac, spent = self.done / self.total, self.now - t0
        if frac - f0 < 0.03 or spent < 0.5:
            return None
        avg = spent / (frac - f0)                       # seconds per unit of progress so far
        recent = [(t, f) for t, f in self.marks if self.now - t <= max(1.0, spent / 4)]
        if len(recent) >= 2 and recent[-1][1] - recent[0][1] > 0.01:
            now = (recent[-1][0] - recent[0][0]) / (recent[-1][1] - recent[0][1])     # seconds per unit lately
            if now > avg:        # costs growing in a line: the pace is twice the distance from the average
                pace = (now - avg) / ((frac - f0) / 2)
                return (1.0 - frac) * now + pace * (1.0 - frac) ** 2 / 2
        return (1.0 - frac) * avg

    def describe(self) -> str:
        if self.kind == "running" and self.total:
            pct = 100.0 * (self.done or 0.0) / self.total
            eta = self.eta_s()
            left = "" if eta is None else f", {_duration(eta)} left"
            return f"running {pct:.0f}%{left}" + (f" {self.message}" if self.message else "")
        if self.kind == "running" and self.started is not None:     # a node that tells no progress (one
            spent = time.monotonic() - self.started                 # Rubber Band call): how long so far
            if spent >= 1.0:
                return f"running for {_duration(spent)}"
        if self.kind == "blocked":
            return "not run: " + self.message
        if self.kind == "failed":
            return "failed: " + self.message
        said = "".join(f"; warning: {w}" for w in self.warnings)
        if self.kind == "done" and self.elapsed_s is not None:
            return f"done in {self.elapsed_s:.2f} s" + said
        return self.kind + said


def blocked_list(blocked: dict[str, str]) -> str:
    """The nodes a run leaves out, for a status line: ``mix ('a' not linked), tail`` (one that comes
    after another is named alone; its node says after which).

    >>> blocked_list({"tail": "after 'mix'", "mix": "'a' not linked"})
    "mix ('a' not linked), tail"
    """
    return ", ".join(f"{k} ({v})" if not v.startswith("after ") else k for k, v in sorted(blocked.items()))


def _duration(seconds: float) -> str:
    """``42 s``, ``3 min 5 s``, ``1 h 2 min``.

    >>> _duration(4.2), _duration(185), _duration(3720)
    ('4 s', '3 min 5 s', '1 h 2 min')
    """
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"
