"""Ctrl+L with real keys on a graph too big for one band (it is arranged in bands, then fitted), then one
Ctrl+Z: the undo label, and the positions after it."""


def main(app, drv):
    drv.frames(10)
    before = {n: list(p) for n, p in app.doc.graph.editor["positions"].items()}
    app.dpg.clear_selected_nodes("canvas")
    view_before = [app.view.zoom.scale, app.view.compact]
    drv.move((700, 700))
    drv.key("ctrl+l")
    drv.frames(16)
    drv.until(lambda: not app.canvas.busy, what="the fit after Arrange")
    drv.frames(4)
    (cx0, cy0), (cx1, cy1) = app.wiring.canvas_rect()
    rects = [app.view.node_rect(n) for n in app.doc.graph.nodes]
    out = {"label": app.doc.history.undo_label, "status": app.status_text,
           "moved": app.doc.graph.editor["positions"] != before, "nodes": len(rects),
           "in_view": sum(1 for r in rects if r is not None and cx0 <= r[0][0] and r[1][0] <= cx1
                          and cy0 <= r[0][1] and r[1][1] <= cy1)}
    out["view_before"] = view_before
    out["view_arranged"] = [app.view.zoom.scale, app.view.compact]
    drv.key("ctrl+z")
    drv.frames(6)
    out["view_undone"] = [app.view.zoom.scale, app.view.compact]
    out["restored"] = {n: list(p) for n, p in app.doc.graph.editor["positions"].items()} == before
    out["can_undo"] = app.doc.history.undo_label
    drv.dump(out)
