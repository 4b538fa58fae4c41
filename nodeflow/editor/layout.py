"""Automatic layout: left-to-right columns by dependency depth, measured node sizes, no overlaps,
and no node sitting on a link.

Used for graphs that carry no positions (built in code, written by another tool) and by
*Graph > Arrange*.  Pure functions, no dearpygui.

dearpygui's node editor draws a link as imnodes does, a cubic Bezier from the output pin to the
input pin with its inner control points a quarter of the link's length straight out of each pin
(:func:`link_curve`); a link cannot be given bends.  So links are kept clear of nodes by the
layout: a node in a column that a longer link passes through moves down below the link
(:func:`clear_links`), a link that wraps from the end of one band of columns to the start of the
next leaves from the band's lowest node at the right and falls through a free corridor between
the bands, and :func:`crossings` lists any link that still runs under a node.

>>> from nodeflow import Graph
>>> g = Graph(); a = g.add("dsp.gain", id="a"); b = g.add("dsp.gain", id="b"); _ = g.connect(a.out, b.audio)
>>> arrange(g, {"a": (150, 100), "b": (150, 100)})
{'a': [20.0, 40.0], 'b': [230.0, 40.0]}
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import networkx as nx
import numpy as np

from ..graph import Graph

__all__ = ["arrange", "bounds", "fit", "free_place", "clear_links", "crossings", "link_curve", "spread", "Pins"]

#: Where each pin is drawn, as its height below the top of its node: ``(node, "in"|"out", port)``.
Pins = Mapping[tuple[str, str, str], float]
Sizes = Mapping[str, tuple[float, float]]
DEFAULT_SIZE = (200.0, 150.0)
_SAMPLES = 48
#: Clearing every link is tried on bands with at most this many links (Arrange stays instant);
#: links that skip columns always run in free lanes.
MAX_CLEARED_LINKS = 150


def _size(sizes: Sizes, n: str) -> tuple[float, float]:
    return sizes.get(n, DEFAULT_SIZE)


def arrange(graph: Graph, sizes: Sizes, *, origin: tuple[float, float] = (20.0, 40.0),
            gap: tuple[float, float] = (60.0, 30.0), max_width: float | None = None,
            pins: Pins | None = None) -> dict[str, list[float]]:
    """Positions for every node: column = longest path from a source, rows ordered by where the
    node's inputs sit (fewer crossing links), columns as wide as their widest node; then nodes
    that a link skipping their column would pass under are moved down below it (``pins``: where
    the pins are on each node, see :data:`Pins`; estimated when not given).

    With ``max_width`` (the window's width), a column that would end past it starts a new band of
    columns below the previous ones, so a long chain reads left to right, then on the next line.
    A link from one band to the next is drawn from the right end back to the left across both:
    the nodes it leaves from go to the bottom of their column, that column moves down when the
    link would cross the band's lower nodes, and the next band moves down to leave a corridor the
    link falls through (see :func:`_wrap_clear`).  Several links wrapping from one column (or into
    one) still cross each other's nodes: only the lowest (topmost) can run clear."""
    g = graph.to_networkx()
    alone = [n for n in graph.nodes if g.degree(n) == 0] if len(graph.nodes) > 1 else []
    g.remove_nodes_from(alone)      # nodes without links: in rows below (QA46: six in one column, 1600 px)
    depth: dict[str, int] = {}
    order = list(nx.topological_sort(g)) if nx.is_directed_acyclic_graph(g) else [n for n in graph.nodes
                                                                                  if n not in alone]
    for n in order:
        depth[n] = max((depth.get(p, 0) + 1 for p in g.predecessors(n) if p in depth), default=0)
    columns: dict[int, list[str]] = {}
    for n in order:
        columns.setdefault(depth[n], []).append(n)
    index = {n: i for i, n in enumerate(graph.nodes)}
    pos: dict[str, list[float]] = {}
    band: list[list[str]] = []
    above: list[list[str]] = []              # the band before this one
    x, top = origin[0], origin[1]
    cols = sorted(columns)
    widths = {col: max(_size(sizes, n)[0] for n in columns[col]) for col in cols}

    lanes: dict[tuple[str, str, str, str], float] = {}      # a link skipping columns: the height it runs at
    for i, col in enumerate(cols):
        nodes, width = columns[col], widths[col]
        if max_width is not None and x > origin[0] and x + width > max_width:
            top = _close_band(graph, pos, sizes, pins, band, above, top, gap)
            x, above, band, lanes = origin[0], band, [], {}
        # the band's last column: a node whose links wrap to the next band goes lowest, so they leave
        # it under the other nodes (when several wrap, all but the lowest pass the others anyway)
        wraps = [n for n in nodes if g.out_degree(n) > 0]
        lowest = wraps[0] if len(wraps) == 1 and max_width is not None and i + 1 < len(cols) and \
            x + width + gap[0] + widths[cols[i + 1]] > max_width else None
        busy = sorted(y for (s, _, d, _), y in lanes.items() if depth[s] < col < depth[d])
        want: dict[str, float | None] = {       # a node fed by a lane: its input pin level with the lane
            n: min((y - _pin_y(graph, pins, sizes, n, "in", dp) for (s, _, d, dp), y in lanes.items() if d == n),
                   default=None) for n in nodes}

        def bary(n: str) -> float:
            w = want[n]
            if w is not None:
                return w
            ys = [pos[p][1] for p in g.predecessors(n) if p in pos]
            return sum(ys) / len(ys) if ys else float("inf")
        y = top
        for n in sorted(nodes, key=lambda n: (n == lowest, bary(n), index[n])):
            h = _size(sizes, n)[1]
            w = want[n]
            y = y if w is None else max(y, w)
            for lane in busy:                   # a long link runs straight through: stay off its height
                if y - gap[1] / 2 < lane < y + h + gap[1] / 2:
                    y = lane + gap[1] / 2
            pos[n] = [float(x), float(y)]
            y += h + gap[1]
        if i == 1:
            _level_sources(g, pos, sizes, columns[cols[0]], nodes, gap)
        for link in graph.links:
            if link.src in nodes and depth.get(link.dst, col) > col + 1:
                lanes[(link.src, link.src_port, link.dst, link.dst_port)] = \
                    pos[link.src][1] + _pin_y(graph, pins, sizes, link.src, "out", link.src_port)
        band.append(nodes)
        x += width + gap[0]
    if band:
        _close_band(graph, pos, sizes, pins, band, above, top, gap)
    if alone:
        _rows(alone, pos, sizes, origin, gap, max_width)
    return pos


def _level_sources(g: Any, pos: dict[str, list[float]], sizes: Sizes, sources: list[str], fed: list[str],
                   gap: tuple[float, float]) -> None:
    """Move each source of the first column down level with the first node it feeds in the second
    (``fed``), in order and never onto the source above it, where it feeds only that column: parallel
    chains read as rows (QA62 D4: compact sources stacked at their own, smaller pitch drifted above
    their chains, the twelfth beside another chain two rows up)."""
    floor = -math.inf
    for n in sorted(sources, key=lambda n: pos[n][1]):
        ahead = list(g.successors(n))
        if ahead and all(s in fed for s in ahead):
            pos[n][1] = max(pos[n][1], floor, min(pos[s][1] for s in ahead))
        floor = pos[n][1] + _size(sizes, n)[1] + gap[1]


def _rows(nodes: list[str], pos: dict[str, list[float]], sizes: Sizes, origin: tuple[float, float],
          gap: tuple[float, float], max_width: float | None) -> None:
    """Place ``nodes`` (linked to nothing) left to right in rows below what ``pos`` holds, a row
    ending where ``max_width`` does (or where the linked nodes do, four nodes at least)."""
    x0 = origin[0]
    top = max((pos[n][1] + _size(sizes, n)[1] + gap[1] for n in pos), default=origin[1])
    right = max_width if max_width is not None else max(
        [pos[n][0] + _size(sizes, n)[0] for n in pos] + [x0 + 4 * max(_size(sizes, n)[0] + gap[0] for n in nodes)])
    x, y, tallest = x0, top, 0.0
    for n in nodes:
        w, h = _size(sizes, n)
        if x > x0 and x + w > right:
            x, y, tallest = x0, y + tallest + gap[1], 0.0
        pos[n] = [float(x), float(y)]
        x, tallest = x + w + gap[0], max(tallest, h)


def _close_band(graph: Graph, pos: dict[str, list[float]], sizes: Sizes, pins: Pins | None,
                band: list[list[str]], above: list[list[str]], top: float, gap: tuple[float, float]) -> float:
    """Finish a band of columns placed from ``top``: clear its links (see :func:`clear_links`), move
    it down as far as the links wrapping into it from the band ``above`` need to run clear (see
    :func:`_wrap_clear`); returns where the next band starts."""
    placed = {n: pos[n] for col in band for n in col}
    bottom = max(p[1] + _size(sizes, n)[1] for n, p in placed.items())
    if sum(1 for link in graph.links if link.src in placed) <= MAX_CLEARED_LINKS:
        lanes_only = {n: list(p) for n, p in placed.items()}
        clear_links(graph, placed, sizes, pins, gap=gap[1], columns=band)
        cleared = max(p[1] + _size(sizes, n)[1] for n, p in placed.items())
        if cleared - top > 1.5 * (bottom - top) + 200:       # a dense tangle: keep the compact layout
            for n, p in lanes_only.items():
                placed[n][:] = p
        else:
            bottom = cleared
    if above:
        lift, drop = _wrap_clear(graph, pos, sizes, pins, above, list(placed), gap[1])
        for n in above[-1] if lift else []:
            pos[n][1] += lift
        for p in placed.values():
            p[1] += drop
        bottom += drop
    return bottom + gap[1]


def _wrap_clear(graph: Graph, pos: Mapping[str, list[float]], sizes: Sizes, pins: Pins | None,
                above: list[list[str]], below: list[str], gap: float, *, step: float = 10.0,
                margin: float = 8.0) -> tuple[float, float]:
    """``(lift, drop)``: how far to move the last column of the band ``above``, and the band
    ``below`` (placed ``gap`` under it), down so that the links from one to the other run clear of
    both bands' nodes.  A link wrapping from the right end of a band to the start of the next is
    drawn across both (see :func:`link_curve`); it clears the band it leaves when it leaves from
    the band's lowest node, and the further its ends are apart the steeper it falls, into a free
    corridor between the bands.  The fewest links within ``margin`` of a node, with the smallest
    drop (in ``step``; at most the taller band's height and twice the tallest node's), then the
    fewest links under a node and the smallest lift."""
    upper = [n for col in above for n in col]
    last = set(above[-1]) if len(above) > 1 else set()        # a band's only column stays where it is
    links = [k for k in graph.links if (k.src in upper and k.dst in below) or
             (k.dst in last and k.src in upper and k.src not in last)]
    if not links:
        return 0.0, 0.0
    nodes = upper + below
    box = np.asarray([(pos[n][0], pos[n][1], pos[n][0] + _size(sizes, n)[0], pos[n][1] + _size(sizes, n)[1])
                      for n in nodes])
    group = {n: 1 if n in last else 2 if n in below else 0 for n in nodes}    # 1 moves by lift, 2 by drop
    moves, ups = np.asarray([group[n] for n in nodes]), np.asarray([0, 1, 0, 1])
    src, dst = np.asarray([group[k.src] for k in links]), np.asarray([group[k.dst] for k in links])
    start = np.asarray([(pos[k.src][0] + _size(sizes, k.src)[0],
                         pos[k.src][1] + _pin_y(graph, pins, sizes, k.src, "out", k.src_port)) for k in links])
    end = np.asarray([(pos[k.dst][0], pos[k.dst][1] + _pin_y(graph, pins, sizes, k.dst, "in", k.dst_port))
                      for k in links])
    others = ~np.asarray([[n in (k.src, k.dst) for n in nodes] for k in links])
    room = max(0.0, min(pos[n][1] for n in below) - gap - max((box[i, 3] for i in np.flatnonzero(moves == 1)),
                                                              default=np.inf))

    def best_lift(drop: float, lo: float, hi: float, by: float) -> tuple[float, float, float, float]:
        """(links within ``margin`` of a node, drop, links under one, lift): the best of lifts lo..hi."""
        lifts = np.arange(lo, min(hi, drop + room) + 1e-6, by) if last else np.zeros(1)
        if not len(lifts):
            return np.inf, drop, np.inf, 0.0
        shift = np.stack([np.zeros_like(lifts), lifts, np.full_like(lifts, drop)], axis=1)
        curves = _beziers((start[None] + shift[:, src, None] * ups[:2]).reshape(-1, 2),
                          (end[None] + shift[:, dst, None] * ups[:2]).reshape(-1, 2))
        curves = curves.reshape(len(lifts), len(links), -1, 2)
        boxes = box[None] + shift[:, moves, None] * ups
        near, under = ((_hits(curves, boxes, m) & others).any(axis=-1).sum(axis=-1) for m in (margin, 0.0))
        i = int(np.argmin(near * (len(links) + 1) + under))
        return float(near[i]), float(drop), float(under[i]), float(lifts[i])

    height = [float(box[moves == 2, 3].max() - box[moves == 2, 1].min()),
              float(box[moves < 2, 3].max() - box[moves < 2, 1].min())]
    coarse, cap = 3 * step, min(max(height), 2 * float(max(box[:, 3] - box[:, 1])))
    best = (np.inf, 0.0, np.inf, 0.0)
    for drop in np.arange(0.0, cap + 1e-6, coarse):        # in coarse steps, then finer below the best
        best = min(best, best_lift(drop, 0.0, np.inf, coarse))
        if best[0] == 0:
            break
    for drop in np.arange(max(0.0, best[1] - coarse + step), best[1], step):
        found = best_lift(drop, max(0.0, best[3] - coarse), best[3] + coarse, step)
        if found[0] <= best[0]:
            return found[3], found[1]
    return best[3], best[1]


def _hits(curves: np.ndarray, boxes: np.ndarray, margin: float) -> np.ndarray:
    """``[..., links, nodes]``: whether each curve (``[..., links, samples, 2]``) passes through each
    box (``[..., nodes, 4]``, ``(x0, y0, x1, y1)``) grown by ``margin``."""
    xs, ys = curves[..., 0][..., None], curves[..., 1][..., None]
    x0, y0, x1, y1 = (boxes[..., None, None, :, i] for i in range(4))
    inside = (xs > x0 - margin) & (xs < x1 + margin) & (ys > y0 - margin) & (ys < y1 + margin)
    return np.asarray(inside.any(axis=-2))


def _pin_y(graph: Graph, pins: Pins | None, sizes: Sizes, n: str, direction: str, port: str) -> float:
    """A pin's height below its node's top: measured, or estimated (inputs under the title in port
    order; outputs at the bottom, last port lowest)."""
    if pins is not None and (n, direction, port) in pins:
        return float(pins[(n, direction, port)])
    spec = graph.spec(n)
    ports = list((spec.inputs if direction == "in" else spec.outputs) if spec else [port])
    k = ports.index(port) if port in ports else 0
    h = _size(sizes, n)[1]
    return min(h - 10.0, 40.0 + 22.0 * k) if direction == "in" else max(10.0, h - 22.0 * (len(ports) - k))


def link_curve(start: tuple[float, float], end: tuple[float, float], samples: int = _SAMPLES) -> np.ndarray:
    """Points ``[samples, 2]`` along a link as imnodes draws it from an output pin at ``start`` to
    an input pin at ``end``: P1 = P0 + (L/4, 0), P2 = P3 - (L/4, 0), L the pins' distance.

    >>> link_curve((0, 0), (100, 0), 3).tolist()
    [[0.0, 0.0], [50.0, 0.0], [100.0, 0.0]]
    """
    return np.asarray(_beziers(np.asarray([start], float), np.asarray([end], float), samples)[0])


def _beziers(p0: np.ndarray, p3: np.ndarray, samples: int = _SAMPLES) -> np.ndarray:
    """:func:`link_curve` for many links at once: ``p0``, ``p3`` ``[links, 2]`` -> ``[links, samples, 2]``."""
    off = np.zeros_like(p0)
    off[:, 0] = 0.25 * np.hypot(*(p3 - p0).T)
    p1, p2 = p0 + off, p3 - off
    t = np.linspace(0.0, 1.0, samples)[None, :, None]
    pts = (1 - t) ** 3 * p0[:, None] + 3 * (1 - t) ** 2 * t * p1[:, None] + 3 * (1 - t) * t ** 2 * p2[:, None] \
        + t ** 3 * p3[:, None]
    return np.asarray(pts)


class _Links:
    """Every left-to-right link between placed nodes (with ``wrapping``, every link), as points
    along its curve."""

    def __init__(self, graph: Graph, pos: Mapping[str, list[float]], sizes: Sizes, pins: Pins | None,
                 wrapping: bool = False) -> None:
        self.ends: list[tuple[str, str]] = []
        starts, stops = [], []
        for link in graph.links:
            if link.src not in pos or link.dst not in pos:
                continue
            a, b = pos[link.src], pos[link.dst]
            start = (a[0] + _size(sizes, link.src)[0], a[1] + _pin_y(graph, pins, sizes, link.src, "out", link.src_port))
            end = (b[0], b[1] + _pin_y(graph, pins, sizes, link.dst, "in", link.dst_port))
            if wrapping or end[0] > start[0]:
                self.ends.append((link.src, link.dst))
                starts.append(start)
                stops.append(end)
        self.points = _beziers(np.asarray(starts, float).reshape(-1, 2), np.asarray(stops, float).reshape(-1, 2))
        self.src = np.array([s for s, _ in self.ends], dtype=object)
        self.dst = np.array([d for _, d in self.ends], dtype=object)

    def under(self, n: str, box: tuple[float, float, float, float], margin: float) -> np.ndarray:
        """Per link not ending at ``n``: its lowest point within ``box`` (grown by ``margin``)
        when it passes through it, else -inf."""
        x0, y0, x1, y1 = box
        if not self.ends:
            return np.zeros(0)
        xs, ys = self.points[..., 0], self.points[..., 1]
        inside = (xs >= x0 - margin) & (xs <= x1 + margin)
        hit = inside & (ys >= y0 - margin) & (ys <= y1 + margin)
        hit &= ((self.src != n) & (self.dst != n))[:, None]
        low = np.where(inside, ys, -np.inf).max(axis=1)
        return np.where(hit.any(axis=1), low, -np.inf)


def crossings(graph: Graph, pos: Mapping[str, list[float]], sizes: Sizes, pins: Pins | None = None,
              margin: float = 0.0) -> list[tuple[str, str, str]]:
    """``(source, destination, node)`` for every link drawn across a third node, links that wrap
    from one band of columns back to the start of the next included."""
    links, found = _Links(graph, pos, sizes, pins, wrapping=True), []
    for n, p in pos.items():
        w, h = _size(sizes, n)
        for i in np.flatnonzero(links.under(n, (p[0], p[1], p[0] + w, p[1] + h), margin) > -np.inf):
            found.append((*links.ends[i], n))
    return found


def clear_links(graph: Graph, pos: dict[str, list[float]], sizes: Sizes, pins: Pins | None = None, *,
                gap: float = 30.0, margin: float = 8.0, columns: list[list[str]] | None = None,
                passes: int = 4) -> dict[str, list[float]]:
    """Move nodes down (in place, and returned) until no left-to-right link passes under one:
    column by column, a node a link crosses goes below the link (with ``margin``), the nodes under
    it in its column follow so none overlap.  Moving a node bends its own links, so this repeats
    until nothing moves (at most ``passes`` times)."""
    if columns is None:
        by_x: dict[float, list[str]] = {}
        for n, p in pos.items():
            by_x.setdefault(p[0], []).append(n)
        columns = [by_x[x] for x in sorted(by_x)]
    for _ in range(passes):
        moved = False
        for col in columns:
            links = _Links(graph, pos, sizes, pins)
            floor = -np.inf                                  # the bottom of the node above, plus the gap
            for n in sorted(col, key=lambda n: pos[n][1]):
                w, h = _size(sizes, n)
                y = max(pos[n][1], floor)
                for _try in range(8):
                    low = links.under(n, (pos[n][0], y, pos[n][0] + w, y + h), margin)
                    if not (low > -np.inf).any():
                        break
                    y = float(low.max()) + margin + 1.0
                if y != pos[n][1]:
                    pos[n][1], moved = float(y), True
                    links = _Links(graph, pos, sizes, pins)
                floor = y + h + gap
        if not moved:
            break
    return pos


def bounds(pos: Mapping[str, list[float]], sizes: Sizes) -> tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)`` around every node at ``pos`` with its size."""
    boxes = [(p[0], p[1], p[0] + _size(sizes, n)[0], p[1] + _size(sizes, n)[1]) for n, p in pos.items()]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def _overlapping(pos: Mapping[str, list[float]], sizes: Sizes) -> set[tuple[str, str]]:
    """The pairs of nodes whose boxes overlap."""
    ids = [n for n in pos if n in sizes]
    if len(ids) < 2:
        return set()
    b = np.array([(pos[n][0], pos[n][1], pos[n][0] + sizes[n][0], pos[n][1] + sizes[n][1]) for n in ids])
    hit = ((b[:, None, 0] < b[None, :, 2]) & (b[None, :, 0] < b[:, None, 2])
           & (b[:, None, 1] < b[None, :, 3]) & (b[None, :, 1] < b[:, None, 3]))
    i, j = np.nonzero(np.triu(hit, 1))
    return {(ids[a], ids[c]) for a, c in zip(i, j)}


def spread(pos: Mapping[str, list[float]], before: Sizes, after: Sizes,
           gap: tuple[float, float] = (40.0, 30.0)) -> dict[str, list[float]] | None:
    """Positions for nodes that grew from ``before`` to ``after`` (compact nodes shown whole again), the
    layout kept: a node right of another (apart across) stays right of it, pushed along by as much as
    the nodes before it grew (the gap kept, at least ``gap[0]``); of two nodes one above the other
    (overlapping across), the lower one is pushed down likewise (at least ``gap[1]``).  Nodes only
    move right and down; a column stays a column.
    None when no two nodes that were apart now overlap (nothing to do).

    >>> spread({"a": [0.0, 0.0], "b": [120.0, 0.0], "c": [0.0, 50.0]},
    ...        {"a": (100, 40), "b": (100, 40), "c": (100, 40)}, {"a": (200, 90), "b": (200, 90), "c": (200, 90)})
    {'a': [0.0, 0.0], 'b': [240.0, 0.0], 'c': [0.0, 120.0]}
    """
    ids = [n for n in pos if n in before and n in after]
    if not _overlapping({n: pos[n] for n in ids}, after) - _overlapping({n: pos[n] for n in ids}, before):
        return None
    x = {n: float(pos[n][0]) for n in ids}
    for n in sorted(ids, key=lambda n: pos[n][0]):          # across: after every node left of it
        for m in ids:
            was = pos[n][0] - pos[m][0] - before[m][0]       # the gap between them (apart: >= 0)
            if m != n and was >= 0:
                x[n] = max(x[n], x[m] + after[m][0] + max(was, gap[0]))
    y = {n: float(pos[n][1]) for n in ids}
    for n in sorted(ids, key=lambda n: pos[n][1]):          # down: below every node above it in its column
        for m in ids:
            across = pos[m][0] < pos[n][0] + before[n][0] and pos[n][0] < pos[m][0] + before[m][0]
            was = pos[n][1] - pos[m][1] - before[m][1]
            if m != n and across and was >= 0:
                y[n] = max(y[n], y[m] + after[m][1] + max(was, gap[1]))
    return {n: [round(x[n], 1), round(y[n], 1)] for n in ids}


def free_place(view: tuple[float, float, float, float], boxes: list[tuple[float, float, float, float]],
               size: tuple[float, float], gap: float = 20.0, step: float = 40.0) -> tuple[float, float]:
    """The top-left corner, inside ``view`` ``(x0, y0, x1, y1)``, of the first place (row by row,
    from the top left) where a node of ``size`` lies ``gap`` clear of every box ``(x0, y0, x1, y1)``;
    in a full view, the place where it covers the least of them, and none of their edges, where
    their pins are (QA40: it covered a node's out pin with its own in pin, as if linked), when it can
    (the view's corner when it does not fit at all).

    >>> free_place((0, 0, 800, 600), [(20, 20, 300, 200)], (200, 150))
    (340.0, 20.0)
    >>> free_place((0, 0, 400, 300), [(0, 0, 400, 150)], (200, 200))    # full: over the least of it
    (20.0, 60.0)
    >>> free_place((0, 0, 700, 300), [(0, 0, 200, 280), (200, 0, 700, 280)], (200, 200))   # not over an edge
    (220.0, 20.0)
    """
    vx0, vy0, vx1, vy1 = view
    w, h = size
    b = np.array(boxes, dtype=float).reshape(-1, 4)
    best, least = (vx0 + gap, vy0 + gap), float("inf")
    ys = np.arange(vy0 + gap, max(vy1 - h - gap, vy0 + gap) + 1e-9, step)
    xs = np.arange(vx0 + gap, max(vx1 - w - gap, vx0 + gap) + 1e-9, step)
    for y in ys:
        for x in xs:
            ox = np.clip(np.minimum(b[:, 2], x + w + gap) - np.maximum(b[:, 0], x - gap), 0, None)
            oy = np.clip(np.minimum(b[:, 3], y + h + gap) - np.maximum(b[:, 1], y - gap), 0, None)
            covered = float((ox * oy).sum())
            if covered == 0:
                return float(x), float(y)
            pins = (oy > 0) & (((b[:, 0] > x - gap) & (b[:, 0] < x + w + gap)) |
                               ((b[:, 2] > x - gap) & (b[:, 2] < x + w + gap)))
            covered += float(pins.sum()) * w * h          # an edge with pins under it: worse than any area
            if covered < least:
                best, least = (float(x), float(y)), covered
    return best


REACH = 1.5      # a node added at a point goes at most this many of its sizes away from it


def near_place(at: tuple[float, float], view: tuple[float, float, float, float],
               boxes: list[tuple[float, float, float, float]], size: tuple[float, float], gap: float = 12.0,
               step: float = 20.0) -> tuple[float, float]:
    """The top-left corner nearest ``at`` (inside ``view``) where a node of ``size`` lies ``gap`` clear
    of every box: a node added where the user double-clicked, or dropped a link, goes there or just
    beside it, never over another node's pins (QA: the search's node covered its neighbour's inputs);
    when no place within :data:`REACH` of its size is free, the place there that covers the least of
    the others and none of their edges (QA40: it went 770 px away, over a link).

    >>> near_place((100, 100), (0, 0, 800, 600), [(20, 20, 300, 200)], (200, 150))
    (100.0, 212.0)
    >>> near_place((400, 100), (0, 0, 800, 600), [(20, 20, 300, 200)], (200, 150))
    (400.0, 100.0)
    """
    vx0, vy0, vx1, vy1 = view
    w, h = size
    b = np.array(boxes, dtype=float).reshape(-1, 4)
    xs = np.arange(vx0 + gap, max(vx1 - w - gap, vx0 + gap) + 1e-9, step)
    ys = np.arange(vy0 + gap, max(vy1 - h - gap, vy0 + gap) + 1e-9, step)
    gx, gy = np.meshgrid(np.append(xs, np.clip(at[0], vx0, vx1)), np.append(ys, np.clip(at[1], vy0, vy1)))
    x, y = gx.ravel(), gy.ravel()
    cost = np.zeros(len(x))
    if len(b):
        ox = np.clip(np.minimum(b[None, :, 2], x[:, None] + w + gap) - np.maximum(b[None, :, 0], x[:, None] - gap), 0, None)
        oy = np.clip(np.minimum(b[None, :, 3], y[:, None] + h + gap) - np.maximum(b[None, :, 1], y[:, None] - gap), 0, None)
        edge = ((b[None, :, 0] > x[:, None] - gap) & (b[None, :, 0] < x[:, None] + w + gap)) | \
               ((b[None, :, 2] > x[:, None] - gap) & (b[None, :, 2] < x[:, None] + w + gap))
        cost = (ox * oy).sum(axis=1) + ((oy > 0) & edge).sum(axis=1) * w * h     # over a node's pins: worst
    d = (x - at[0]) ** 2 + (y - at[1]) ** 2
    near = d <= (REACH * max(w, h)) ** 2       # QA40: the nearest free place was 770 px from the drop
    if not near.any():
        return float(at[0]), float(at[1])
    if (near & (cost == 0)).any():
        i = int(np.argmin(np.where(near & (cost == 0), d, np.inf)))
    else:                                      # none free near it: near it, covering the least, no pins
        i = int(np.lexsort((d, np.where(near, cost, np.inf)))[0])
    return float(x[i]), float(y[i])


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
