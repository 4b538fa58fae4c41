"""Canvas commands with real keys: Ctrl+V pastes at the mouse; Home fits a 40-node chain laid out in
one long row (most of it off-screen) into the window: too long for it even at 50%, it is arranged in
bands for the window at 50% and shown at 50%; Ctrl+0 is actual size again; Ctrl+Z puts the layout
back."""
import os
from pathlib import Path


def inside(app, box):
    x0, y0, x1, y1 = box
    n = 0
    for nid in app.doc.graph.nodes:
        r = app.view.node_rect(nid)
        if r and r[0][0] >= x0 - 1 and r[0][1] >= y0 - 1 and r[1][0] <= x1 + 1 and r[1][1] <= y1 + 1:
            n += 1
    return n


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    drv.frames(10)
    out = {}
    r = app.wiring.canvas_rect()
    screen_box = (r[0][0], r[0][1], r[1][0], r[1][1])
    out["in_view_before"] = inside(app, screen_box)
    # paste at the mouse: select gain_1 by its title, copy, point at empty canvas, paste
    (x0, y0), _ = app.view.node_rect("gain_1")
    before = set(app.doc.graph.nodes)
    drv.click((x0 + 40, y0 + 8))
    drv.key("ctrl+c")
    spot = (640.0, 520.0)
    drv.move(spot)
    drv.key("ctrl+v")
    new = [n for n in app.doc.graph.nodes if n not in before]
    out["pasted"] = new
    out["pasted_pos"] = app.doc.graph.editor["positions"][new[0]] if new else None
    out["mouse_canvas"] = list(app.canvas_pos(spot))
    drv.key("ctrl+z")
    out["nodes_after_undo"] = len(app.doc.graph.nodes)
    # Home: fit all
    app.dpg.clear_selected_nodes("canvas")
    drv.move((700, 700))
    drv.key("Home")
    drv.until(lambda: not app.canvas.busy, 10, "the fit")
    drv.frames(6)
    out["compact"] = app.view.compact
    out["scale"] = app.view.zoom.scale
    out["status"] = app.status_text
    out["in_view_after"] = inside(app, screen_box)
    out["undo"] = app.doc.history.undo_label
    out["gain_1_h"] = app.view.node_rect("gain_1")[1][1] - app.view.node_rect("gain_1")[0][1]
    out["left_to_right"] = all(app.doc.graph.editor["positions"][f"gain_{i}"][0]
                               < app.doc.graph.editor["positions"][f"gain_{i + 1}"][0]
                               or app.doc.graph.editor["positions"][f"gain_{i}"][1]
                               < app.doc.graph.editor["positions"][f"gain_{i + 1}"][1] for i in range(1, 39))
    drv.screenshot(tmp / "fit.png")
    drv.key("ctrl+0")
    drv.frames(4)
    out["scale_after_ctrl_0"] = app.view.zoom.scale
    out["gain_1_h_full"] = app.view.node_rect("gain_1")[1][1] - app.view.node_rect("gain_1")[0][1]
    drv.key("ctrl+z")
    out["pos_after_undo"] = app.doc.graph.editor["positions"]["gain_39"]
    drv.dump(out)
