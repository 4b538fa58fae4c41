"""*View > Fit all* (``Home``) and *Graph > Arrange* (``Ctrl+L``): the layout fitted into the window.

*Fit all* shows the layout whole at the largest zoom that fits it, at most 100% and at least
:data:`FIT_MIN_ZOOM` (a view change, not an edit); a layout too big for that is arranged in bands
left to right for the window at that zoom (one undoable move), and one still too big switches to
*compact* nodes (every body collapsed to title, state and pins, drawn in a smaller font) and is
fitted again once they are measured.  *Arrange* lays the nodes out by dependency depth (see
:mod:`.layout`, which holds the geometry without a window) and fits what then lies out of view in
the same undo step.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .canvas import Canvas

__all__ = ["Framing", "FIT_MIN_ZOOM", "ARRANGE_MIN_ZOOM", "HOOKS", "MINIMAP_PART"]

FIT_MIN_ZOOM = 0.5      # Fit all zooms out down to this (text still readable), then arranges the nodes
HOOKS = 0.95            # of the window's width a band takes: a link wrapping from a band's end loops past it
#                         (by about 3% of the band's width; QA69: the hooks were clipped at the canvas' edge)
ARRANGE_MIN_ZOOM = 0.67  # Arrange keeps one band of columns that reads whole at this zoom (and zooms out to it)
PIN_REACH = 12.0       # px an out pin's circle (and the grip around it) reaches past its node's right edge
MINIMAP_PART = 0.22     # of the canvas' width and height that imnodes' minimap covers at most (0.2 and its
#   margin): for a layout not drawn yet (a fit); the minimap as drawn is :meth:`Canvas.minimap_rect`


class Framing:
    """The fit and arrange commands of a :class:`~.canvas.Canvas` (its app's window)."""

    def __init__(self, canvas: Canvas):
        self.canvas, self.app = canvas, canvas.app
        self._refit_at = 0          # the frame to fit again at, once compact nodes are measured
        self._refit_again = True    # that fit is the second (no compact step again)
        self._refit_opening = False  # that fit is part of opening a graph (see fit)
        self._after_arrange = False  # that fit follows Arrange (its message follows Arrange's, its move is Arrange's)
        self._arranged = 0           # Arranges done: each one undo step with the fit that follows it
        self._arrange_view: tuple[float, tuple[float, float], bool] | None = None   # the view Arrange began in

    def tick(self) -> None:
        """Fit again once the nodes a fit changed are drawn and measured."""
        if self._refit_at and self.app.frame_count >= self._refit_at:
            self._refit_at = 0
            self.fit(again=self._refit_again, opening=self._refit_opening)

    @property
    def busy(self) -> bool:
        return bool(self._refit_at)

    def fit(self, again: bool = False, opening: bool = False) -> None:
        """Bring every node into view (see the module's description): at the largest zoom, at most
        100% and at least :data:`FIT_MIN_ZOOM`, that shows the layout whole (a view change, not an
        edit); else arranged in bands for the window at that zoom (one undoable move), compact if
        they still do not fit.  ``opening``: part of opening a graph that came without positions (its
        layout is the editor's): arranging it is no edit, and what was done follows the opening's message."""
        from .document import positions
        from .layout import bounds
        app = self.app
        g = app.doc.graph
        box, sizes = self.canvas.visible_box(), self.canvas.node_sizes()
        if not g.nodes or box is None or any(n not in sizes for n in g.nodes):
            self._refit_at = app.frame_count + 2 if g.nodes else 0       # not drawn yet: try again
            self._refit_again, self._refit_opening = again, opening
            return
        z = app.view.zoom
        s, n_nodes = z.scale, len(g.nodes)
        graph = {n: list(positions(g).get(n, [0.0, 0.0])) for n in g.nodes}
        unit = {n: (w / s, h / s) for n, (w, h) in sizes.items()}           # sizes at 100%
        vx0, vy0, vx1, vy1 = box
        room = (vx1 - vx0 - 40, vy1 - vy0 - 40)
        rooms = [room] + ([(room[0], room[1] * (1 - MINIMAP_PART))] if self.canvas.minimap else [])   # above the minimap
        pins = self.canvas.pin_heights()
        upins = {k: v / s for k, v in pins.items()}                           # (links drawn: in the bounds)
        x0, y0, x1, y1 = bounds({n: z.to_canvas(p) for n, p in graph.items()}, sizes, g, pins)
        gx0, gy0, gx1, gy1 = bounds(graph, unit, g, upins)
        level = z.fitting((gx1 - gx0, gy1 - gy0), room)
        if x0 >= vx0 and y0 >= vy0 and x1 <= vx1 and y1 <= vy1 and level <= s and not self._drawn_under_minimap():
            if not opening and not self._after_arrange:
                app.say(f"all {n_nodes} nodes are in view")        # (and they would not show bigger)
            self._after_arrange = False
            return
        if not FIT_MIN_ZOOM <= s <= 1.0 and not again:
            # sizes measured far from the zooms a fit shows (text keeps a readable size when zoomed
            # far out) would misjudge the nodes' sizes: draw them at the nearest such zoom, fit then
            self._show(min(max(s, FIT_MIN_ZOOM), 1.0), (gx0, gy0), box)
            self._refit_at, self._refit_again, self._refit_opening = app.frame_count + 3, False, opening
            return
        level = next((lv for r in rooms if (lv := z.fitting((gx1 - gx0, gy1 - gy0), r)) >= FIT_MIN_ZOOM
                      and not self._under_minimap(graph, unit, lv, (gx0, gy0), box)), 0.0)
        if level >= FIT_MIN_ZOOM:                 # the layout as it is, whole in the window, clear of the minimap
            self._show(level, (gx0, gy0), box)
            compact = " (compact nodes: Ctrl+M shows their bodies)" if app.view.compact else ""
            self._tell((f"zoomed to {z.label} to show all {n_nodes} nodes" if level != s else
                        f"brought all {n_nodes} nodes into view") + compact
                       + (" (Ctrl+0: actual size)" if level != 1.0 else ""), opening)
            return
        room, new, level = self._banded(unit, rooms, (gx0, gy0), box)
        bx0, by0, bx1, by1 = bounds(new, unit, g, upins)
        if (by1 - by0) * level > room[1] and not app.view.compact and not again:
            # too big: collapse the nodes at the smallest zoom a fit shows, measure them, fit again
            self._show(FIT_MIN_ZOOM, (gx0, gy0), box)
            self.canvas.set_compact(True, quiet=opening)
            self._refit_at, self._refit_again, self._refit_opening = app.frame_count + 3, True, opening
            return
        if opening:                              # the editor's own layout, redone: no edit of the user's
            positions(g).update(new)
            g.revision += 1
        else:                                    # after Arrange: the same undo step (QA62: Ctrl+Z twice)
            app.doc.move(new, *(("arrange", ("arrange", self._arranged)) if self._after_arrange else ()))
        self._show(level, (bx0, by0), box)
        shown = sum(1 for n, p in new.items() if (p[1] + unit[n][1] - by0) * level <= room[1] + 20)
        self._tell(f"fitted {n_nodes} nodes into the window at {z.label}"
                   + (" (compact: Ctrl+M shows their bodies)" if app.view.compact else "")
                   + ("" if shown == n_nodes else f"; {shown} in view, the rest below (drag with the middle "
                      "button to pan)") + ("" if opening else "; Ctrl+Z puts them back"), opening)

    def _banded(self, unit: dict[str, tuple[float, float]], rooms: list[tuple[float, float]],
                origin: tuple[float, float], box: tuple[float, float, float, float]
                ) -> tuple[tuple[float, float], dict[str, list[float]], float]:
        """The graph arranged in bands for the first of ``rooms`` (the window, then the part above the
        minimap) where it fits whole and clear of the minimap, else where it fits, else the first:
        ``(room, positions, zoom)``.  Bands stepped so that their wrapping links run clear, or flat
        (less tall) where only those fit."""
        from .layout import arrange, bounds
        app, z = self.app, self.app.view.zoom
        gap = (30.0, 14.0) if app.view.compact else (60.0, 30.0)
        pins = {k: v / z.scale for k, v in self.canvas.pin_heights().items()}
        tries = []
        for room in rooms:
            for stepped in (True, False):     # bands stepped for their wrapping links, else flat when that fits
                new = arrange(app.doc.graph, unit, origin=origin, gap=gap, pins=pins, stepped=stepped,
                              max_width=origin[0] + room[0] * HOOKS / FIT_MIN_ZOOM)
                bx0, by0, bx1, by1 = bounds(new, unit, app.doc.graph, pins)
                level = max(z.fitting((bx1 - bx0, by1 - by0), room), FIT_MIN_ZOOM)
                tries.append(((by1 - by0) * level > room[1], self._under_minimap(new, unit, level, (bx0, by0), box),
                              room, new, level))
                if not tries[-1][0]:
                    break
        _, _, room, new, level = min(tries, key=lambda t: t[:2])   # fitting first, then clear of the minimap
        return room, new, level

    def _under_minimap(self, pos: dict[str, list[float]], unit: dict[str, tuple[float, float]], level: float,
                       corner: tuple[float, float], box: tuple[float, float, float, float]) -> bool:
        """Whether a node of the layout ``pos`` (graph units), shown at ``level`` with ``corner`` where
        :meth:`_show` puts it, would lie under the minimap (the canvas' bottom-right corner)."""
        if not self.canvas.minimap:
            return False
        mx0 = box[2] - MINIMAP_PART * (box[2] - box[0])
        my0 = box[3] - MINIMAP_PART * (box[3] - box[1])
        return any(box[0] + 20 + (p[0] - corner[0] + unit[n][0]) * level > mx0 and
                   box[1] + 20 + (p[1] - corner[1] + unit[n][1]) * level > my0 for n, p in pos.items() if n in unit)

    def _drawn_under_minimap(self) -> bool:
        """Whether a node as drawn, its out pins with it (:data:`PIN_REACH` past its right edge), lies under the
        minimap (its pins and fields out of reach there)."""
        mini, view = self.canvas.minimap_rect(), self.app.view
        return mini is not None and any(r[1][0] + PIN_REACH > mini[0][0] and r[1][1] > mini[0][1]
                                        for nid in view.nodes if (r := view.node_rect(nid)) is not None)

    def _tell(self, what: str, opening: bool) -> None:
        """A fit's message; while opening, after the opening's own (its problems stay in view)."""
        app = self.app
        after, self._after_arrange = self._after_arrange, False
        if after and self._arrange_view is not None:   # its undo shows the view it began in (QA69 D6)
            z = app.view.zoom
            app.doc.history.keep_view(self._arrange_view, (z.scale, z.shift, app.view.compact))
            self._arrange_view = None
        if (opening and app.status_text.startswith("opened ")) or after:
            app.say(f"{app.status_text}; {what}", app.status_error)
        else:
            app.say(what)

    def _show(self, level: float, corner: tuple[float, float], box: tuple[float, float, float, float]) -> None:
        """Draw at zoom ``level`` with the graph point ``corner`` 20 px inside the view's top-left."""
        z = self.app.view.zoom
        old = z.scale
        z.place(level, corner, (box[0] + 20, box[1] + 20))
        self.canvas._draw_zoom(old)

    def arrange(self, initial: bool = False) -> None:
        """Lay the nodes out in columns by dependency depth, using their drawn sizes.

        One band of columns when it reads whole at :data:`ARRANGE_MIN_ZOOM` (a six-node chain is one
        row, QA59), or when bands would show no bigger (QA62: an export wrapped alone to a second band,
        and both showed at 50%); else bands for the window at that zoom.  A layout that then lies out
        of view is fitted into it in the same step, as *Fit all* fits (zoomed out, in bands for the
        window, with compact nodes if need be; see :meth:`fit`).  For a graph that came without
        positions this is part of opening it (not an undo step and not an unsaved change); from the
        menu it is an ordinary, undoable edit.
        """
        from .document import positions
        from .layout import arrange, bounds
        app = self.app
        g = app.doc.graph
        z = app.view.zoom
        sizes, pins, (cw, ch) = self.canvas.node_sizes(), self.canvas.pin_heights(), app.dpg.get_item_rect_size("canvas")

        def laid(width: float | None) -> tuple[dict[str, list[float]], float]:
            """The layout for bands ``width`` wide (None: one band) and the zoom it shows whole at."""
            placed = arrange(g, sizes, gap=(60.0 * z.scale, 30.0 * z.scale), max_width=width, pins=pins)
            x0, y0, x1, y1 = bounds(placed, sizes, g, pins)
            return placed, z.fitting(((x1 - x0) / z.scale, (y1 - y0) / z.scale), (cw - 40, ch - 40))
        placed, level = laid(None)
        if level < ARRANGE_MIN_ZOOM:
            banded, banded_level = laid((cw - 10) * HOOKS * max(z.scale / ARRANGE_MIN_ZOOM, 1.0))
            if banded_level > level or banded_level == level < FIT_MIN_ZOOM:    # (neither shows whole at
                placed, level = banded, banded_level                  # 50%: bands, not a row off the screen; QA69)
        new = {n: z.to_graph(p) for n, p in placed.items()}
        self._arrange_view = (z.scale, z.shift, app.view.compact)
        if initial:
            positions(g).update(new)
            g.revision += 1
        elif app.doc.move(new, "arrange", ("arrange", self._arranged + 1)):
            self._arranged += 1
            app.say("arranged the nodes (Ctrl+Z puts them back)")
            box = self.canvas.visible_box()
            x0, y0, x1, y1 = bounds(placed, sizes, g, pins)
            if box is not None and not (x0 >= box[0] and y0 >= box[1] and x1 <= box[2] and y1 <= box[3]):
                # fitted as Home fits (bands for the window, compact nodes if need be), in the same step
                # (QA69: a 40-node chain stayed one row, 4 of its nodes in view, until Home)
                self._refit_at, self._refit_again, self._refit_opening = app.frame_count + 2, False, False
                self._after_arrange = True       # the fit's message follows the arrangement's

    def fit_to_window(self) -> bool:
        """Part of opening a graph: when some node lies outside the canvas, move the layout into
        view, or arrange it in bands when it is wider than the window (not an undo step); a layout
        that cannot be fitted so is shown from its top left (a view change; QA59: a recovered
        111-node graph opened with none of its nodes in view)."""
        from .document import positions
        from .layout import bounds, fit
        app = self.app
        g = app.doc.graph
        z = app.view.zoom
        canvas, sizes = {n: z.to_canvas(p) for n, p in positions(g).items()}, self.canvas.node_sizes()
        new = fit(g, canvas, sizes, tuple(app.dpg.get_item_rect_size("canvas")))
        if new:
            new = {n: z.to_graph(p) for n, p in new.items()}
            positions(g).update(new)
            g.revision += 1
            app.say(f"{app.status_text}; moved its nodes to fit this window" if app.status_text
                    else "moved the nodes to fit this window", app.status_error)
            return True
        box = self.canvas.visible_box()
        if box is None or not g.nodes or any(n not in canvas or n not in sizes for n in g.nodes):
            return False
        x0, y0, x1, y1 = bounds({n: canvas[n] for n in g.nodes}, sizes)
        if x0 >= box[0] and y0 >= box[1] and x1 <= box[2] and y1 <= box[3] and self._drawn_under_minimap():
            self.fit(opening=True)              # whole in view but under the minimap: shown clear of it (QA101 D4)
            return False
        if x0 < box[2] and x1 > box[0] and y0 < box[3] and y1 > box[1]:
            return False                        # some of it is in view: the view the user left
        s = z.scale
        self._show(s, bounds({n: positions(g)[n] for n in g.nodes}, {n: (w / s, h / s) for n, (w, h) in sizes.items()})[:2],
                   box)
        app.say(f"{app.status_text}; showing its top left (Home fits it all)" if app.status_text
                else "showing the graph's top left (Home fits it all)", app.status_error)
        return False
