"""Placing nodes among the others on the canvas, around their boxes (no links, no dearpygui): the
free place for a new node in view (:func:`free_place`), the place nearest a point where the user
double-clicked or dropped a link (:func:`near_place`), and nodes pushed apart when they grow
(:func:`spread`).  Arranging a whole graph is :mod:`.layout`.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

__all__ = ["free_place", "near_place", "spread", "hides", "REACH", "HIDDEN"]

Sizes = Mapping[str, tuple[float, float]]      # a node's (width, height) by id; layout.py uses it too


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
               size: tuple[float, float], gap: float = 20.0, step: float = 40.0,
               strict: bool = False, avoid: Sequence[tuple[float, float, float, float]] = (),
               hide: bool = True) -> tuple[float, float] | None:
    """The top-left corner, inside ``view`` ``(x0, y0, x1, y1)``, of the first place (row by row,
    from the top left) where a node of ``size`` lies ``gap`` clear of every box ``(x0, y0, x1, y1)``;
    in a full view, the place where it covers the least of them, and none of their edges, where
    their pins are (QA40: it covered a node's out pin with its own in pin, as if linked), when it can
    (the view's corner when it does not fit at all); ``strict``: None where no place is free.  Over a box
    of ``avoid`` (the minimap) or over most of a node (hiding it: QA106) it goes only where every other
    place does too; ``hide=False``: never (None where every place would).

    >>> free_place((0, 0, 800, 600), [(20, 20, 300, 200)], (200, 150))      # ``gap`` right of it
    (320.0, 20.0)
    >>> free_place((0, 0, 400, 300), [(0, 0, 400, 150)], (200, 200))    # full: over the least of it
    (20.0, 60.0)
    >>> free_place((0, 0, 700, 300), [(0, 0, 200, 280), (200, 0, 700, 280)], (200, 200))   # not over an edge
    (220.0, 20.0)
    """
    vx0, vy0, vx1, vy1 = view
    w, h = size
    b = np.array(boxes, dtype=float).reshape(-1, 4)
    av = np.array(avoid, dtype=float).reshape(-1, 4)
    areas = np.maximum((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), 1.0)
    best, least = (vx0 + gap, vy0 + gap), float("inf")
    ys = np.arange(vy0 + gap, max(vy1 - h - gap, vy0 + gap) + 1e-9, step)
    xs = np.arange(vx0 + gap, max(vx1 - w - gap, vx0 + gap) + 1e-9, step)
    # and just past each node's right and bottom edges: a gap between nodes narrower than the grid's step
    xs = np.unique(np.concatenate([xs, [x for x in b[:, 2] + gap if vx0 + gap <= x <= vx1 - w - gap]]))
    ys = np.unique(np.concatenate([ys, [y for y in b[:, 3] + gap if vy0 + gap <= y <= vy1 - h - gap]]))
    for y in ys:
        for x in xs:
            ox = np.clip(np.minimum(b[:, 2], x + w + gap) - np.maximum(b[:, 0], x - gap), 0, None)
            oy = np.clip(np.minimum(b[:, 3], y + h + gap) - np.maximum(b[:, 1], y - gap), 0, None)
            covered = float((ox * oy).sum())
            over = bool(((np.minimum(av[:, 2], x + w) > np.maximum(av[:, 0], x)) &
                         (np.minimum(av[:, 3], y + h) > np.maximum(av[:, 1], y))).any())
            if covered == 0 and not over:
                return float(x), float(y)
            hides = over or bool((ox * oy > HIDDEN * areas).any())
            if hides and not hide:
                continue
            pins = (oy > 0) & (((b[:, 0] > x - gap) & (b[:, 0] < x + w + gap)) |
                               ((b[:, 2] > x - gap) & (b[:, 2] < x + w + gap)))
            covered += float(pins.sum()) * w * h          # an edge with pins under it: worse than any area
            covered += 100.0 * w * h if hides else 0.0    # a node hidden, the minimap: worse than any edge
            if covered < least:
                best, least = (float(x), float(y)), covered
    return None if strict or (not hide and least == float("inf")) else best


HIDDEN = 0.5     # a node covered over more than this part of its area is hidden (see free_place, .settling)


def hides(box: tuple[float, float, float, float], boxes: Sequence[tuple[float, float, float, float]]) -> bool:
    """Whether a node at ``box`` ``(x0, y0, x1, y1)`` covers more than :data:`HIDDEN` of one of ``boxes``.

    >>> hides((0, 0, 100, 100), [(50, 0, 150, 100)]), hides((0, 0, 100, 100), [(40, 0, 140, 100)])   # half, 60 %
    (False, True)
    """
    b = np.array(boxes, dtype=float).reshape(-1, 4)
    ox = np.clip(np.minimum(b[:, 2], box[2]) - np.maximum(b[:, 0], box[0]), 0, None)
    oy = np.clip(np.minimum(b[:, 3], box[3]) - np.maximum(b[:, 1], box[1]), 0, None)
    return bool((ox * oy > HIDDEN * np.maximum((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]), 1.0)).any())
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
