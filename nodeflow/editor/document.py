"""The edited document: one :class:`~nodeflow.Graph`, its undo history and where it lives on disk.

Every edit the editor makes goes through :meth:`Document.edit`, which snapshots the graph before
and after the change and records the difference in the :class:`~.history.History`, so every edit is
undoable by construction.  The editor holds no state of its own beyond the graph: node positions
live in ``graph.editor["positions"]``.  This module does not import dearpygui; the GUI calls it and
tests can drive it directly.

>>> doc = Document()
>>> a = doc.add_node("dsp.gain", (40, 40)); b = doc.add_node("dsp.fade", (260, 40))
>>> _ = doc.connect(a, "out", b, "audio")
>>> doc.undo(); len(doc.graph.links)
'connect gain.out -> fade.audio'
0
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable, Hashable, Iterable, Mapping, Sequence, TypeVar

from ..errors import GraphError, NodeflowError
from ..graph import Graph, Link
from .history import History, snapshot

__all__ = ["Document", "EditRefused", "positions", "own_write_names"]

T = TypeVar("T")


class EditRefused(NodeflowError):
    """An edit the graph does not allow (a type mismatch, a cycle, a bad value); the message says why."""


def positions(graph: Graph) -> dict[str, list[float]]:
    """The editor's node positions (created on first use), ``{node_id: [x, y]}``."""
    pos = graph.editor.get("positions")
    if not isinstance(pos, dict):
        pos = graph.editor["positions"] = {}
    return pos


def own_write_names(graph: Graph, node_ids: Iterable[str], keep: Iterable[str] = ()) -> dict[tuple[str, str], str]:
    """Give each write path of the new nodes ``node_ids`` (an export's ``path``) that names a file
    another node of ``graph`` writes a name of its own: ``out.wav`` -> ``out-2.wav`` (then ``-3``...,
    the first no node writes; the folder and the extension, hence the format, kept; ``out-2.wav``
    pasted again -> ``out-3.wav``), so the node just added can run (QA: a second export wrote
    ``out.wav`` too and was marked at once).  A path naming a folder is left alone (the node makes
    its file name there), and so are the parameters named in ``keep`` (given by the caller).  The
    new nodes are taken in order, each clear of those before it.  Returns ``{(node, param): new
    path}`` of what it changed.

    >>> g = Graph(); _ = g.add("io.export", id="a"); _ = g.add("io.export", id="b")
    >>> own_write_names(g, ["b"]), g.nodes["b"].params["path"]
    ({('b', 'path'): 'out-2.wav'}, 'out-2.wav')
    """
    new, keep = list(dict.fromkeys(node_ids)), set(keep)
    paths = graph.write_paths()
    taken = {_same(v) for (n, _), v in paths.items() if n not in new}
    changed = {}
    for nid in new:
        for (n, name), value in sorted(paths.items()):
            if n != nid or value.rstrip().endswith(("/", os.sep)):
                continue
            if _same(value) in taken and name not in keep:
                value = _free_name(value, taken)
                graph.set(nid, name, value, own=False)
                changed[(nid, name)] = value
            taken.add(_same(value))
    return changed


def _same(path: str) -> str:
    """A write path as compared with the others (``./out.wav`` and ``out.wav`` name one file)."""
    return os.path.normpath(path.strip())


def _free_name(value: str, taken: set[str]) -> str:
    """``value`` with ``-2``, ``-3``... after its file name's stem (``out-2.wav``: ``-3``, ``-4``...):
    the first that is not in ``taken``."""
    stripped = value.strip()
    folder, name = stripped[:len(stripped) - len(os.path.basename(stripped))], os.path.basename(stripped)
    stem, ext = os.path.splitext(name)
    m = re.fullmatch(r"(.+)-(\d+)", stem)
    base, n = (m.group(1), int(m.group(2)) + 1) if m else (stem, 2)
    while _same(f"{folder}{base}-{n}{ext}") in taken:
        n += 1
    return f"{folder}{base}-{n}{ext}"


