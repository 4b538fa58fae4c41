"""Automatic layout: left-to-right columns by dependency depth, measured node sizes, no overlaps.

Used for graphs that carry no positions (built in code, written by another tool) and by
*Graph > Arrange*.  Pure function, no dearpygui.

>>> from nodeflow import Graph
>>> g = Graph(); a = g.add("dsp.gain", id="a"); b = g.add("dsp.gain", id="b"); _ = g.connect(a.out, b.audio)
>>> arrange(g, {"a": (150, 100), "b": (150, 100)})
{'a': [20.0, 40.0], 'b': [230.0, 40.0]}
"""
from __future__ import annotations

import networkx as nx

from ..graph import Graph

__all__ = ["arrange", "bounds", "fit"]


def arrange(graph: Graph, sizes: dict[str, tuple[float, float]], *, origin: tuple[float, float] = (20.0, 40.0),
            gap: tuple[float, float] = (60.0, 30.0), max_width: float | None = None) -> dict[str, list[float]]:
    """Positions for every node: column = longest path from a source, rows ordered by where the
    node's inputs sit (fewer crossing links), columns as wide as their widest node.

    With ``max_width`` (the window's width), a column that would end past it starts a new band of
    columns below the previous ones, so a long chain reads left to right, then on the next line."""
    g = graph.to_networkx()
    depth: dict[str, int] = {}
    order = list(nx.topological_sort(g)) if nx.is_directed_acyclic_graph(g) else list(graph.nodes)
    for n in order:
        depth[n] = max((depth.get(p, 0) + 1 for p in g.predecessors(n) if p in depth), default=0)
    columns: dict[int, list[str]] = {}
    for n in order:
        columns.setdefault(depth[n], []).append(n)
    pos: dict[str, list[float]] = {}
    x, top, bottom = origin[0], origin[1], origin[1]
    for col in sorted(columns):
        nodes = columns[col]
        if col:
            def bary(n: str) -> float:
                ys = [pos[p][1] for p in g.predecessors(n) if p in pos]
                return sum(ys) / len(ys) if ys else float("inf")
            nodes = sorted(nodes, key=lambda n: (bary(n), list(graph.nodes).index(n)))
        width = max(sizes.get(n, (200.0, 150.0))[0] for n in nodes)
        if max_width is not None and x > origin[0] and x + width > max_width:
            x, top = origin[0], bottom + gap[1]
        y = top
        for n in nodes:
            pos[n] = [float(x), float(y)]
            y += sizes.get(n, (200.0, 150.0))[1] + gap[1]
        bottom = max(bottom, y - gap[1])
        x += width + gap[0]
    return pos


def bounds(pos: dict[str, list[float]], sizes: dict[str, tuple[float, float]]) -> tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)`` around every node at ``pos`` with its size."""
    boxes = [(p[0], p[1], p[0] + sizes.get(n, (200.0, 150.0))[0], p[1] + sizes.get(n, (200.0, 150.0))[1])
             for n, p in pos.items()]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def fit(graph: Graph, pos: dict[str, list[float]], sizes: dict[str, tuple[float, float]],
        view: tuple[float, float], margin: float = 20.0) -> dict[str, list[float]] | None:
    """New positions that show every node in a ``view`` (width, height) canvas, or None when they
    already all show (or nothing fits: then the user pans).  A layout that fits as a whole is only
    moved; one too big for the window is arranged in bands (see :func:`arrange`).

    >>> from nodeflow import Graph
    >>> g = Graph(); a = g.add("dsp.gain", id="a"); b = g.add("dsp.gain", id="b"); _ = g.connect(a.out, b.audio)
    >>> fit(g, {"a": [-100, 40], "b": [300, 40]}, {"a": (150, 100), "b": (150, 100)}, (800, 600))
    {'a': [20.0, 40.0], 'b': [420.0, 40.0]}
    >>> fit(g, {"a": [20, 40], "b": [900, 40]}, {"a": (150, 100), "b": (150, 100)}, (800, 600))
    {'a': [20.0, 40.0], 'b': [230.0, 40.0]}
    >>> fit(g, {"a": [20, 40], "b": [230, 40]}, {"a": (150, 100), "b": (150, 100)}, (800, 600)) is None
    True
    """
    if not pos or any(n not in pos for n in graph.nodes):
        return None
    w, h = view
    x0, y0, x1, y1 = bounds({n: pos[n] for n in graph.nodes}, sizes)
    if x0 >= 0 and y0 >= 0 and x1 <= w and y1 <= h:
        return None
    if x1 - x0 <= w - 2 * margin and y1 - y0 <= h - 2 * margin:
        dx = (margin - x0) if x0 < 0 or x1 > w else 0.0          # to the left edge, on the axis that needs it
        dy = (margin - y0) if y0 < 0 or y1 > h else 0.0
        return {n: [float(pos[n][0] + dx), float(pos[n][1] + dy)] for n in graph.nodes}
    new = arrange(graph, sizes, max_width=w - margin)
    x0, y0, x1, y1 = bounds(new, sizes)
    return new if x1 <= w and y1 <= h else None
