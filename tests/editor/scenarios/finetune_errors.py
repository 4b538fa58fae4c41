"""Fine-tune dialog mistakes, each a clear message in the dialog; broken Tools plug-ins in the status bar."""
import os
from pathlib import Path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    drv.frames(4)
    out = {"status_at_start": app.status_text, "status_error_at_start": app.status_error,
           "loaded": list(app.tools.loaded), "failed": dict(app.tools.failed),
           "failed_items": {n: dpg.get_item_label(f"tools::failed::{n}") for n in app.tools.failed}}
    dlg = app.tools.instances["finetune"]
    dlg.open()
    drv.frames(2)

    def attempt(data, base, out_dir, name):
        dpg.set_value("finetune::data", str(data))
        dpg.set_value("finetune::base", str(base))
        dpg.set_value("finetune::out", str(out_dir))
        drv.click_item("finetune::start")
        drv.until(lambda: not dlg.running and dlg.phase == "failed", 30, f"the {name} case to fail")
        st = dlg.state()
        out[name] = {"message": st["message"], "overlay": st["overlay"], "use_shown": st["use_shown"],
                     "color": [round(255 * c) for c in dpg.get_item_configuration("finetune::message")["color"][:3]],
                     "status": app.status_text, "status_error": app.status_error,
                     "out_exists": Path(out_dir).exists()}

    attempt(tmp / "empty", "facebook/musicgen-small", tmp / "out-empty", "empty")
    drv.screenshot(tmp / "finetune_error.png")
    attempt("", "facebook/musicgen-small", tmp / "out-none", "no_folder")
    attempt(tmp / "recordings", tmp / "not-musicgen", tmp / "out-bark", "not_musicgen")
    attempt(tmp / "recordings", tmp / "not-musicgen", tmp / "used", "out_in_use")
    out["nodes"] = sorted(app.doc.graph.nodes)
    drv.dump(out)
