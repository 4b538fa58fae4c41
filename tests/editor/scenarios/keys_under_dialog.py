"""F5 and Ctrl+Z pressed (real keys) while the load's file dialog is open do nothing behind it; once it is
closed (Escape), F5 runs (QA104 D8: F5 ran the graph behind the dialog)."""


def main(app, drv):
    dpg = app.dpg
    drv.frames(6)
    app.on_param("gain", "gain_db", -3.0)
    drv.frames(3)
    out = {}
    drv.click_item("browse::load::path")
    drv.until(lambda: dpg.is_item_shown("filedialog"), 20, "the file dialog")
    drv.key("F5")
    drv.key("ctrl+z")
    drv.frames(10)
    out["under_dialog"] = {"ran": bool(app.runner.outputs) or bool(app.runner.jobs), "status": app.status_text,
                           "gain": app.doc.graph.nodes["gain"].params["gain_db"],
                           "dialog": bool(dpg.is_item_shown("filedialog"))}
    drv.key("Escape")
    drv.frames(4)
    drv.key("F5")
    drv.until(lambda: not app.runner.jobs and bool(app.runner.outputs), 60, "the run")
    out["after"] = {"ran": bool(app.runner.outputs), "status": app.status_text,
                    "dialog": bool(dpg.is_item_shown("filedialog"))}
    drv.dump(out)
