"""A link dragged off export's input pin (fed by load, to its left) and dropped low on empty canvas,
then "fade" and Enter: where the new node is drawn, and what it covers."""
from tests.editor._graphs import covered_by


def main(app, drv):
    drv.frames(8)
    a = app.view.pin_pos("export", "audio", "in")
    (cx0, cy0), (cx1, cy1) = app.wiring.canvas_rect()
    drop = (a[0] - 150, cy1 - 70)
    drv.drag(a, drop, steps=10)                 # off the pin, released on empty canvas
    drv.frames(1)
    drv.type_text("fade")
    drv.frames(3)
    drv.key("Return")
    drv.frames(8)
    new = [n for n in app.doc.graph.nodes if n not in ("load", "export")]
    drv.dump({"new": new, "canvas": [[cx0, cy0], [cx1, cy1]], "export": app.view.node_rect("export"),
              "rect": app.view.node_rect(new[0]) if new else None, "covers": covered_by(app, new[0]) if new else None,
              "links": sorted(app.state()["links"]), "status": app.status_text})
