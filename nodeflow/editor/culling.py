"""Nodes far outside the visible canvas are not drawn (their items are hidden, not deleted).

dearpygui's node editor lays out and draws every node every frame, in view or not: at 200 nodes the
frame's CPU work on the UI thread was about 4x an empty canvas's, most of it for nodes nobody sees.
:class:`Culler` hides the nodes whose rectangle lies more than :data:`MARGIN` pixels outside the
canvas, and shows them again when panning, a move, a fit or an undo brings them near.

What imnodes does with a hidden node decides the rules here:

* a hidden node leaves imnodes' pool, so when it is shown again it starts at (0, 0): its position
  is set again on the same frame it is shown;
* a link whose node is hidden is still drawn, to where the pin was: a link is hidden with either of
  its nodes, and a node stays drawn while one of its links can be in view (its other end is in view,
  or the link's box crosses the view), so every link in view is drawn whole;
* the selection forgets hidden nodes: selected nodes stay drawn.

The view's pan is read from one drawn node (its drawn rectangle against its position), so one node
always stays drawn.  A node is hidden only once it has been drawn and measured; its size and pin
heights are kept for Fit all and Arrange (see :meth:`size` and :meth:`pin_height`); when every node
changes size (View > Compact nodes, a zoom) all are drawn once and measured again.  The work per
frame is a few dearpygui calls; the nodes are looked at only when the pan, the canvas size or the
graph changed.
"""
from __future__ import annotations

from typing import Any

from . import items

__all__ = ["Culler", "MARGIN"]

MARGIN = 120.0      # pixels around the canvas within which nodes are drawn (a fast pan shows them in time)


