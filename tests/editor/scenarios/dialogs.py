"""File dialogs: each File action opens the file dialog (on the next frame); what it chooses is what the
action gets."""
import os
from pathlib import Path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    drv.frames(4)
    out = {}

    def choose(path):
        drv.frames(2)
        shown = bool(dpg.does_item_exist("filedialog") and dpg.is_item_shown("filedialog"))
        app.files.dialog.choose(str(path))    # as its OK does
        drv.frames(3)
        return shown

    app.doc.set_param("gain", "gain_db", -4.0)
    app.files.ask_save_as()
    out["saveas_shown"] = choose(tmp / "copy")              # no suffix typed: .msgpack is added
    out["saveas"] = [app.doc.path.name, app.doc.dirty, app.dpg.get_viewport_title()]
    app.files.ask_bundle()
    out["bundle_shown"] = choose(tmp / "copy-bundle")
    out["bundle_exists"] = (tmp / "copy-bundle.acbundle").exists()
    app.files.browse_param("load", "path", app.doc.graph.spec("load").params["path"])
    out["browse_shown"] = choose(tmp / "tone2.wav")
    out["browse_status"] = app.status_text
    out["load_problem"] = dpg.get_value("problem::load")
    app.files.new()                                          # dirty: the guard asks first
    drv.frames(3)
    out["guard_on_new"] = bool(dpg.is_item_shown("guard"))
    drv.click_item("guard::save")
    out["after_new"] = [sorted(app.doc.graph.nodes), app.doc.path, app.dpg.get_viewport_title()]
    app.files.ask_open()
    out["open_shown"] = choose(tmp / "copy.msgpack")
    out["reopened"] = [sorted(app.doc.graph.nodes), app.doc.graph.nodes["gain"].params["gain_db"],
                       app.doc.graph.nodes["load"].params["path"]]
    out["recent"] = [Path(p).name for p in app.recent.list()]
    drv.dump(out)
