"""Automatic layout: left-to-right columns by dependency depth, measured node sizes, no overlaps,
and no node sitting on a link.

Used for graphs that carry no positions (built in code, written by another tool) and by
*Graph > Arrange*.  Pure functions, no dearpygui.  Placing one node among the others (a node added
at a point or in a free place, nodes pushed apart when they grow) is :mod:`.placing`.

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
from .placing import REACH, Sizes, free_place, near_place, spread  # noqa: F401 - kept importable from here

__all__ = ["arrange", "bounds", "fit", "free_place", "clear_links", "crossings", "link_curve", "spread", "Pins"]

#: Where each pin is drawn, as its height below the top of its node: ``(node, "in"|"out", port)``.
Pins = Mapping[tuple[str, str, str], float]
DEFAULT_SIZE = (200.0, 150.0)
_SAMPLES = 48
#: Clearing every link is tried on bands with at most this many links (Arrange stays instant);
#: links that skip columns always run in free lanes.
MAX_CLEARED_LINKS = 150
#: A band is stepped down after its first column (see :func:`_wrap_clear`) when at most this many links
#: wrap into it: a chain's one, a few parallel chains'.
MAX_STEPPED_WRAPS = 3


def _size(sizes: Sizes, n: str) -> tuple[float, float]:
    return sizes.get(n, DEFAULT_SIZE)


def arrange(graph: Graph, sizes: Sizes, *, origin: tuple[float, float] = (20.0, 40.0),
            gap: tuple[float, float] = (60.0, 30.0), max_width: float | None = None,
            pins: Pins | None = None, stepped: bool = True) -> dict[str, list[float]]:
    """Positions for every node: column = longest path from a source, rows ordered by where the
    node's inputs sit (fewer crossing links), columns as wide as their widest node; then nodes
    that a link skipping their column would pass under are moved down below it (``pins``: where
    the pins are on each node, see :data:`Pins`; estimated when not given).

    With ``max_width`` (the window's width), a column that would end past it starts a new band of
    columns below the previous ones, so a long chain reads left to right, then on the next line.
    A link from one band to the next is drawn from the right end back to the left across both:
    the nodes it leaves from go to the bottom of their column, that column moves down when the
    link would cross the band's lower nodes, and the next band moves down to leave a corridor the
    link falls through, its columns after the first a step lower (not with ``stepped=False``: fewer
    wrapping links clear, less height; see :func:`_wrap_clear`).  Several links wrapping from one column (or into
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
            top = _close_band(graph, pos, sizes, pins, band, above, top, gap, stepped)
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
        _close_band(graph, pos, sizes, pins, band, above, top, gap, stepped)
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
                band: list[list[str]], above: list[list[str]], top: float, gap: tuple[float, float],
                stepped: bool = True) -> float:
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
        lift, drop, stagger = _wrap_clear(graph, pos, sizes, pins, above, band if stepped else [sum(band, [])],
                                          gap[1])
        for n in above[-1] if lift else []:
            pos[n][1] += lift
        for k, col in enumerate(band):
            for n in col:
                placed[n][1] += drop + (stagger if k else 0.0)
        bottom = max(bottom + drop, max(p[1] + _size(sizes, n)[1] for n, p in placed.items()))
    return bottom + gap[1]


def _wrap_clear(graph: Graph, pos: Mapping[str, list[float]], sizes: Sizes, pins: Pins | None,
                above: list[list[str]], below: list[list[str]], gap: float, *, step: float = 10.0,
                margin: float = 8.0) -> tuple[float, float, float]:
    """``(lift, drop, stagger)``: how far to move the last column of the band ``above`` down, the band
    ``below`` (its columns, placed ``gap`` under it) down, and that band's columns after its first
    down again, so that the links from one band to the other run clear of both bands' nodes.

    A link wrapping from the right end of a band to the start of the next is drawn across both (see
    :func:`link_curve`): it leaves its pin flat and falls, so it clears the band it leaves when it
    leaves from the band's lowest node (``lift``), and it arrives flat at the next band's first node
    from above, so it clears that band when its other columns sit lower than its first (``stagger``:
    the band reads as a gentle step down, its first node up in the corridor the link runs through).
    A long band's link is nearly flat: a corridor alone (``drop``) would have to be several nodes
    tall (QA62: bands 2,000 units wide at 50%, the link under the next band's title bars).  Chosen:
    the fewest links within ``margin`` of a node, then the lowest bottom (in ``step``s), then the
    fewest links under a node, then the smallest lift."""
    upper = [n for col in above for n in col]
    lower = [n for col in below for n in col]
    last = set(above[-1]) if len(above) > 1 else set()        # a band's only column stays where it is
    later = {n for col in below[1:] for n in col}             # moved by drop + stagger
    links = [k for k in graph.links if (k.src in upper and k.dst in lower) or
             (k.dst in last and k.src in upper and k.src not in last) or (k.src in lower and k.src not in later
                                                                            and k.dst in later)]
    if not any(k.src in upper and k.dst in lower for k in links):
        return 0.0, 0.0, 0.0
    nodes = upper + lower
    box = np.asarray([(pos[n][0], pos[n][1], pos[n][0] + _size(sizes, n)[0], pos[n][1] + _size(sizes, n)[1])
                      for n in nodes])
    group = {n: 1 if n in last else 3 if n in later else 2 if n in lower else 0 for n in nodes}
    moves, ups = np.asarray([group[n] for n in nodes]), np.asarray([0, 1, 0, 1])
    src, dst = np.asarray([group[k.src] for k in links]), np.asarray([group[k.dst] for k in links])
    start = np.asarray([(pos[k.src][0] + _size(sizes, k.src)[0],
                         pos[k.src][1] + _pin_y(graph, pins, sizes, k.src, "out", k.src_port)) for k in links])
    end = np.asarray([(pos[k.dst][0], pos[k.dst][1] + _pin_y(graph, pins, sizes, k.dst, "in", k.dst_port))
                      for k in links])
    others = ~np.asarray([[n in (k.src, k.dst) for n in nodes] for k in links])
    lifted = np.flatnonzero(moves == 1)

    def room(g: int) -> float:
        """How far the lifted column can go down before it meets the nodes of group ``g`` it lies over."""
        under = [i for i in np.flatnonzero(moves == g) if lifted.size and
                 (box[i, 0] < box[lifted, 2].max() + gap) and (box[i, 2] > box[lifted, 0].min() - gap)]
        return float(min(box[under, 1]) - gap - box[lifted, 3].max()) if under else np.inf

    rooms = (room(2), room(3))
    tallest = float(max(box[:, 3] - box[:, 1]))
    own_height = float(box[moves < 2, 3].max() - box[moves < 2, 1].min())     # the band the lifted column is in
    step = min(step, tallest / 12)          # (compact nodes, 40 px tall at 67%: steps of 30 px missed every clear way)

    def best_lift(drop: float, stagger: float, lo: float, hi: float, by: float) -> tuple[float, ...]:
        """(links within ``margin`` of a node, bottom of both bands, links under one, lift, drop, stagger):
        the best of lifts lo..hi."""
        top = min(hi, drop + rooms[0], drop + stagger + rooms[1], lo + 40 * by, own_height)   # (beside its band)
        lifts = np.arange(lo, max(top, 0.0) + 1e-6, by) if last else np.zeros(1)
        if not len(lifts):
            return np.inf, np.inf, np.inf, 0.0, drop, stagger
        shift = np.stack([np.zeros_like(lifts), lifts, np.full_like(lifts, drop),
                          np.full_like(lifts, drop + stagger)], axis=1)
        curves = _beziers((start[None] + shift[:, src, None] * ups[:2]).reshape(-1, 2),
                          (end[None] + shift[:, dst, None] * ups[:2]).reshape(-1, 2))
        curves = curves.reshape(len(lifts), len(links), -1, 2)
        boxes = box[None] + shift[:, moves, None] * ups
        near, under = ((_hits(curves, boxes, m) & others).any(axis=-1).sum(axis=-1) for m in (margin, 0.0))
        bottom = boxes[..., 3].max(axis=-1)
        i = min(range(len(lifts)), key=lambda i: (near[i], bottom[i], under[i]))
        return float(near[i]), float(bottom[i]), float(under[i]), float(lifts[i]), drop, stagger

    height = max(float(box[moves >= 2, 3].max() - box[moves >= 2, 1].min()),
                 float(box[moves < 2, 3].max() - box[moves < 2, 1].min()))
    coarse, cap = 3 * step, min(height, 2 * tallest)
    wrapping = sum(1 for k in links if k.src in upper and k.dst in lower)
    # (several links wrapping at once cannot all run clear, see arrange: their bands are not stepped)
    staggers = np.arange(0.0, tallest + 1e-6, coarse) if later and wrapping <= MAX_STEPPED_WRAPS else np.zeros(1)
    best: tuple[float, ...] = (np.inf, np.inf, np.inf, 0.0, 0.0, 0.0)
    first, rest = box[moves == 2, 3].max(initial=-np.inf), box[moves == 3, 3].max(initial=-np.inf)

    def floor(pair: tuple[float, float]) -> float:
        """The lowest the two bands' bottom can be with this drop and stagger, whatever the lift."""
        return float(max(box[moves < 2, 3].max(), first + pair[0], rest + pair[0] + pair[1]))
    pairs = sorted(((float(d), float(st)) for d in np.arange(0.0, cap + 1e-6, coarse) for st in staggers), key=floor)
    for pair in pairs:                      # in coarse steps, lowest first, then finer below the best
        if best[0] == 0 and floor(pair) > best[1]:
            break
        best = min(best, best_lift(*pair, 0.0, np.inf, coarse))
    lift, drop, stagger = best[3:]
    for d in np.arange(max(0.0, drop - coarse + step), drop + 1e-6, step):
        for st in np.arange(max(0.0, stagger - coarse + step), stagger + 1e-6, step) if later else np.zeros(1):
            best = min(best, best_lift(float(d), float(st), max(0.0, lift - coarse), lift + coarse, step))
    return best[3], best[4], best[5]


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


def bounds(pos: Mapping[str, list[float]], sizes: Sizes, graph: Graph | None = None,
           pins: Pins | None = None) -> tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)`` around every node at ``pos`` with its size; with ``graph``, around its links
    too, as drawn (see :func:`link_curve`): a link wrapping back to the next band's first node comes
    into it from the left, past the nodes' edge (QA62: past the canvas' edge after a fit).

    >>> from nodeflow import Graph
    >>> g = Graph(); a = g.add("dsp.gain", id="a"); b = g.add("dsp.gain", id="b"); _ = g.connect(a.out, b.audio)
    >>> pos, sizes = {"a": [1000.0, 0.0], "b": [0.0, 300.0]}, {"a": (200, 150), "b": (200, 150)}
    >>> bounds(pos, sizes), tuple(round(v) for v in bounds(pos, sizes, g))
    ((0.0, 0.0, 1200.0, 450.0), (-34, 0, 1234, 450))
    """
    boxes = [(p[0], p[1], p[0] + _size(sizes, n)[0], p[1] + _size(sizes, n)[1]) for n, p in pos.items()]
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    if graph is not None and graph.links:
        links = _Links(graph, pos, sizes, pins, wrapping=True)
        if len(links.points):
            (lx0, ly0), (lx1, ly1) = links.points.min(axis=(0, 1)), links.points.max(axis=(0, 1))
            x0, y0, x1, y1 = min(x0, float(lx0)), min(y0, float(ly0)), max(x1, float(lx1)), max(y1, float(ly1))
    return x0, y0, x1, y1


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
