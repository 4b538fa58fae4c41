"""Undo and redo as deltas between graph states.

Every edit the editor makes is recorded the same way: a :class:`Snapshot` of the graph before and
after the edit, reduced to a :class:`Delta` that holds only what changed (the nodes that were added,
removed or edited, and the link list, editor section, metadata or node order or saved sweep when those changed).
Undo applies the delta backwards, redo forwards, in place on the same :class:`~nodeflow.Graph`
object, and bumps ``graph.revision`` so views and autosave notice.  Recording by state rather than
by hand-written inverse operations makes every edit undoable by construction, including the ones
the graph does implicitly (removing a node drops its links and its position; connecting into an
occupied input replaces the old link).

This module does not import dearpygui.

>>> from nodeflow import Graph
>>> g = Graph(); h = History()
>>> before = snapshot(g); _ = g.add("dsp.gain", id="gain")
>>> h.record("add gain", before, snapshot(g))
True
>>> h.undo(g), "gain" in g.nodes
('add gain', False)
>>> h.redo(g), "gain" in g.nodes
('add gain', True)
"""
from __future__ import annotations

import dataclasses
from typing import Any, Hashable

from ..graph import Graph, Link, NodeInstance

__all__ = ["Snapshot", "Delta", "History", "snapshot", "clone"]


def clone(x: Any) -> Any:
    """A deep copy of plain data (dicts, lists, tuples of scalars); much cheaper than ``copy.deepcopy``."""
    if isinstance(x, dict):
        return {k: clone(v) for k, v in x.items()}
    if isinstance(x, list):
        return [clone(v) for v in x]
    if isinstance(x, tuple):
        return tuple(clone(v) for v in x)
    return x


def _copy_node(inst: NodeInstance) -> NodeInstance:
    return NodeInstance(inst.id, inst.type, dict(inst.params), inst.version)


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """Everything an edit can change in a graph, copied so later edits cannot alter it."""
    order: tuple[str, ...]
    nodes: dict[str, NodeInstance]
    links: tuple[Link, ...]
    editor: dict[str, Any]
    metadata: dict[str, Any]
    sweep: dict[str, Any] = dataclasses.field(default_factory=dict)


def snapshot(graph: Graph) -> Snapshot:
    """Copy the editable state of ``graph`` (O(size of the graph); ~0.2 ms for 200 nodes)."""
    return Snapshot(tuple(graph.nodes), {k: _copy_node(v) for k, v in graph.nodes.items()},
                    tuple(graph.links), clone(graph.editor), clone(graph.metadata), clone(getattr(graph, "sweep", {})))


@dataclasses.dataclass(frozen=True)
class Delta:
    """What changed between two snapshots. ``nodes`` maps an id to ``(before, after)``, ``None`` for
    absent; the other fields are ``(before, after)`` pairs, ``None`` when unchanged."""
    nodes: dict[str, tuple[NodeInstance | None, NodeInstance | None]]
    links: tuple[tuple[Link, ...], tuple[Link, ...]] | None = None
    editor: tuple[dict[str, Any], dict[str, Any]] | None = None
    metadata: tuple[dict[str, Any], dict[str, Any]] | None = None
    order: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    sweep: tuple[dict[str, Any], dict[str, Any]] | None = None

    @classmethod
    def between(cls, a: Snapshot, b: Snapshot) -> "Delta":
        nodes: dict[str, tuple[NodeInstance | None, NodeInstance | None]] = {}
        for nid in a.nodes.keys() | b.nodes.keys():
            x, y = a.nodes.get(nid), b.nodes.get(nid)
            if x is None or y is None or (x.type, x.params, x.version) != (y.type, y.params, y.version):
                nodes[nid] = (x, y)
        return cls(nodes,
                   (a.links, b.links) if a.links != b.links else None,
                   (a.editor, b.editor) if a.editor != b.editor else None,
                   (a.metadata, b.metadata) if a.metadata != b.metadata else None,
                   (a.order, b.order) if a.order != b.order else None,
                   (a.sweep, b.sweep) if a.sweep != b.sweep else None)

    @property
    def empty(self) -> bool:
        return not self.nodes and self.links is None and self.editor is None and self.metadata is None \
            and self.order is None and self.sweep is None

    def apply(self, graph: Graph, forward: bool = True) -> None:
        """Move ``graph`` from the delta's before-state to its after-state (or back)."""
        side = 1 if forward else 0
        for nid, pair in self.nodes.items():
            inst = pair[side]
            if inst is None:
                graph.nodes.pop(nid, None)
            else:
                graph.nodes[nid] = _copy_node(inst)
        if self.order is not None:
            graph.nodes = {nid: graph.nodes[nid] for nid in self.order[side] if nid in graph.nodes}
        if self.links is not None:
            graph.links = list(self.links[side])
        if self.editor is not None:
            graph.editor = clone(self.editor[side])
        if self.metadata is not None:
            graph.metadata = clone(self.metadata[side])
        if self.sweep is not None:
            graph.sweep = clone(self.sweep[side])
        graph.revision += 1

    def touched_nodes(self) -> set[str]:
        return set(self.nodes)


