"""Zoom for the canvas, which dearpygui's node editor does not have.

imnodes draws nodes at one size and keeps each node's position in pixels, so the editor zooms by
drawing the canvas at a *scale*: the canvas' fonts, widget sizes and imnodes' spacings, pins and
grid times the scale, and each node at its saved position times the scale plus a shift (the shift
keeps the point under the mouse, or the view's centre, where it was).  Graph files keep positions
unscaled: a graph saved at 50% opens at any zoom with the same layout.

:class:`Zoom` is that transform, without dearpygui (the view and the canvas commands use it; tests
use it without a window).

>>> z = Zoom()
>>> z.to_canvas([100.0, 40.0]), z.to_graph([100.0, 40.0])
([100.0, 40.0], [100.0, 40.0])
>>> z.set(0.5, anchor=(300.0, 200.0))       # zoom out about the canvas point (300, 200)
True
>>> z.to_canvas([300.0, 200.0]), z.to_canvas([500.0, 200.0]), z.to_graph([400.0, 200.0])
([300.0, 200.0], [400.0, 200.0], [500.0, 200.0])
>>> z.label, z.step(+1), z.step(-1)
('50%', 0.67, 0.33)
"""
from __future__ import annotations

from typing import Any, Sequence

__all__ = ["Zoom", "LEVELS", "STYLE", "saved_view", "view_record"]

#: The zoom levels that View > Zoom in/out (Ctrl+= / Ctrl+-, Ctrl+mouse wheel) step through.
LEVELS = (0.33, 0.5, 0.67, 0.8, 1.0, 1.25, 1.5)

#: imnodes' and Dear ImGui's sizes in a node at 100% (as dearpygui draws nodes: a frame's padding is
#: (4, 1) there, not ImGui's (4, 3); test_zoom checks a node's height halves at 50%), drawn times the scale (each
#: node's theme: see :meth:`.themes.Themes.node`; the grid's spacing is the app theme's):
#: ``(style variable name, value(s), category)``.
STYLE: tuple[tuple[str, tuple[float, ...], str], ...] = (
    ("mvNodeStyleVar_NodeCornerRounding", (4.0,), "Nodes"),
    ("mvNodeStyleVar_NodePadding", (8.0, 8.0), "Nodes"),
    ("mvNodeStyleVar_LinkThickness", (3.0,), "Nodes"),
    ("mvNodeStyleVar_LinkHoverDistance", (10.0,), "Nodes"),
    ("mvNodeStyleVar_PinCircleRadius", (4.0,), "Nodes"),
    ("mvNodeStyleVar_PinQuadSideLength", (7.0,), "Nodes"),
    ("mvNodeStyleVar_PinHoverRadius", (10.0,), "Nodes"),
    ("mvStyleVar_FramePadding", (4.0, 1.0), "Core"),
    ("mvStyleVar_ItemSpacing", (8.0, 4.0), "Core"),
    ("mvStyleVar_ItemInnerSpacing", (4.0, 4.0), "Core"),
    ("mvStyleVar_IndentSpacing", (21.0,), "Core"),
)


