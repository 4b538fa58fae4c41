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

__all__ = ["arrange"]


def arrange(graph: Graph, sizes: dict[str, tuple[float, float]], *, origin: tuple[float, float] = (20.0, 40.0),
            gap: tuple[float, float] = (60.0, 30.0)) -> dict[str, list[float]]:
    """Positions for every node: column = longest path from a source, rows ordered by where the
    node's inputs sit (fewer crossing links), columns as wide as their widest node."""
    g = graph.to_networkx()
    depth: dict[str, int] = {}
    order = list(nx.topological_sort(g)) if nx.is_directed_acyclic_graph(g) else list(graph.nodes)
    for n in order:
        depth[n] = max((depth.get(p, 0) + 1 for p in g.predecessors(n) if p in depth), default=0)
    columns: dict[int, list[str]] = {}
    for n in order:
        columns.setdefault(depth[n], []).append(n)
    pos: dict[str, list[float]] = {}
    x = origin[0]
    for col in sorted(columns):
        nodes = columns[col]
        if col:
            def bary(n: str) -> float:
                ys = [pos[p][1] for p in g.predecessors(n) if p in pos]
                return sum(ys) / len(ys) if ys else float("inf")
            nodes = sorted(nodes, key=lambda n: (bary(n), list(graph.nodes).index(n)))
        y = origin[1]
        for n in nodes:
            pos[n] = [float(x), float(y)]
            y += sizes.get(n, (200.0, 150.0))[1] + gap[1]
        x += max(sizes.get(n, (200.0, 150.0))[0] for n in nodes) + gap[0]
    return pos
