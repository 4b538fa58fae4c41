"""'...' on a model node's checkpoint opens a folder dialog; folders that are not a MusicGen checkpoint are
refused with one line, a tiny MusicGen folder is set and the node's marks clear."""
import os
from pathlib import Path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    drv.frames(8)
    out = {"open": {"shown": bool(dpg.is_item_shown("model::row::gen")), "text": dpg.get_value("model::text::gen"),
                    "problem_shown": bool(dpg.is_item_shown("problem::gen")),
                    "problem_tip": dpg.get_value("problemtip::gen")}, "picked": {}}
    for name in ("empty", "not-musicgen", "my-musicgen"):
        drv.click_item("browse::gen::checkpoint")              # a real click on "..."
        if "dialog" not in out:
            out["dialog"] = {"shown": bool(dpg.does_item_exist("modelfolder") and dpg.is_item_shown("modelfolder")),
                             "folders": bool(dpg.get_item_configuration("modelfolder").get("directory_selector"))}
            drv.screenshot(tmp / "models_folder_dialog.png")
        # the dialog's answer for a chosen folder (its own widgets are not items we can find on screen)
        dpg.hide_item("modelfolder")
        app.models._picked("modelfolder", {"file_path_name": str(tmp / name)})
        drv.frames(5)
        out["picked"][name] = {"status": app.status_text, "error": app.status_error,
                               "checkpoint": app.doc.graph.nodes["gen"].params["checkpoint"],
                               "box": dpg.get_value("param::gen::checkpoint"),
                               "row_shown": bool(dpg.is_item_shown("model::row::gen")),
                               "problem_shown": bool(dpg.is_item_shown("problem::gen")),
                               "problems": app.problems.get("gen", [])}
    out["undo"] = app.doc.history.undo_label
    drv.screenshot(tmp / "models_folder_set.png")
    drv.dump(out)