class Document:
    """A graph being edited.

    Parameters
    ----------
    graph
        The graph to edit (a new empty one by default).
    path
        The graph file it was opened from; ``None`` for an untitled graph or one that must be saved
        under a new name (e.g. a graph restored from an exported audio file).
    """

    def __init__(self, graph: Graph | None = None, path: str | Path | None = None):
        self.graph = graph if graph is not None else Graph()
        self.path: Path | None = Path(path) if path else None
        self.history = History()
        self.listeners: list[Callable[[str], None]] = []   # called with the edit's label after each edit

    # ------------------------------------------------------------------ recording
    @property
    def dirty(self) -> bool:
        return self.history.dirty

    @property
    def title(self) -> str:
        return self.path.name if self.path else "untitled"

    def edit(self, label: str, change: Callable[[], T], merge_key: Hashable | None = None) -> T:
        """Apply ``change()`` to the graph as one undoable step.

        A :class:`~nodeflow.NodeflowError` raised by ``change`` leaves the graph as it was and is
        re-raised as :class:`EditRefused` with the same message.
        """
        before = snapshot(self.graph)
        try:
            result = change()
        except NodeflowError as e:
            # restore whatever the failed change may have half-done
            from .history import Delta
            Delta.between(snapshot(self.graph), before).apply(self.graph)
            raise EditRefused(str(e)) from None
        if self.history.record(label, before, snapshot(self.graph), merge_key):
            self._changed(label)
        return result

    def _changed(self, label: str) -> None:
        for fn in list(self.listeners):
            fn(label)

    def undo(self) -> str | None:
        label = self.history.undo(self.graph)
        if label:
            self._changed("undo " + label)
        return label

    def redo(self) -> str | None:
        label = self.history.redo(self.graph)
        if label:
            self._changed("redo " + label)
        return label

    def retract_param(self, node_id: str, param: str) -> bool:
        """Put ``node_id.param`` back to before its newest step, leaving no undo or redo step (a
        slider's first click that started a double-click); False when that is not the newest step.

        >>> doc = Document(); g = doc.add_node("dsp.gain"); doc.set_param(g, "gain_db", -40.0)
        >>> doc.retract_param(g, "gain_db"), doc.graph.nodes[g].params["gain_db"], len(doc.history), doc.history.redo_label
        (True, 0.0, 1, None)
        """
        label = self.history.retract(self.graph, ("param", node_id, param))
        if label:
            self._changed("retract " + label)
        return label is not None

    # ------------------------------------------------------------------ edits
    def add_node(self, node_type: str, pos: tuple[float, float] = (40.0, 40.0), node_id: str | None = None,
                 link: tuple[str, str] | None = None, merge_key: Hashable | None = None, **params: Any) -> str:
        """Add a node of a registered type at ``pos``; returns its id.

        ``link=(node, port)``: also link that output (or input) to the new node's first port that
        fits it, in the same undo step (a link dropped on empty canvas, then a node picked);
        ``merge_key``: see :meth:`edit` (a later move with it is part of this step)."""
        def change() -> str:
            ref = self.graph.add(node_type, id=node_id, **params)
            own_write_names(self.graph, [ref.id], keep=params)     # a second export: not the first's file
            positions(self.graph)[ref.id] = [float(pos[0]), float(pos[1])]
            if link is not None:
                self._link_new(ref.id, *link)
            return ref.id
        spec = self.graph.registry.get(node_type)
        return self.edit(f"add {spec.name if spec else node_type}" + (f" linked to {'.'.join(link)}" if link else ""),
                         change, merge_key)

    def _link_new(self, new: str, other: str, port: str) -> None:
        from ..types import link_mode
        g = self.graph
        other_spec, spec = g.registry.get(g.nodes[other].type), g.registry[g.nodes[new].type]
        if other_spec is not None and port in other_spec.outputs:
            t = g.output_types().get((other, port), other_spec.outputs[port].type)
            mine = next((n for n, p in spec.inputs.items() if link_mode(t, p.type)), None)
            ends = (f"{other}.{port}", f"{new}.{mine}")
        else:
            t = other_spec.inputs[port].type if other_spec is not None and port in other_spec.inputs else None
            types = g.output_types()
            mine = next((n for n, p in spec.outputs.items() if t is not None
                         and link_mode(types.get((new, n), p.type), t)), None)
            ends = (f"{new}.{mine}", f"{other}.{port}")
        if mine is None:
            raise GraphError([f"node type {spec.id} has no port that fits {other}.{port}; pick another type"])
        g.connect(*ends)

    def remove(self, node_ids: Iterable[str] = (), links: Iterable[Link] = (), *, verb: str = "delete") -> None:
        """Delete several nodes and links as one step (links of deleted nodes go with them); the
        undo step reads ``verb`` ("cut 1 node")."""
        node_ids, links = [n for n in node_ids if n in self.graph.nodes], list(links)
        if not node_ids and not links:
            return

        def change() -> None:
            for l in links:
                if l in self.graph.links:
                    self.graph.disconnect(f"{l.dst}.{l.dst_port}")
            for n in node_ids:
                self.graph.remove(n)
        what = [f"{len(node_ids)} node{'s' * (len(node_ids) != 1)}"] if node_ids else []
        what += [f"{len(links)} link{'s' * (len(links) != 1)}"] if links else []
        self.edit(f"{verb} " + " and ".join(what), change)

    def connect(self, src: str, src_port: str, dst: str, dst_port: str) -> Link:
        """Link an output to an input; an occupied input loses its old link.

        Raises :class:`EditRefused` naming both ends when the types do not fit or the link would
        make a cycle.
        """
        return self.edit(f"connect {src}.{src_port} -> {dst}.{dst_port}",
                         lambda: self.graph.connect(f"{src}.{src_port}", f"{dst}.{dst_port}"))

    def disconnect(self, dst: str, dst_port: str) -> None:
        self.edit(f"disconnect {dst}.{dst_port}", lambda: self.graph.disconnect(f"{dst}.{dst_port}"))

    def set_param(self, node_id: str, param: str, value: Any, merge: bool = True) -> None:
        """Set a parameter; a stream of changes to the same parameter is one undo step until
        :meth:`end_gesture` (one slider drag is one step, each value typed is a step of its own).

        >>> doc = Document(); g = doc.add_node("dsp.gain")
        >>> doc.set_param(g, "gain_db", -3.0); doc.set_param(g, "gain_db", -4.0); len(doc.history)
        2
        >>> doc.end_gesture(); doc.set_param(g, "gain_db", -5.0); doc.undo(); doc.graph.nodes[g].params["gain_db"]
        'set gain.gain_db'
        -4.0
        """
        if node_id in self.graph.nodes and self.graph.nodes[node_id].params.get(param, object()) == value:
            return
        self.edit(f"set {node_id}.{param}", lambda: self.graph.set(node_id, param, value),
                  merge_key=("param", node_id, param) if merge else None)

    def end_gesture(self) -> None:
        """The user let go of what they were changing (a slider released, a box left): the next
        edit is a new undo step even when it changes the same thing."""
        self.history.seal()

    def move(self, moved: Mapping[str, Sequence[float]], label: str = "", merge_key: Hashable | None = None) -> bool:
        """Record new node positions (after a drag; ``label`` and ``merge_key``: see :meth:`edit`);
        returns whether anything moved."""
        pos = positions(self.graph)
        changed = {n: [float(x), float(y)] for n, (x, y) in moved.items()
                   if n in self.graph.nodes and pos.get(n) != [float(x), float(y)]}
        if not changed:
            return False

        def change() -> None:
            positions(self.graph).update(changed)
            self.graph.revision += 1
        label = label or (f"move {next(iter(changed))}" if len(changed) == 1 else f"move {len(changed)} nodes")
        self.edit(label, change, merge_key)
        return True

    def rename(self, old: str, new: str) -> None:
        def change() -> None:
            self.graph.rename(old, new)
            pos = positions(self.graph)
            if old in pos:
                pos[new] = pos.pop(old)
        self.edit(f"rename {old} to {new}", change)

    def set_metadata(self, key: str, value: Any) -> None:
        def change() -> None:
            self.graph.metadata[key] = value
            self.graph.revision += 1
        self.edit(f"set {key}", change, merge_key=("meta", key))

    def set_sweep(self, sweep: dict[str, Any]) -> None:
        """Keep a sweep in the graph file (``{"mode": ..., "axes": [{"param", "values"}]}``)."""
        def change() -> None:
            self.graph.sweep = sweep
            self.graph.revision += 1
        self.edit("keep sweep in graph" if sweep else "remove sweep", change)

    # ------------------------------------------------------------------ whole-document
    def replace(self, graph: Graph, path: str | Path | None, *, dirty: bool = False) -> None:
        """Swap in another graph (open/new/recover): a fresh history, clean unless ``dirty``."""
        self.graph = graph
        self.path = Path(path) if path else None
        self.history = History()
        if dirty:
            self.history.mark_dirty()
        self._changed("open")

    def problems_by_node(self) -> tuple[dict[str, list[str]], list[str]]:
        """Validation problems grouped by the node they name, plus the ones that name no node."""
        try:
            problems = self.graph.problems()
        except (GraphError, NodeflowError) as e:
            return {}, [str(e)]
        by_node: dict[str, list[str]] = {}
        other: list[str] = []
        for p in problems:
            nid = None
            if p.startswith("node '"):
                nid = p[6:].split("'", 1)[0]
            if nid in self.graph.nodes:
                by_node.setdefault(nid, []).append(p)
            else:
                other.append(p)
        return by_node, other
