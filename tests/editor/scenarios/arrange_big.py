"""Ctrl+L with real keys on a graph too big for one band (it is arranged in bands, then fitted), then one
Ctrl+Z: the undo label, and the positions after it."""


def main(app, drv):
    drv.frames(10)
    before = {n: list(p) for n, p in app.doc.graph.editor["positions"].items()}
    app.dpg.clear_selected_nodes("canvas")
    drv.move((700, 700))
    drv.key("ctrl+l")
    drv.frames(16)
    out = {"label": app.doc.history.undo_label, "status": app.status_text,
           "moved": app.doc.graph.editor["positions"] != before}
    drv.key("ctrl+z")
    drv.frames(6)
    out["restored"] = {n: list(p) for n, p in app.doc.graph.editor["positions"].items()} == before
    out["can_undo"] = app.doc.history.undo_label
    drv.dump(out)
