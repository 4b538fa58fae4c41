"""Copy, paste and duplicate a selection of nodes (with the links between them).

A clip is plain data (what a graph file holds for those nodes), so it can also travel through the
system clipboard as JSON.  Pasting gives the nodes fresh ids, keeps the links among them, and
offsets their positions so the copies do not hide the originals; a copied export gets a file name
of its own (``out-2.wav``: see :func:`.document.own_write_names`).  This module does not import
dearpygui.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

from ..graph import Graph
from .document import Document, own_write_names, positions

__all__ = ["copy_nodes", "paste", "duplicate", "to_text", "from_text", "CLIP_FORMAT"]

CLIP_FORMAT = "audiochain.clip"


def copy_nodes(graph: Graph, node_ids: Iterable[str]) -> dict[str, Any]:
    """The selected nodes, their parameters, positions and the links among them as plain data."""
    ids = [n for n in node_ids if n in graph.nodes]
    chosen = set(ids)
    pos = positions(graph)
    nodes = []
    for nid in ids:
        inst = graph.nodes[nid]
        spec = graph.registry.get(inst.type)
        params = {k: (spec.params[k].to_plain(v) if spec and k in spec.params else v) for k, v in inst.params.items()}
        nodes.append({"id": nid, "type": inst.type, "params": params, "pos": list(pos.get(nid, [40.0, 40.0]))})
    links = [[l.src, l.src_port, l.dst, l.dst_port] for l in graph.links if l.src in chosen and l.dst in chosen]
    return {"format": CLIP_FORMAT, "nodes": nodes, "links": links}


def paste(doc: Document, clip: dict[str, Any], offset: tuple[float, float] = (40.0, 40.0),
          at: tuple[float, float] | None = None, label: str = "paste") -> list[str]:
    """Add the clip's nodes to ``doc`` as one undoable step (``label`` names it in Edit > Undo);
    returns the new ids (in clip order).

    ``at``: put the clip's top-left corner there (the mouse's place on the canvas); otherwise the
    copies land ``offset`` from the originals (the editor passes one below them, see
    :meth:`.canvas.Canvas.beside`), a further ``offset`` for each copy already there.  Node types
    this installation does not know are skipped (the status bar says which).
    """
    if not isinstance(clip, dict) or clip.get("format") != CLIP_FORMAT:
        return []
    graph = doc.graph
    items: list[dict[str, Any]] = [n for n in clip.get("nodes", []) if isinstance(n, dict)
                                   and isinstance(n.get("type"), str) and n["type"] in graph.registry]
    if not items:
        return []

    if at is not None:
        x0 = min(float(i.get("pos", [40.0, 40.0])[0]) for i in items)
        y0 = min(float(i.get("pos", [40.0, 40.0])[1]) for i in items)
        offset = (float(at[0]) - x0, float(at[1]) - y0)
    else:
        offset = _clear_offset(graph, items, offset)
    return _paste(doc, items, clip, offset, label)


def _clear_offset(graph: Graph, items: list[dict[str, Any]], offset: tuple[float, float]) -> tuple[float, float]:
    taken = {tuple(p) for p in positions(graph).values()}
    k = 1
    while k < 50 and any((float(i.get("pos", [40.0, 40.0])[0]) + k * offset[0],
                          float(i.get("pos", [40.0, 40.0])[1]) + k * offset[1]) in taken for i in items):
        k += 1          # paste again and again: each copy steps further instead of hiding the last one
    return (k * offset[0], k * offset[1])


def _paste(doc: Document, items: list[dict[str, Any]], clip: dict[str, Any], offset: tuple[float, float],
           label: str) -> list[str]:
    graph = doc.graph

    def change() -> list[str]:
        new_ids: dict[str, str] = {}
        pos = positions(graph)
        for item in items:
            spec = graph.registry[item["type"]]
            params = {k: v for k, v in dict(item.get("params", {})).items() if k in spec.params}
            ref = graph.add(spec.id, id=graph._new_id(str(item["id"])), **params)
            new_ids[item["id"]] = ref.id
            x, y = item.get("pos", [40.0, 40.0])
            pos[ref.id] = [float(x) + offset[0], float(y) + offset[1]]
        for src, sp, dst, dp in clip.get("links", []):
            if src in new_ids and dst in new_ids:
                graph.connect(f"{new_ids[src]}.{sp}", f"{new_ids[dst]}.{dp}")
        own_write_names(graph, new_ids.values())     # a copied export writes a file of its own
        return [new_ids[i["id"]] for i in items]

    n = len(items)
    return doc.edit(f"{label} {n} node{'s' * (n != 1)}", change)


def duplicate(doc: Document, node_ids: Iterable[str], offset: tuple[float, float] = (40.0, 40.0)) -> list[str]:
    """Copy and paste in one go (one undo step, "duplicate N nodes")."""
    return paste(doc, copy_nodes(doc.graph, node_ids), offset, label="duplicate")


def to_text(clip: dict[str, Any]) -> str:
    return json.dumps(clip)


def from_text(text: str) -> dict[str, Any] | None:
    """A clip from the system clipboard's text, or None when it holds something else."""
    try:
        clip = json.loads(text)
    except (ValueError, TypeError):
        return None
    return clip if isinstance(clip, dict) and clip.get("format") == CLIP_FORMAT else None
