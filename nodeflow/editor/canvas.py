"""Canvas commands: zoom, compact nodes, the minimap, paste at the mouse; and the canvas' geometry
(viewport pixels to canvas and graph coordinates, drawn node sizes).  Fitting the layout into the
window and Arrange are :mod:`.framing`'s (``Canvas.framing``).

dearpygui's node editor has no zoom and no pan API.  *View > Zoom* draws every node at a scale
(see :mod:`.zoom`: fonts, widget sizes, imnodes' sizes and the grid, positions times the scale
about the view's centre or the mouse); the graph keeps its positions.  *Paste* puts the clip's
top-left node where the mouse is when the mouse is over the canvas.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import clipboard, items
from .framing import Framing
from .settling import Settler
from .prefs_panel import app_theme

if TYPE_CHECKING:
    from .app import App

__all__ = ["Canvas", "SMALL_FONT_PX", "minimap_box"]

SMALL_FONT_PX = 10
FONT_PX = 14            # the editor's font (see .app)
COMPACT_MIN_PX = 7      # compact nodes' font at any zoom (5 px at 50% could not be read)
SPREAD = "spread"        # the undo label of nodes spread apart when compact nodes show their bodies again
MINIMAP_FRACTION = 0.2  # dearpygui's node editor calls ``ImNodes::MiniMap(0.2f, location)``
MINIMAP_PADDING = 8.0   # imnodes' style MiniMapPadding (8, 8): the frame around the minimap's content
MINIMAP_OFFSET = 4.0    # imnodes' style MiniMapOffset (4, 4): from the canvas' edges to that frame
ROW_H = 20.0            # a node's row at 100% (14 px text, its frame and the spacing): a new node's height
PASTE_STEP = 30.0       # graph units between copies pasted again and again at the same mouse spot


class Canvas:
    """The fit, compact and paste commands of ``app`` (an :class:`~.app.App`)."""

    def __init__(self, app: App):
        self.app = app
        app.doc.listeners.append(self._on_edit)
        self._grown: tuple[dict[str, tuple[float, float]], int, int] | None = None   # compact off: the
        #   compact sizes (100%), the frame to look at the nodes again and the tries left (see _spread)
        self.small_font: int | None = None
        self.minimap = True         # View > Minimap (see set_minimap)
        self._font_path = ""
        self._fonts: dict[int, int] = {}          # pixel size -> dpg font (the canvas' at each zoom)
        self._pasted: tuple[float, float] | None = None   # where the last paste at the mouse landed
        self._paste_count = 0                      # pastes since at that same spot
        self.framing = Framing(self)               # Fit all and Arrange
        self.settler = Settler(app)                # a node added from the palette, placed again once drawn

    def setup(self, font_path: str) -> None:
        self._font_path = font_path if Path(font_path).exists() else ""
        self.small_font = self._font(SMALL_FONT_PX)
        self.app.view.compact_font = self.small_font

    def _font(self, px: int) -> int | None:
        """The editor's font at ``px`` pixels (None without the font file: dearpygui's own)."""
        if not self._font_path:
            return None
        if px not in self._fonts:
            with self.app.dpg.font_registry():
                self._fonts[px] = self.app.dpg.add_font(self._font_path, px)
        return self._fonts[px]

    # ------------------------------------------------------------------ zoom
    def zoom(self, direction: int = 0, at: tuple[float, float] | None = None, scale: float | None = None,
             quiet: bool = False, steps: int = 1) -> bool:
        """View > Zoom in (``direction`` +1), Zoom out (-1) or Actual size (0), ``steps`` levels, or
        to ``scale``, about the viewport point ``at`` (the mouse for Ctrl+wheel; None: the view's
        centre).  The nodes are drawn again at the new size; the graph is not changed (not an undo
        step).  Not while the mouse drags on the canvas (the drag would lose its node)."""
        app = self.app
        z = app.view.zoom
        if app.dpg.is_mouse_button_down(app.dpg.mvMouseButton_Left) and app.wiring.mouse_on_canvas():
            return False
        new = scale if scale is not None else (1.0 if direction == 0 else z.step(direction, steps))
        r = app.wiring.canvas_rect()
        if at is None and r is not None:
            at = ((r[0][0] + r[1][0]) / 2, (r[0][1] + r[1][1]) / 2)
        old = z.scale
        if not z.set(new, self.canvas_pos(at) if at is not None else None):
            if not quiet:
                app.say(f"zoom {z.label}: " + ("the smallest" if new < 1 else "the largest" if new > 1 else
                                              "actual size already"))
            return False
        self._draw_zoom(old)
        if not quiet:
            app.say(f"zoom {z.label} (Ctrl+0: actual size; Ctrl+= and Ctrl+-, or Ctrl+mouse wheel, zoom)")
        return True

    def _draw_zoom(self, old: float) -> None:
        """Draw the canvas at the view's zoom (it was ``old``): fonts, widget sizes, imnodes' sizes and
        grid, positions (see :meth:`.view.GraphView.rescale`)."""
        app = self.app
        view = app.view
        s = view.zoom.scale
        view.font = self._font(max(4, round(FONT_PX * s))) if s != 1.0 else None
        view.compact_font = self._font(max(COMPACT_MIN_PX, round(SMALL_FONT_PX * s)))
        app_theme(app.dpg, s)
        view.rescale(app.doc.graph, old)
        items.configure("menu_zoom", label=f"Actual size (now {view.zoom.label})" if s != 1.0 else "Actual size (100%)")
        app._settle = max(app._settle, 4)

    def set_view(self, scale: float, shift: tuple[float, float], compact: bool) -> None:
        """Show the canvas at ``scale`` with ``shift`` (see :class:`.zoom.Zoom`) and nodes ``compact`` or
        not: a view recorded before is shown again (the editor benchmark, after its Arrange)."""
        z = self.app.view.zoom
        old = z.scale
        z.place(scale, (0.0, 0.0), shift)
        self._draw_zoom(old)
        if compact != self.app.view.compact:           # (as drawn before: no nodes spread apart)
            self.app.view.set_compact(compact)
            items.set_value("menu_compact", compact)

    def restore_view(self) -> None:
        """The view the graph was saved in (see :func:`.zoom.saved_view`; 100% and bodies shown for
        a file that keeps none), with the graph's origin at the canvas' (a graph opened draws as
        saved)."""
        from .zoom import saved_view
        scale, compact = saved_view(self.app.doc.graph.editor)
        z = self.app.view.zoom
        old = z.scale
        if old != scale or z.shift != (0.0, 0.0):
            z.place(scale, (0.0, 0.0), (0.0, 0.0))
            self._draw_zoom(old)
        if compact != self.app.view.compact:
            self.app.view.set_compact(compact)
            items.set_value("menu_compact", compact)

    def keep_view(self) -> None:
        """Put the view (zoom, compact nodes) into the graph's editor data, to be saved with it: a
        graph opened again shows as it was left."""
        from .zoom import view_record
        editor, view = self.app.doc.graph.editor, self.app.view
        record = view_record(view.zoom.scale, view.compact)
        if record is None:
            editor.pop("view", None)
        else:
            editor["view"] = record

    # ------------------------------------------------------------------ compact
    def set_compact(self, on: bool, quiet: bool = False) -> None:
        """Collapse node bodies (and use the small font on the canvas) or show them again; shown again,
        nodes laid out at their compact size are spread apart once measured (see :meth:`_spread`)."""
        app = self.app
        if app.view.compact and not on:
            scale = app.view.zoom.scale
            self._grown = ({n: (w / scale, h / scale) for n, (w, h) in self.node_sizes().items()},
                           app.frame_count + 3, 3)
        app.view.set_compact(on)
        items.set_value("menu_compact", on)
        app._settle = max(app._settle, 3)
        if not quiet:
            app.say("compact nodes: titles, states and pins only (View > Compact nodes shows the bodies again)"
                    if on else "nodes show their parameters again")

    def _spread(self) -> None:
        """The nodes shown whole again (compact off) and measured: where two that were apart now
        overlap (a layout made for compact nodes, by Arrange or Fit all), the layout is stretched so
        that none covers another (:func:`.placing.spread`; one undo step, which makes the nodes compact again)."""
        from .document import positions
        from .placing import spread
        app = self.app
        before, _, tries = self._grown or ({}, 0, 0)
        scale, sizes = app.view.zoom.scale, self.node_sizes()
        if any(n not in sizes for n in app.doc.graph.nodes) and tries > 1:
            self._grown = (before, app.frame_count + 2, tries - 1)       # not all drawn and measured yet
            return
        self._grown = None
        after = {n: (w / scale, h / scale) for n, (w, h) in sizes.items()}
        g = app.doc.graph
        new = spread({n: p for n, p in positions(g).items() if n in g.nodes}, before, after)
        moved = {n: p for n, p in (new or {}).items() if positions(g).get(n) != p}
        if not moved:
            return

        def change() -> None:
            positions(g).update(moved)
            g.revision += 1
        app.doc.edit(f"{SPREAD} {len(moved)} nodes", change)     # its undo makes the nodes compact again
        app.say(f"nodes show their parameters again, spread apart so that none of the {len(new or ())} covers "
                "another (Ctrl+Z puts them back, compact)")

    def _on_edit(self, label: str) -> None:
        """Undoing the spread (see :meth:`_spread`) puts back the compact nodes it was made for; redoing it
        shows their bodies again."""
        if label.startswith(f"undo {SPREAD} ") and not self.app.view.compact:
            self.set_compact(True, quiet=True)
        elif label.startswith(f"redo {SPREAD} ") and self.app.view.compact:
            self.set_compact(False, quiet=True)

    def set_minimap(self, on: bool, quiet: bool = False) -> None:
        """Show the canvas' minimap, or hide it.  imnodes' minimap shows the nodes that are drawn, so
        while it shows every node is drawn; hidden, nodes far outside the view are not (see
        :mod:`.culling`: large graphs draw faster).  Remembered in the preferences."""
        app = self.app
        self.minimap = on
        items.configure("canvas", minimap=on)
        items.set_value("menu_minimap", on)
        app.culler.enabled = not on
        app._settle = max(app._settle, 3)
        if not quiet:
            app.prefs.set("minimap", on)
            app.say("minimap shown: every node is drawn" if on else
                    "minimap hidden: nodes far outside the view are not drawn (faster on large graphs)")

    # ------------------------------------------------------------------ the view
    def visible_box(self) -> tuple[float, float, float, float] | None:
        """The part of the canvas in view, in node coordinates ``(x0, y0, x1, y1)``."""
        r = self.app.wiring.canvas_rect()
        if r is None:
            return None
        x0, y0 = self.canvas_pos(r[0])
        return x0, y0, x0 + r[1][0] - r[0][0], y0 + r[1][1] - r[0][1]

    def tick(self) -> None:
        self.framing.tick()
        self.settler.tick()
        if self._grown is not None and self.app.frame_count >= self._grown[1]:
            self._spread()

    @property
    def busy(self) -> bool:
        return self.framing.busy or self._grown is not None

    # ------------------------------------------------------------------ paste
    def paste_at(self) -> tuple[float, float] | None:
        """Where a paste lands: the graph point under the mouse when it is over the canvas."""
        app = self.app
        if not app.wiring.mouse_on_canvas():
            return None
        return self.graph_pos(app.dpg.get_mouse_pos(local=False))

    def paste(self, clip: dict[str, Any]) -> list[str] | None:
        """Paste ``clip`` at the mouse (:meth:`paste_at`); pasted again without the mouse moving, each
        copy lands :data:`PASTE_STEP` further down and right instead of on the one before."""
        at = self.paste_at()
        if at is not None:
            again = self._pasted is not None and abs(at[0] - self._pasted[0]) < 2 and abs(at[1] - self._pasted[1]) < 2
            self._paste_count = self._paste_count + 1 if again else 0
            self._pasted = at
            at = (at[0] + PASTE_STEP * self._paste_count, at[1] + PASTE_STEP * self._paste_count)
        return self.app._try("paste", lambda: clipboard.paste(
            self.app.doc, clip, self.beside([n.get("id") for n in clip.get("nodes", []) if isinstance(n, dict)]),
            at=at))

    def place_new(self, at: tuple[float, float], type_id: str, link: tuple[str, str, str, Any] | None = None
                  ) -> tuple[float, float]:
        """Where a node added at viewport point ``at`` goes, in graph coordinates (see :meth:`inside`).
        Added from a ``link`` ``(direction, node, port, type)`` dropped past that node on the side the
        link reads to (right of the node feeding it, left of the one it feeds), it stays on that side,
        the view panned as far as it takes to show it whole (QA59: dropped near the right edge, it went
        left of its source, its link running back behind it); dropped behind it where no place is free, it
        goes on that side too (QA108: a fade went over the load it was fed from, and clicks reached the load)."""
        rect = self.app.wiring.canvas_rect()
        if link is None or rect is None or (pin := self.app.view.node_rect(link[1])) is None:
            return self.graph_pos(self.inside(at, type_id))
        w, gap = self._new_size(type_id, self.node_sizes())[0], 40.0 * self.app.view.zoom.scale
        if not (at[0] >= pin[1][0] if link[0] == "out" else at[0] <= pin[0][0]):     # behind it: where dropped,
            if not self._over(spot := self.inside(at, type_id), type_id):            # if it covers no node there
                return self.graph_pos(spot)
            at = (pin[1][0] + gap if link[0] == "out" else pin[0][0] - gap - w, at[1])
        (x0, y0), (x1, y1) = rect
        out, y = link[0] == "out", at[1]
        edge = pin[1][0] + gap if out else pin[0][0] - gap        # fed from the node: right of it; else left
        x = max(float(at[0]), edge) if out else min(float(at[0]), edge - w)
        for _ in range(5):          # the view full there (QA101 D3: an export went up over the node beside it):
            pan = max(0.0, x + w + 8.0 - x1) if out else min(0.0, x - 8.0 - x0)     # beyond those it would cover,
            room = ((max(x0 + pan, edge - 8.0), y0), (x1 + pan, y1)) if out else \
                ((x0 + pan, y0), (min(x1 + pan, edge + 8.0), y1))                 # the view panned to show it
            spot = self.inside((x, y), type_id, room, pan)
            if not (over := self._over(spot, type_id)):
                break
            y = spot[1]
            x = max(x, max(b[2] for b in over) + gap) if out else min(x, min(b[0] for b in over) - gap - w)
            edge = x if out else x + w
        if pan:
            self.pan(pan, 0.0)
        return self.graph_pos(spot)

    def _over(self, at: tuple[float, float], type_id: str) -> list[tuple[float, float, float, float]]:
        """The drawn nodes (boxes, viewport pixels) a new node of ``type_id`` at ``at`` would cover."""
        w, h = self._new_box(type_id)
        return [b for b in self.drawn_boxes()
                if b[0] < at[0] + w and at[0] < b[2] and b[1] < at[1] + h and at[1] < b[3]]

    def drawn_boxes(self, without: str | None = None) -> list[tuple[float, float, float, float]]:
        """Every node drawn (but ``without``), as ``(x0, y0, x1, y1)`` in viewport pixels."""
        return [(a[0], a[1], b[0], b[1]) for nid in self.app.view.nodes
                if nid != without and (r := self.app.view.node_rect(nid)) is not None for a, b in [r]]

    def _new_box(self, type_id: str) -> tuple[float, float]:
        """A new node's room in pixels: :meth:`_new_size`, its title bar added as margin (a measured size has
        its title bar already)."""
        w, h = self._new_size(type_id, self.node_sizes())
        return w, h + 24.0 * self.app.view.zoom.scale

    def pan(self, dx: float, dy: float) -> None:
        """Move the view ``dx``, ``dy`` pixels right and down over the graph (every node drawn that
        much left and up; the graph's positions stay)."""
        z = self.app.view.zoom
        z.shift = (z.shift[0] - dx, z.shift[1] - dy)
        self.app.view.sync(self.app.doc.graph)     # every node drawn where the new shift puts it

    def inside(self, at: tuple[float, float], type_id: str, rect: Any = None, pan: float = 0.0) -> tuple[float, float]:
        """A new node's top-left corner ``at`` (viewport pixels), moved up or left as far as needed
        for a node of ``type_id`` to show whole on the canvas (its size: a drawn node of that type's,
        else the nodes' median): a node added near the bottom by a double-click or a dropped link is
        not left mostly out of view.  ``rect``: the part of the canvas it goes in (viewport pixels, the
        view as it will be once panned ``pan`` pixels to the right)."""
        rect = rect if rect is not None else self.app.wiring.canvas_rect()
        if rect is None:
            return at
        (x0, y0), (x1, y1) = rect
        w, h = self._new_box(type_id)
        x = max(min(float(at[0]), x1 - w - 8.0), x0 + 8.0)
        y = max(min(float(at[1]), y1 - h - 8.0), y0 + 8.0)
        mini = self.minimap_rect()
        if mini is not None and pan:
            mini = ((mini[0][0] + pan, mini[0][1]), (mini[1][0] + pan, mini[1][1]))
        if mini is not None and x + w > mini[0][0] and y + h > mini[0][1]:      # off the minimap: the
            left, up = mini[0][0] - w - 8.0, mini[0][1] - h - 8.0             # shorter way, left or up
            if up >= y0 + 8.0 and (y - up <= x - left or left < x0 + 8.0):
                y = up
            elif left >= x0 + 8.0:
                x = left
        return self._clear_of_others((x, y), (w, h), rect, mini)

    def _clear_of_others(self, at: tuple[float, float], size: tuple[float, float], rect: Any, mini: Any
                         ) -> tuple[float, float]:
        """``at`` (viewport pixels), or the nearest place where a node of ``size`` covers no other node
        drawn in view nor the minimap (see :func:`.placing.near_place`)."""
        from .placing import near_place
        (x0, y0), (x1, y1) = rect
        boxes = self.drawn_boxes()
        if mini is not None:
            boxes.append((mini[0][0], mini[0][1], mini[1][0], mini[1][1]))
        return near_place(at, (x0 + 8.0, y0 + 8.0, x1 - 8.0, y1 - 8.0), boxes, size)

    def minimap_rect(self) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The minimap's rectangle in viewport pixels, as imnodes draws it (and takes the mouse in it)
        over the canvas' bottom-right corner; None while it is hidden.  See :func:`minimap_box`."""
        rect = self.app.wiring.canvas_rect()
        if not self.minimap or rect is None:
            return None
        view, pad = self.app.view, self.app.view.node_pad
        drawn = [r for nid in view.nodes if (r := view.node_rect(nid)) is not None]
        content = None
        if drawn:        # imnodes' grid content bounds: the drawn nodes, their padding included
            content = (max(r[1][0] for r in drawn) - min(r[0][0] for r in drawn) + 2 * pad,
                       max(r[1][1] for r in drawn) - min(r[0][1] for r in drawn) + 2 * pad)
        return minimap_box(((rect[0][0], rect[0][1]), (rect[1][0], rect[1][1])), content)

    def beside(self, ids: list[Any]) -> tuple[float, float]:
        """Where copies of ``ids`` land when not at the mouse: just below the originals (their drawn
        height and a gap), so that neither hides the other or its links; (40, 40) from originals
        this graph does not have (a clip from another graph)."""
        from .document import positions
        sizes, pos, scale = self.node_sizes(), positions(self.app.doc.graph), self.app.view.zoom.scale
        ids = [n for n in ids if n in sizes and n in pos]
        if not ids:
            return (40.0, 40.0)
        top = min(float(pos[n][1]) for n in ids)
        bottom = max(float(pos[n][1]) + sizes[n][1] / scale for n in ids)
        return (0.0, round(bottom - top + 30.0))

    # ------------------------------------------------------------------ geometry
    def canvas_pos(self, screen: tuple[float, float] | list[float]) -> tuple[float, float]:
        """A viewport point in the canvas' node coordinates (accounts for panning, read from a drawn
        node, in view or not: see :meth:`.culling.Culler.offset`); a canvas without nodes is taken
        as not panned (node position (0, 0) at its top-left corner: the first node added to a new
        graph went 44 px left of it, its left edge behind the palette)."""
        off = self.app.culler.offset()
        if off is None:
            r = self.app.wiring.canvas_rect()
            off = (r[0][0], r[0][1]) if r is not None else (166.0, 28.0)
        return float(screen[0] - off[0]), float(screen[1] - off[1])

    def graph_pos(self, screen: tuple[float, float] | list[float]) -> tuple[float, float]:
        """A viewport point in graph coordinates (what graph files keep: the zoom undone)."""
        x, y = self.app.view.zoom.to_graph(self.canvas_pos(screen))
        return x, y

    def node_sizes(self) -> dict[str, tuple[float, float]]:
        """Each drawn node's size in pixels (at the zoom drawn), pins included."""
        view, sizes = self.app.view, {}
        pad = view.node_pad
        culler = self.app.culler
        for nid in self.app.doc.graph.nodes:
            r = view.node_rect(nid) if nid in view.nodes and nid not in culler.hidden else None
            if r is not None:
                (x0, y0), (x1, y1) = r
                sizes[nid] = (x1 - x0 + 2 * pad, y1 - y0 + 2 * pad)
            elif nid in culler.hidden and (size := culler.size(nid)) is not None:
                sizes[nid] = size                # not drawn while far outside the view: as last drawn
        return sizes

    def pin_heights(self) -> dict[tuple[str, str, str], float]:
        """Each drawn pin's height below its node's top (see :data:`.layout.Pins`): Arrange keeps
        links clear of nodes with the pins where they really are."""
        view, graph, out = self.app.view, self.app.doc.graph, {}
        culler = self.app.culler
        for nid in graph.nodes:
            spec, hidden = graph.spec(nid), nid in culler.hidden
            if spec is None or (nid not in view.nodes and not hidden):
                continue
            for direction, ports in (("in", spec.inputs), ("out", spec.outputs)):
                for port in ports:               # culled (not drawn): as last drawn
                    h = culler.pin_height(nid, direction, port) if hidden else view.pin_height(nid, port, direction)
                    if h is not None:
                        out[(nid, direction, port)] = h
        return out

    def free_spot(self, type_id: str | None = None) -> tuple[float, float]:
        """Where a node added from the palette goes (graph coordinates): see :meth:`free_place`."""
        spot = self.free_place(type_id)
        return spot if spot is not None else (0.0, 0.0)   # (None only when ``strict`` or not ``hide``)

    def free_place(self, type_id: str | None = None, size: tuple[float, float] | None = None,
                   without: str | None = None, strict: bool = False, gap: float = 20.0,
                   hide: bool = True, below: float = 0.0) -> tuple[float, float] | None:
        """Where a node added from the palette goes (graph coordinates): the first free place in
        view, row by row from the top left, clear of the nodes there (but ``without``) and of the
        minimap; in a full view, where it covers the least of them (see :func:`.placing.free_place`).
        Its ``size`` in pixels: as drawn (:mod:`.settling`), else estimated.  Before the canvas is
        laid out: right of the others.  ``strict``: only a free place (None where there is none); ``gap``:
        how far clear of the others; ``hide=False``: never over most of a node or the minimap (None);
        ``below``: the view and as far below it."""
        from .document import positions
        from .placing import free_place
        pos, view = positions(self.app.doc.graph), self.visible_box()
        if view is None:
            x = max((p[0] for p in pos.values()), default=-200.0) + 260.0
            return (x, 40.0) if x < 1000 else (40.0, max(p[1] for p in pos.values()) + 260.0)
        zoom, sizes = self.app.view.zoom, self.node_sizes()
        boxes = [(x0, y0, x0 + w, y0 + h) for nid, (w, h) in sizes.items() if nid in pos and nid != without
                 for x0, y0 in [zoom.to_canvas(pos[nid])]]   # a position is the top-left corner of all of it
        mini = self.minimap_rect()                          # its corner of the canvas (QA104 D6)
        avoid = [(*self.canvas_pos(mini[0]), *self.canvas_pos(mini[1]))] if mini is not None else []
        w, h = size or self._new_size(type_id, sizes)
        spot = free_place((*view[:3], view[3] + below), boxes, (w, h), gap=gap, step=gap * 2, strict=strict,
                          avoid=avoid, hide=hide)
        if spot is None:
            return None
        x, y = zoom.to_graph(spot)
        return x, y

    def _new_size(self, type_id: str | None, sizes: dict[str, tuple[float, float]]) -> tuple[float, float]:
        """A new node's size in pixels: a drawn node of that type's, else its rows counted from its
        declaration (QA62: the median of a load and a tall export took a fade for the export's height,
        and a fade dropped low went up over the load), else the drawn nodes' median."""
        graph = self.app.doc.graph
        size = next((sizes[n] for n, inst in graph.nodes.items() if inst.type == type_id and n in sizes), None)
        if size is not None:
            return size
        scale = self.app.view.zoom.scale
        drawn = sorted(sizes.values())
        width = drawn[len(drawn) // 2][0] if drawn else 220.0 * scale
        spec = graph.registry.get(type_id) if type_id else None
        if spec is None:
            return drawn[len(drawn) // 2] if drawn else (width, 180.0 * scale)
        from .outputs import WAVE_H
        from .widgets import applies
        defaults = {n: p.default for n, p in spec.params.items()}
        params = [p for p in spec.params.values() if not p.group and applies(p, defaults)]
        groups = {p.group for p in spec.params.values() if p.group}
        body = 0 if self.app.view.compact else len(params) + len(groups) + 1          # + its type line
        rows = 1 + len(spec.inputs) + body + len(spec.outputs)                        # + the state line
        return width, (ROW_H * rows + (0 if self.app.view.compact else WAVE_H) * len(spec.outputs) + 16.0) * scale


def minimap_box(canvas: tuple[tuple[float, float], tuple[float, float]],
                content: tuple[float, float] | None) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """imnodes' minimap rectangle (``CalcMiniMapLayout``: its frame, padding included), bottom-right in
    ``canvas`` (viewport pixels) for drawn nodes spanning ``content`` pixels (None: no node drawn, then
    imnodes takes the canvas itself).  Its content is at most :data:`MINIMAP_FRACTION` of the canvas
    less the padding on both sides, shrunk to the nodes' aspect ratio (so it is narrower than that
    for a tall graph, lower for a wide one), and sits :data:`MINIMAP_OFFSET` and the padding inside the
    canvas' corner; imnodes floors each size and the position to whole pixels.  None when the canvas
    is too small for one."""
    (x0, y0), (x1, y1) = canvas
    pad, off = MINIMAP_PADDING, MINIMAP_OFFSET
    mw = math.floor((x1 - x0) * MINIMAP_FRACTION - 2 * pad)
    mh = math.floor((y1 - y0) * MINIMAP_FRACTION - 2 * pad)
    if mw <= 0 or mh <= 0:
        return None
    cw, ch = (math.floor(content[0]), math.floor(content[1])) if content else (math.floor(x1 - x0),
                                                                                  math.floor(y1 - y0))
    if ch <= 0:
        w, h = mw, 0
    elif cw / ch > mw / mh:                  # wider than the room: full width, height to the aspect
        w, h = mw, math.floor(mw / (cw / ch))
    else:                                    # taller: full height, width to the aspect
        w, h = math.floor(mh * (cw / ch)), mh
    px, py = math.floor(x1 - off - pad - w), math.floor(y1 - off - pad - h)
    return (px - pad, py - pad), (px + w + pad, py + h + pad)
