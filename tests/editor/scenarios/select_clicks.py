"""A click on a node's title and a Ctrl+click on another's select the two and move nothing, on a graph
opened at 80 % whose positions fall between pixels there (QA50: the first node came back a pixel off:
an undo step "move stitch", the file marked changed and the run's marks wiped)."""


def main(app, drv):
    drv.frames(6)
    g = app.doc.graph
    pos0 = {n: list(p) for n, p in g.editor["positions"].items()}
    out = {"scale": app.view.zoom.scale, "undo0": app.doc.history.undo_label, "dirty0": app.doc.dirty}
    for nid, ctrl in (("b", False), ("c", True)):
        (x0, y0), _ = app.view.node_rect(nid)
        if ctrl:
            drv.xdo("keydown", "ctrl")
        drv.click((x0 + 60, y0 + 10))
        if ctrl:
            drv.xdo("keyup", "ctrl", frames=4)
    drv.frames(4)
    out["selected"] = sorted(app.view.selected_nodes())
    out["moved"] = {n: [pos0[n], p] for n, p in g.editor["positions"].items() if p != pos0.get(n)}
    out["undo"], out["dirty"] = app.doc.history.undo_label, app.doc.dirty
    # a real drag still moves a node: one undo step
    (x0, y0), _ = app.view.node_rect("a")
    drv.drag((x0 + 60, y0 + 10), (x0 + 100, y0 + 30))
    out["drag_undo"] = app.doc.history.undo_label
    drv.dump(out)
