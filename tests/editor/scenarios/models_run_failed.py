"""F5 on a graph whose model node cannot download its checkpoint (no network): the model node fails,
and the nodes after it are marked 'not run' on the canvas, as after any failed node; the node's model
row says the download failed (why in its tooltip) and offers Retry."""
import os
from pathlib import Path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    drv.frames(8)
    drv.key("F5")                                              # Run
    drv.until(lambda: not app.runner.jobs and app.status_text.startswith("run "), 120, "the run to end")
    drv.frames(4)
    out = {"kinds": app.state()["kinds"], "status": app.status_text, "nodes": {}}
    for nid in app.doc.graph.nodes:
        out["nodes"][nid] = {"line": dpg.get_value(f"status::{nid}"),
                             "colour": [round(c * 255) for c in dpg.get_item_configuration(f"status::{nid}")["color"][:3]],
                             "drawn_as": app.view._state.get(nid)}
    out["row"] = {"shown": bool(dpg.is_item_shown("model::row::gen")), "text": dpg.get_value("model::text::gen"),
                  "button": dpg.get_item_label("model::button::gen"), "tip": dpg.get_value("model::texttip::gen")}
    drv.screenshot(tmp / "models_run_failed.png")
    drv.dump(out)