class Zoom:
    """Graph coordinates (what graph files keep) to canvas coordinates (imnodes' node positions)
    and back: ``canvas = graph * scale + shift``."""

    def __init__(self, scale: float = 1.0, shift: Sequence[float] = (0.0, 0.0)):
        self.scale = float(scale)
        self.shift = (float(shift[0]), float(shift[1]))

    @property
    def label(self) -> str:
        return f"{round(self.scale * 100)}%"

    def to_canvas(self, p: Sequence[float]) -> list[float]:
        return [p[0] * self.scale + self.shift[0], p[1] * self.scale + self.shift[1]]

    def to_graph(self, c: Sequence[float]) -> list[float]:
        return [(c[0] - self.shift[0]) / self.scale, (c[1] - self.shift[1]) / self.scale]

    def px(self, v: float) -> int:
        """A size in pixels at 100% as drawn now (at least 1)."""
        return max(1, round(v * self.scale))

    def set(self, scale: float, anchor: Sequence[float] | None = None) -> bool:
        """Draw at ``scale`` with the graph point now at canvas point ``anchor`` staying there
        (None: the canvas origin); returns whether the scale changed."""
        scale = min(max(float(scale), LEVELS[0]), LEVELS[-1])
        if scale == self.scale:
            return False
        ax, ay = anchor if anchor is not None else (0.0, 0.0)
        gx, gy = self.to_graph((ax, ay))
        self.scale = scale
        self.shift = (ax - gx * scale, ay - gy * scale)
        return True

    def place(self, scale: float, graph: Sequence[float], canvas: Sequence[float]) -> None:
        """Draw at ``scale`` with the ``graph`` point at the ``canvas`` point (Fit all).

        >>> z = Zoom(); z.place(0.5, (1000.0, 400.0), (20.0, 20.0)); z.to_canvas((1000.0, 400.0))
        [20.0, 20.0]
        """
        self.scale = float(scale)
        self.shift = (canvas[0] - graph[0] * self.scale, canvas[1] - graph[1] * self.scale)

    def step(self, direction: int, steps: int = 1) -> float:
        """The level ``steps`` levels away in ``direction`` (+1 in, -1 out) from the current scale
        (an end at most)."""
        scale = self.scale
        for _ in range(steps):
            scale = (next((v for v in LEVELS if v > scale + 1e-9), LEVELS[-1]) if direction > 0 else
                     next((v for v in reversed(LEVELS) if v < scale - 1e-9), LEVELS[0]))
        return scale

    def fitting(self, size: Sequence[float], room: Sequence[float]) -> float:
        """The largest level, at most 100%, at which a ``size`` (width, height at 100%) fits in
        ``room`` (canvas pixels); the smallest level when none does.

        >>> Zoom().fitting((3000, 900), (1100, 700)), Zoom().fitting((500, 300), (1100, 700))
        (0.33, 1.0)
        """
        need = min(room[0] / max(size[0], 1.0), room[1] / max(size[1], 1.0))
        return next((v for v in reversed(LEVELS) if v <= min(need, 1.0) + 1e-9), LEVELS[0])


def view_record(scale: float, compact: bool) -> dict[str, float | bool] | None:
    """What a graph file keeps of the view it was saved in (``graph.editor["view"]``): its zoom and
    whether its nodes were compact, each only when not the default (None: nothing to keep; the
    file opens at 100% with bodies shown).

    >>> view_record(0.67, False), view_record(1.0, True), view_record(1.0, False)
    ({'zoom': 0.67}, {'compact': True}, None)
    """
    record: dict[str, float | bool] = {}
    if scale != 1.0:
        record["zoom"] = scale
    if compact:
        record["compact"] = True
    return record or None


def saved_view(editor: dict[str, Any]) -> tuple[float, bool]:
    """The zoom level and compactness a graph opens with, from its ``editor`` data (a file from
    elsewhere may hold anything there: what is not a number is 100%, a zoom between levels is the
    nearest level, past the ends the end).

    >>> saved_view({"view": {"zoom": 0.67}}), saved_view({}), saved_view({"view": {"zoom": "x", "compact": 1}})
    ((0.67, False), (1.0, False), (1.0, False))
    >>> saved_view({"view": {"zoom": 0.6, "compact": True}}), saved_view({"view": {"zoom": 1e9}})
    ((0.67, True), (1.5, False))
    """
    view = editor.get("view")
    if not isinstance(view, dict):
        return 1.0, False
    zoom = view.get("zoom", 1.0)
    ok = isinstance(zoom, (int, float)) and not isinstance(zoom, bool) and zoom == zoom
    scale = min(LEVELS, key=lambda v: abs(v - zoom)) if ok else 1.0
    return scale, view.get("compact") is True
