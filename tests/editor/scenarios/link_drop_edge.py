"""A link dragged from gain's output (gain near the canvas' right edge) and dropped near that edge,
then "fade" typed in the search and Enter: where the new node is drawn."""


def main(app, drv):
    drv.frames(8)
    a = app.view.pin_pos("gain", "out", "out")
    (cx0, cy0), (cx1, cy1) = app.wiring.canvas_rect()
    drop = (cx1 - 30, a[1] - 150)
    drv.move(a)
    drv.xdo("mousedown", 1)
    for i in range(1, 11):
        drv.move((a[0] + (drop[0] - a[0]) * i / 10, a[1] + (drop[1] - a[1]) * i / 10))
    drv.xdo("mouseup", 1, frames=6)
    drv.type_text("fade")
    drv.frames(3)
    drv.key("Return")
    drv.frames(8)
    new = [n for n in app.doc.graph.nodes if n not in ("load", "gain")]
    drv.dump({"new": new, "canvas": [[cx0, cy0], [cx1, cy1]], "gain": app.view.node_rect("gain"),
              "rect": app.view.node_rect(new[0]) if new else None, "links": sorted(app.state()["links"]),
              "positions": app.doc.graph.editor["positions"], "undo": app.doc.history.undo_label})
