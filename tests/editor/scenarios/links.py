"""Real mouse drags between pins (a replacing link, a type-mismatched one), then undo/redo by keyboard."""
import os
from pathlib import Path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    drv.frames(8)
    out = {"initial": sorted(app.state()["links"])}
    drv.drag_link("gain", "out", "fade", "audio")          # fade.audio is taken by load.out: replaced
    out["after_replace"] = sorted(app.state()["links"])
    out["status_replace"] = app.status_text
    drv.drag_link("export", "out", "gain", "audio")        # str -> Audio: refused
    drv.frames(3)
    out["after_mismatch"] = sorted(app.state()["links"])
    out["status_mismatch"] = app.status_text
    out["status_shown"] = app.dpg.get_value("status")
    out["status_error"] = app.status_error
    out["drawn_links"] = len(app.view.links)
    drv.screenshot(tmp / "mismatch.png")
    drv.key("ctrl+z")
    out["after_undo"] = sorted(app.state()["links"])
    out["dirty_after_undo"] = app.doc.dirty
    drv.key("ctrl+shift+z")
    out["after_redo"] = sorted(app.state()["links"])
    out["drawn_after_redo"] = sorted(str(l) for l in app.view.links)
    # a real slider drag changes the parameter (one undo step however far it moved); undo puts it back
    st = app.dpg.get_item_state("param::gain::gain_db")
    (x0, y0), (x1, y1) = st["rect_min"], st["rect_max"]
    drv.drag(((x0 + x1) / 2, (y0 + y1) / 2), ((x0 + x1) / 2 + 40, (y0 + y1) / 2), steps=8)
    out["slider_value"] = app.doc.graph.nodes["gain"].params["gain_db"]
    out["slider_undo_label"] = app.doc.history.undo_label
    drv.key("ctrl+z")
    out["slider_after_undo"] = [app.doc.graph.nodes["gain"].params["gain_db"], app.dpg.get_value("param::gain::gain_db")]
    # click on a link's curve (its middle) to select it, Delete removes just that link
    a, b = app.view.pin_pos("load", "out", "out"), app.view.pin_pos("gain", "audio", "in")
    app.dpg.clear_selected_nodes("canvas")
    drv.click(((a[0] + b[0]) / 2, (a[1] + b[1]) / 2))
    out["link_selected"] = [str(l) for l in app.view.selected_links()]
    drv.key("Delete")
    out["after_link_delete"] = sorted(app.state()["links"])
    # a link dragged onto a node's body (no pin there): nothing linked, no "linking ..." left behind
    (bx0, by0), (bx1, by1) = app.view.node_rect("export")
    drv.drag(app.view.pin_pos("gain", "out", "out"), ((bx0 + bx1) / 2, (by0 + by1) / 2))
    drv.frames(3)
    out["body_drop"] = [sorted(app.state()["links"]), app.status_text]
    drv.dump(out)
