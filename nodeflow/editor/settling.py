"""A node added from the palette, looked at again once drawn: it was placed by its estimated size
(its rows counted before it is made), and a model node draws taller than that (its checkpoint row,
download button and progress bar: QA104 D6, a speech model's node ran 30 px past the canvas' bottom
edge, under the minimap).  Where the node as drawn covers another, the minimap or the canvas' edge, it
is moved to the first free place for its real size (20 px from the others, else 8), in the same undo
step as its adding.  Where the view has none (it is full), a node whole in it, off the minimap and
hiding no other (:data:`.placing.HIDDEN`) stays; any other goes where, whole and off the minimap, it
covers the least of the others and hides none, else to the first free place below the view, the view
scrolled to show it (QA106: a model node added over a load hid it whole)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Hashable

from .placing import hides

if TYPE_CHECKING:
    from .app import App

__all__ = ["Settler"]

Box = tuple[float, float, float, float]


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


class Settler:
    """Watches one node added at a free spot until it is drawn (see the module)."""

    def __init__(self, app: App):
        self.app = app
        self._pending: tuple[str, str, Hashable, int, int] | None = None   # node, label, its step, frame, tries

    def watch(self, nid: str, label: str, key: Hashable) -> None:
        """Look at ``nid`` (added in the step recorded with ``key``, as ``label``) once it is drawn."""
        self._pending = (nid, label, key, self.app.frame_count + 2, 10)

    def tick(self) -> None:
        if self._pending is None or self.app.frame_count < self._pending[3]:
            return
        nid, label, key, _, tries = self._pending
        app = self.app
        r = app.view.node_rect(nid) if nid in app.doc.graph.nodes else None
        if r is None:
            self._pending = (nid, label, key, app.frame_count + 2, tries - 1) if tries > 1 and \
                nid in app.doc.graph.nodes else None
            return
        self._pending = None
        box = (r[0][0], r[0][1], r[1][0], r[1][1])
        others = app.canvas.drawn_boxes(without=nid)
        whole = self._whole(box)
        if whole and not any(_overlap(box, o) for o in others):
            return
        pad, canvas = app.view.node_pad, app.canvas
        size = (box[2] - box[0] + 2 * pad, box[3] - box[1] + 2 * pad)
        spot = canvas.free_place(size=size, without=nid, strict=True) or \
            canvas.free_place(size=size, without=nid, strict=True, gap=8.0)
        if spot is None and whole and not hides(box, others):
            return                              # a full view: whole in it, over the least of the others
        spot = spot or canvas.free_place(size=size, without=nid, hide=False)   # whole, hiding none
        if spot is None:                        # none in view: below it, the view scrolled down to it
            view = canvas.visible_box()
            spot = canvas.free_place(size=size, without=nid, strict=True, below=size[1] + 40.0)
            if spot is None or view is None:
                return
            bottom = app.view.zoom.to_canvas(spot)[1] + size[1] + 20.0
            canvas.pan(0.0, max(0.0, bottom - view[3]))
        app.doc.move({nid: spot}, label=label, merge_key=key)

    def _whole(self, box: Box) -> bool:
        """Whether the node drawn at ``box`` (viewport pixels) lies whole on the canvas, off the minimap."""
        rect, mini = self.app.wiring.canvas_rect(), self.app.canvas.minimap_rect()
        if rect is None:
            return True
        (x0, y0), (x1, y1) = rect
        if box[0] < x0 or box[1] < y0 or box[2] > x1 or box[3] > y1:
            return False
        return mini is None or not _overlap(box, (mini[0][0], mini[0][1], mini[1][0], mini[1][1]))