class Culler:
    """Hides and shows the nodes of ``app``'s view (an :class:`~.app.App`) as the view pans.

    Parameters
    ----------
    app
        The editor; its ``view`` (a :class:`~.view.GraphView`), ``wiring.canvas_rect()`` and ``doc``
        are read.
    enabled
        False draws every node (the behaviour before culling; tests compare both).
    """

    def __init__(self, app: Any, enabled: bool = True):
        self.app = app
        self.enabled = enabled
        self.hidden: dict[str, int] = {}          # node id -> the dpg item hidden (a recreated node is new)
        self.hidden_links: dict[Any, int] = {}   # link -> its dpg item, hidden
        self.sizes: dict[str, tuple[float, float]] = {}        # node id -> size drawn, pins included
        self.pins: dict[tuple[str, str, str], float] = {}      # (node, direction, port) -> height below top
        self.anchor: str | None = None            # a drawn node the pan is read from
        self._key: tuple[Any, ...] | None = None
        self._compact: tuple[bool, float] = (False, 1.0)    # (compact, zoom) the sizes were measured at
        self._seen: dict[str, tuple[float, float]] = {}       # node id -> size drawn last time it was looked at
        self.recomputed = 0                       # how often the nodes were looked at (tests, benchmarks)
        app.view.culled = self.hidden

    # ------------------------------------------------------------------ geometry
    def offset(self) -> tuple[float, float] | None:
        """Viewport pixels of node position (0, 0): the canvas' pan, from a drawn node."""
        view = self.app.view
        pad = view.node_pad
        for nid in ([self.anchor] if self.anchor in view.nodes else []) + list(view.nodes):
            if nid is None or nid in self.hidden:
                continue
            tag = view.node_tag(nid)
            st, p = items.state(tag), items.pos(tag)
            if st.get("rect_min") and p is not None:
                self.anchor = nid
                return float(st["rect_min"][0] - p[0] - pad), float(st["rect_min"][1] - p[1] - pad)
        return None

    def size(self, nid: str) -> tuple[float, float] | None:
        """A node's size as last drawn (pins included), also while it is hidden."""
        return self.sizes.get(nid)

    def pin_height(self, nid: str, direction: str, port: str) -> float | None:
        """A pin's height below its node's top as last drawn, also while the node is hidden."""
        return self.pins.get((nid, direction, port))

    def _measure(self, nid: str) -> bool:
        """Remember a drawn node's size and pin heights; False when it is not drawn yet or its size
        changed since the last look (it is looked at again on the next frame)."""
        view = self.app.view
        r = view.node_rect(nid)
        if r is None:
            return False
        (x0, y0), (x1, y1) = r
        size = (x1 - x0 + 2 * view.node_pad, y1 - y0 + 2 * view.node_pad)
        if self._seen.get(nid) != size:         # a new node's first frame has no layout yet (16 x 16)
            self._seen[nid] = size
            return False                        # the same size on two frames is its size
        if self.sizes.get(nid) == size:
            return True                         # pins move only when the node's size does
        self.sizes[nid] = size
        for direction, n, port in [k for k in view.pin_types if k[1] == nid]:
            h = view.pin_height(nid, port, direction)
            if h is not None:
                self.pins[(nid, direction, port)] = h
        return True

    # ------------------------------------------------------------------ per frame
    def tick(self) -> None:
        """Show the nodes near the view and hide the others, when the view or the graph changed."""
        view, g = self.app.view, self.app.doc.graph
        if not self.enabled:
            if self.hidden or self.hidden_links:
                self.show_all()
            return
        if (view.compact, view.zoom.scale) != self._compact:     # every node changes size (compact, zoom):
            self._compact = (view.compact, view.zoom.scale)      # draw all once, measure them again
            self.show_all()
            return
        canvas = self.app.wiring.canvas_rect()
        off = self.offset()
        if canvas is None or off is None:
            return
        key = (round(off[0]), round(off[1]), tuple(map(round, canvas[0] + canvas[1])), id(g), view.last_sync_revision,
               len(view.nodes), len(view.links))
        if key == self._key:
            return
        self._key = key
        self.recomputed += 1
        box = (canvas[0][0] - off[0] - MARGIN, canvas[0][1] - off[1] - MARGIN,
               canvas[1][0] - off[0] + MARGIN, canvas[1][1] - off[1] + MARGIN)
        self._apply(self._wanted(box))

    def _wanted(self, box: tuple[float, float, float, float]) -> set[str]:
        """The nodes to draw for the view ``box`` (node coordinates, margin included)."""
        view = self.app.view
        x0, y0, x1, y1 = box
        rects: dict[str, tuple[float, float, float, float]] = {}
        unmeasured = False
        for nid in view.nodes:
            if nid not in self.hidden and not self._measure(nid):
                unmeasured = True
            p, s = view.pos.get(nid), self.sizes.get(nid)
            if p is not None and s is not None:
                rects[nid] = (p[0], p[1], p[0] + s[0], p[1] + s[1])
        if unmeasured:
            self._key = None                    # measure the new nodes on the next frame, then decide
        near = {n for n, (a, b, c, d) in rects.items() if a < x1 and c > x0 and b < y1 and d > y0}
        want = near | {n for n in view.nodes if n not in rects}      # not measured yet: drawn
        for link in view.links:                 # a link that can be in view is drawn whole
            a, b = rects.get(link.src), rects.get(link.dst)
            if link.src in near or link.dst in near:
                want.update((link.src, link.dst))
            elif a is not None and b is not None:
                lx0, lx1 = min(a[2], b[0]) - 60.0, max(a[2], b[0]) + 60.0     # a Bezier bulges past its ends
                ly0, ly1 = min(a[1], b[1]), max(a[3], b[3])
                if lx0 < x1 and lx1 > x0 and ly0 < y1 and ly1 > y0:
                    want.update((link.src, link.dst))
        want |= set(view.selected_nodes())
        if not want and view.nodes:
            want.add(self.anchor if self.anchor in view.nodes else next(iter(view.nodes)))
        return want

    def _apply(self, want: set[str]) -> None:
        view, dpg = self.app.view, self.app.dpg
        if self.anchor not in want:             # the pan is read from a node in view, drawn last frame
            fresh = [n for n in want if n not in self.hidden and n in view.nodes]
            if fresh:
                self.anchor = fresh[0]
            else:
                self._key = None                # the nodes shown now are drawn next frame: look again then
        for nid, item in list(self.hidden.items()):
            if nid not in view.nodes or dpg.get_alias_id(view.node_tag(nid)) != item:
                del self.hidden[nid]            # deleted, or recreated (drawn again by default)
        for cache in (self.sizes, self._seen):
            for nid in [n for n in cache if n not in view.nodes]:
                del cache[nid]
        for pin in [k for k in self.pins if k[0] not in view.nodes]:
            del self.pins[pin]
        for nid in view.nodes:
            tag = view.node_tag(nid)
            if nid in want and nid in self.hidden:
                del self.hidden[nid]
                items.configure(tag, show=True)
                items.set_pos(tag, view.pos[nid])     # imnodes forgot where it was
                self._seen.pop(nid, None)             # its first frame back reports the old rectangle
            elif nid not in want and nid not in self.hidden and nid != self.anchor:
                self.hidden[nid] = dpg.get_alias_id(tag)
                items.configure(tag, show=False)
        for link, item in list(self.hidden_links.items()):
            if view.links.get(link) != item:
                del self.hidden_links[link]
        for link, item in view.links.items():
            hide = link.src in self.hidden or link.dst in self.hidden
            if hide and link not in self.hidden_links:
                self.hidden_links[link] = item
                items.configure(item, show=False)
            elif not hide and link in self.hidden_links:
                del self.hidden_links[link]
                items.configure(item, show=True)

    def show_all(self) -> None:
        """Draw every node and link again (culling switched off)."""
        view = self.app.view
        for nid in list(self.hidden):
            if nid in view.nodes:
                items.configure(view.node_tag(nid), show=True)
                items.set_pos(view.node_tag(nid), view.pos[nid])
        for item in self.hidden_links.values():
            items.configure(item, show=True)
        self.hidden.clear()
        self.hidden_links.clear()
        self.sizes.clear()                      # measured again once drawn (Fit all waits for that)
        self._seen.clear()
        self._key = None
