"""A link dragged off export's input pin (fed by load, to its left) and dropped low on empty canvas,
then "fade" and Enter: where the new node is drawn, and what it covers."""
from tests.editor._graphs import add_by_link_drop, covered_by


def main(app, drv):
    drv.frames(8)
    a = app.view.pin_pos("export", "audio", "in")
    (cx0, cy0), (cx1, cy1) = app.wiring.canvas_rect()
    new = add_by_link_drop(app, drv, a, (a[0] - 150, cy1 - 70), "fade")
    drv.dump({"new": new, "canvas": [[cx0, cy0], [cx1, cy1]], "export": app.view.node_rect("export"),
              "rect": app.view.node_rect(new[0]) if new else None, "covers": covered_by(app, new[0]) if new else None,
              "links": sorted(app.state()["links"]), "status": app.status_text})
