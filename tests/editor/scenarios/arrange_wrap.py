"""Ctrl+L with real keys at 67% zoom on a chain too long for one row: it is arranged in bands, then
fitted.  Every node's rectangle and every link's two pins are read from the window as drawn."""
import os
from pathlib import Path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    drv.frames(10)
    app.canvas.zoom(-1)
    drv.frames(4)
    app.canvas.zoom(-1)                     # 67%
    drv.frames(6)
    out = {"zoom_before": app.view.zoom.scale}
    app.dpg.clear_selected_nodes("canvas")
    drv.move((700, 700))
    drv.key("ctrl+l")
    drv.until(lambda: not app.canvas.busy, what="the fit after Arrange")
    drv.frames(6)
    pad = app.view.node_pad
    out["zoom"], out["status"], out["canvas"] = app.view.zoom.scale, app.status_text, app.wiring.canvas_rect()
    out["rects"] = {n: [[r[0][0] - pad, r[0][1] - pad], [r[1][0] + pad, r[1][1] + pad]]
                    for n in app.doc.graph.nodes if (r := app.view.node_rect(n)) is not None}
    view = app.view
    out["links"] = [[k.src, k.dst, view.pin_pos(k.src, k.src_port, "out"), view.pin_pos(k.dst, k.dst_port, "in")]
                    for k in app.doc.graph.links]
    drv.screenshot(tmp / "arranged_wrap.png")
    drv.dump(out)
