"""Ctrl+L with real keys, at 80% zoom, on a six-node chain that one row of the window cannot hold at
that zoom; then Home.  The nodes' rectangles are read from the window."""
import os
from pathlib import Path


def rects(app):
    return {n: app.view.node_rect(n) for n in app.doc.graph.nodes}


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    drv.frames(10)
    app.canvas.zoom(-1)                     # 80%
    drv.frames(6)
    out = {"zoom_before": app.view.zoom.scale}
    app.dpg.clear_selected_nodes("canvas")
    drv.move((700, 700))
    drv.key("ctrl+l")
    drv.frames(12)
    out["zoom"], out["status"], out["rects"] = app.view.zoom.scale, app.status_text, rects(app)
    out["canvas"] = app.wiring.canvas_rect()
    drv.screenshot(tmp / "arranged_chain.png")
    drv.key("Home")
    drv.frames(10)
    out["zoom_home"], out["status_home"] = app.view.zoom.scale, app.status_text
    drv.key("ctrl+z")
    drv.frames(6)
    out["undone"] = {n: list(p) for n, p in app.doc.graph.editor["positions"].items()}
    drv.dump(out)
