"""QA101 D3: a view full of nodes; a link dragged from the stitch's output, low in the view, dropped on the
empty canvas right of it near the bottom edge, "loudness" typed and Enter: a tall export.  Where it is drawn,
and what it covers."""
from tests.editor._graphs import add_by_link_drop, covered_by


def main(app, drv):
    drv.frames(8)
    a = app.view.pin_pos("stitch", "out", "out")
    (cx0, cy0), (cx1, cy1) = app.wiring.canvas_rect()
    new = add_by_link_drop(app, drv, a, (800, 600), "loudness")
    drv.frames(4)
    drv.dump({"new": new, "canvas": [[cx0, cy0], [cx1, cy1]], "stitch": app.view.node_rect("stitch"),
              "rect": app.view.node_rect(new[0]) if new else None, "covers": covered_by(app, new[0]) if new else None,
              "links": sorted(app.state()["links"]), "type": app.doc.graph.nodes[new[0]].type if new else None})