@dataclasses.dataclass
class _Entry:
    label: str
    delta: Delta
    merge_key: Hashable | None
    before: Snapshot | None   # kept for the newest entry only, so a following edit can merge into it
    view: Any = None          # what the editor showed before and after the step, where the step moved the view


class History:
    """Undo and redo stacks of :class:`Delta` entries, with a clean mark for "saved" state.

    ``merge_key`` lets a stream of edits to the same thing (a slider being dragged) become one
    undo step: a new entry with the same key as the newest one replaces it, unless the document
    was saved or the step :meth:`sealed <seal>` in between.
    """

    def __init__(self, limit: int = 500):
        self.limit = limit
        self._done: list[_Entry] = []
        self._undone: list[_Entry] = []
        self._clean: int | None = 0   # len(self._done) at the last save; None: unreachable

    # ------------------------------------------------------------------ recording
    def record(self, label: str, before: Snapshot, after: Snapshot, merge_key: Hashable | None = None) -> bool:
        """Record an edit from ``before`` to ``after``; returns False when nothing changed."""
        top = self._done[-1] if self._done else None
        if (merge_key is not None and top is not None and top.merge_key == merge_key and top.before is not None
                and not self._undone and self._clean != len(self._done)):
            delta = Delta.between(top.before, after)
            if delta.empty:   # dragged back to where it started: the step vanishes
                self._done.pop()
            else:
                top.delta, top.label = delta, label
            return True
        delta = Delta.between(before, after)
        if delta.empty:
            return False
        if top is not None:
            top.before = None
        self._done.append(_Entry(label, delta, merge_key, before))
        if self._undone:
            self._undone.clear()
            if self._clean is not None and self._clean >= len(self._done):
                self._clean = None   # the saved state was in the discarded redo branch
        if len(self._done) > self.limit:
            del self._done[0]
            self._clean = None if self._clean in (None, 0) else self._clean - 1
        return True

    # ------------------------------------------------------------------ moving
    def undo(self, graph: Graph) -> str | None:
        """Undo the newest edit on ``graph``; returns its label, or None when there is nothing to undo."""
        if not self._done:
            return None
        entry = self._done.pop()
        entry.delta.apply(graph, forward=False)
        entry.before = None
        self._undone.append(entry)
        return entry.label

    def redo(self, graph: Graph) -> str | None:
        if not self._undone:
            return None
        entry = self._undone.pop()
        entry.delta.apply(graph, forward=True)
        self._done.append(entry)
        return entry.label

    def keep_view(self, before: Any, after: Any) -> None:
        """Remember the view before and after the newest step (an add that panned to show its node),
        which :meth:`view` gives back as it is undone or redone."""
        if self._done:
            self._done[-1].view = (before, after)

    def view(self, undo: bool) -> Any:
        """The view to show once the step that :meth:`undo` (``undo``) or :meth:`redo` would take is
        taken, where :meth:`keep_view` kept one; else None."""
        stack = self._done if undo else self._undone
        kept = stack[-1].view if stack else None
        return None if kept is None else kept[0 if undo else 1]

    def retract(self, graph: Graph, merge_key: Hashable) -> str | None:
        """Take back the newest step as if it had not been made (no redo) when it is ``merge_key``'s:
        a slider's first click that turned out to start a double-click (to type a value).  Returns
        its label, or None when the newest step is another's."""
        top = self._done[-1] if self._done else None
        if top is None or top.merge_key != merge_key:
            return None
        self._done.pop()
        top.delta.apply(graph, forward=False)
        if self._clean is not None and self._clean > len(self._done):
            self._clean = None          # saved with the retracted value: no state here matches the file
        return top.label

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    @property
    def undo_label(self) -> str | None:
        return self._done[-1].label if self._done else None

    @property
    def redo_label(self) -> str | None:
        return self._undone[-1].label if self._undone else None

    # ------------------------------------------------------------------ saved state
    def seal(self) -> None:
        """End the newest step: a following edit with the same ``merge_key`` is a step of its own."""
        if self._done:
            self._done[-1].before = None

    def mark_clean(self) -> None:
        """The graph as it is now is what the file on disk holds."""
        self._clean = len(self._done)
        self.seal()   # a later edit must not merge across the save

    def mark_dirty(self) -> None:
        """No state in this history matches the file (e.g. a recovered graph)."""
        self._clean = None

    @property
    def dirty(self) -> bool:
        return self._clean != len(self._done)

    def clear(self) -> None:
        self._done.clear()
        self._undone.clear()
        self._clean = 0

    def __len__(self) -> int:
        return len(self._done)
