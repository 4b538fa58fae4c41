"""Ctrl+V lands at the mouse after a real middle-button pan has taken every node out of view (the
canvas point under the mouse was guessed when no node was in sight)."""
import runpy
from pathlib import Path

pan = runpy.run_path(str(Path(__file__).with_name("canvas_cull.py")))["pan"]


def main(app, drv):
    drv.frames(10)
    (x0, y0), _ = app.view.node_rect("gain")
    drv.click((x0 + 40, y0 + 8))                    # select the node by its title, copy it
    drv.key("ctrl+c")
    spot = (700.0, 420.0)
    out = {"before": list(app.canvas.canvas_pos(spot))}
    pan(drv, -1500.0)                               # the view moves 1500 px right: the node leaves it
    drv.frames(5)
    r = app.wiring.canvas_rect()
    g = app.view.node_rect("gain")
    out["gain_in_view"] = g is not None and g[1][0] > r[0][0] and g[0][0] < r[1][0]
    before = set(app.doc.graph.nodes)
    drv.move(spot)
    drv.key("ctrl+v")
    new = [n for n in app.doc.graph.nodes if n not in before]
    out["pasted"] = new
    out["pasted_pos"] = app.doc.graph.editor["positions"][new[0]] if new else None
    drv.dump(out)
