"""Finding and wiring on the canvas: what a link drag fits, a link dropped on empty canvas, double-click.

dearpygui's node editor reports a link only once it is made (and nothing when it is dropped on empty
canvas), so :class:`Wiring` watches the mouse itself, once per frame: a press on a pin starts a
*link drag* (the pin is found from the drawn pin positions, see :meth:`GraphView.pin_pos`), during
which every pin the link cannot go to is dimmed (see :meth:`GraphView.dim_pins`); a release over
empty canvas with no link made opens the node search there, offering only node types with a port
that fits, and links the node picked.  A double-click on empty canvas opens the same search.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..types import link_mode, type_name
from . import items
from .keyorder import hold_until

if TYPE_CHECKING:
    from .app import App

__all__ = ["Wiring", "PIN_RADIUS"]

PIN_RADIUS = 10.0      # imnodes' pin hover radius: a press this close to a pin starts a link
DROP_MIN = 20.0        # a release nearer than this to the pin is a click, not a dropped link


class Wiring:
    """Link drags, link drops and double-clicks on the canvas of ``app`` (an :class:`~.app.App`)."""

    def __init__(self, app: App):
        self.app = app
        self._prompt: str | None = None      # the search's prompt in the status bar while it is open
        self.drag: tuple[str, str, str] | None = None        # (direction, node, port) a link is dragged from
        self.pressed_at: tuple[float, float] = (0.0, 0.0)
        self.linked = False                                 # a link was made since the press
        self._drop: tuple[tuple[str, str, str], tuple[float, float], int] | None = None
        self._released: int | None = None         # the frame after a link drag ended elsewhere
        self._double: tuple[float, float] | None = None     # a double-click on empty canvas, until released

    # ------------------------------------------------------------------ geometry
    def _mouse(self) -> tuple[float, float]:
        x, y = self.app.dpg.get_mouse_pos(local=False)
        return float(x), float(y)

    def pin_at(self, p: tuple[float, float]) -> tuple[str, str, str] | None:
        """The pin ``(direction, node, port)`` under viewport point ``p``, if any."""
        view = self.app.view
        best, best_d = None, PIN_RADIUS
        for (d, nid, port) in list(view.pin_types):
            r = view.node_rect(nid)
            if r is None or not (r[0][0] - 30 <= p[0] <= r[1][0] + 30 and r[0][1] - 10 <= p[1] <= r[1][1] + 10):
                continue
            q = view.pin_pos(nid, port, d)
            if q is not None and (dist := math.hypot(p[0] - q[0], p[1] - q[1])) <= best_d:
                best, best_d = (d, nid, port), dist
        return best

    def canvas_rect(self) -> tuple[list[float], list[float]] | None:
        """The node canvas in viewport pixels (the node editor reports no rectangle of its own: it
        lies right of the palette panel, as big as its size)."""
        pal = items.state("palette")
        size = items.call(self.app.dpg.get_item_rect_size, "canvas", default=None)
        if not pal.get("pos") or not pal.get("rect_size") or not size or min(size) <= 0:
            return None                     # not laid out yet (the first frame)
        x0, y0 = float(pal["pos"][0] + pal["rect_size"][0]) + 8.0, float(pal["pos"][1])
        return [x0, y0], [x0 + float(size[0]), y0 + float(size[1])]

    def on_canvas(self, p: tuple[float, float]) -> bool:
        """Whether viewport point ``p`` lies on the canvas (nodes included)."""
        r = self.canvas_rect()
        return r is not None and r[0][0] <= p[0] <= r[1][0] and r[0][1] <= p[1] <= r[1][1]

    def mouse_on_canvas(self) -> bool:
        return self.on_canvas(self._mouse())

    def on_empty_canvas(self, p: tuple[float, float]) -> bool:
        """Whether ``p`` lies on the canvas, off every node and off the minimap, with no window (a
        dialog, a panel) over it: a double-click on a dialog's button above the canvas is the button's."""
        r = self.canvas_rect()
        if r is None or not self.on_canvas(p):
            return False
        if not items.call(self.app.dpg.is_item_hovered, "canvas", default=False):
            return False
        mini = self.app.canvas.minimap_rect()
        if mini is not None and p[0] > mini[0][0] and p[1] > mini[0][1]:
            return False
        for nid in self.app.view.nodes:
            n = self.app.view.node_rect(nid)
            if n is not None and n[0][0] - 12 <= p[0] <= n[1][0] + 12 and n[0][1] - 30 <= p[1] <= n[1][1] + 12:
                return False
        return True

    # ------------------------------------------------------------------ what fits
    def fitting(self, pin: tuple[str, str, str]) -> set[tuple[str, str, str]]:
        """Pins a link from ``pin`` cannot go to: the pins of its own direction (an output never
        feeds an output), the other direction's pins whose type does not fit, and the pins of its
        own node (a link there would be a cycle)."""
        view = self.app.view
        d, nid, _ = pin
        t = view.pin_types.get(pin)
        bad = set()
        for other, ot in view.pin_types.items():
            if other[0] == d:
                if other != pin:
                    bad.add(other)
                continue
            src, dst = (t, ot) if d == "out" else (ot, t)
            if other[1] == nid or t is None or ot is None or not link_mode(src, dst):
                bad.add(other)
        return bad

    # ------------------------------------------------------------------ per frame
    def tick(self) -> None:
        """Follow the mouse: start and end link drags, open the search on a drop or double-click."""
        app, dpg = self.app, self.app.dpg
        left = dpg.mvMouseButton_Left
        if self._prompt is not None and not app.palette.searching:      # closed without a pick (Esc, its x)
            if app.status_text == self._prompt:
                app.say("no node added (the search was closed)")
            self._prompt = None
        if self._drop is not None and app.frame_count >= self._drop[2]:
            src, at, _ = self._drop
            self._drop = None
            if not self.linked and src[1] in app.view.nodes:
                app.view.dim_pins(set())
                t = app.view.pin_types.get(src)
                app.palette.open_search(at, (src[0], src[1], src[2], t))
                if app.palette.results:
                    app.say(f"link from {src[1]}.{src[2]} dropped on the canvas: pick a node to link it to "
                            "(arrows and Enter, or a click; Esc cancels)")
                else:               # (QA: it said "pick a node" over a list saying that none fits)
                    app.say(f"link from {src[1]}.{src[2]} dropped on the canvas: no node type "
                            f"{'takes' if src[0] == 'out' else 'gives'} {type_name(t)} (Esc closes the search)")
                self._prompt = app.status_text
        if self._double is not None and not dpg.is_mouse_button_down(left):
            p, self._double = self._double, None       # opened once released: the popup then keeps the keyboard
            app.palette.open_search(p)
            app.say("add a node here: type to search (words like 'loudness' or 'pitch' work), arrows and Enter")
            self._prompt = app.status_text
            return
        if dpg.is_mouse_button_double_clicked(left) and not app.palette.searching:
            p = self._mouse()
            if self.on_empty_canvas(p):
                self._double = p
                return
        if dpg.is_mouse_button_clicked(left):
            p = self._mouse()
            pin = self.pin_at(p)
            self.drag, self.pressed_at, self.linked = pin, p, False
            if pin is not None:
                app.view.dim_pins(self.fitting(pin))
                t = app.view.pin_types.get(pin)
                app.say(f"linking {pin[1]}.{pin[2]} ({type_name(t) if t is not None else '?'}): pins it "
                        "cannot go to are grey; drop on empty canvas to add a node that fits")
        elif self.drag is not None and dpg.is_mouse_button_released(left):
            pin, self.drag = self.drag, None
            p = self._mouse()
            app.view.dim_pins(set())
            far = math.hypot(p[0] - self.pressed_at[0], p[1] - self.pressed_at[1]) >= DROP_MIN
            if far and not self.linked and self.on_empty_canvas(p):
                self._drop = (pin, p, app.frame_count + 1)     # the link callback of this release comes first
                hold_until(lambda: self._drop is None)    # what is typed at once goes into the search
            else:
                self._released = app.frame_count + 1
        if self._released is not None and app.frame_count >= self._released:
            self._released = None           # dropped on a node's body, or back where it started: no
            if not self.linked and app.status_text.startswith("linking "):     # stale "linking ..." left
                app.say("no link made: drop on a pin that fits (the ones not grey), or on empty canvas")
