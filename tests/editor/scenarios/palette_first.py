"""The first node of a new graph, added from the palette (a real click): it lands whole in the canvas
(it went 44 px left of it, its title and path box cut behind the palette's edge: QA)."""


def main(app, drv):
    drv.frames(6)
    drv.click_item("palette::io.load")
    drv.frames(8)
    (nid,) = app.doc.graph.nodes
    r = app.view.node_rect(nid)
    drv.dump({"canvas": [list(p) for p in app.wiring.canvas_rect()], "rect": [list(r[0]), list(r[1])],
              "position": app.doc.graph.editor["positions"][nid]})
