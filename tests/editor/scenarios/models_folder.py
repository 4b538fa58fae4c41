"""'...' on a model node's checkpoint opens a folder dialog (real clicks and typing in it); folders that are
not a MusicGen checkpoint are refused with one line, a tiny MusicGen folder is set and the node's marks clear;
a folder typed as an absolute path is read as that path (QA: it was glued onto the folder shown).  The box
shows the folder's name, its tooltip the whole path, and "..." opens beside the node's folder (QA104 D4, D5)."""
import os
from pathlib import Path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    drv.frames(8)
    out = {"open": {"shown": bool(dpg.is_item_shown("model::row::gen")), "text": dpg.get_value("model::text::gen"),
                    "problem_shown": bool(dpg.is_item_shown("problem::gen")),
                    "problem_tip": dpg.get_value("problemtip::gen")}, "picked": {}}
    (x0, y0), (x1, y1) = dpg.get_item_rect_min("model::text::gen"), dpg.get_item_rect_max("model::text::gen")
    drv.move(((x0 + x1) / 2, (y0 + y1) / 2))           # hover "not downloaded": its tooltip, once
    drv.wait(1.2)
    out["tips_drawn"] = [part for part in ("text", "progress") if dpg.is_item_visible(f"model::{part}tip::gen")]
    drv.screenshot(tmp / "models_missing_tip.png")
    drv.move((1260, 790))
    drv.frames(3)
    for name in ("empty", "not-musicgen", "my-musicgen", str(tmp / "empty")):     # the last typed whole
        drv.click_item("browse::gen::checkpoint")              # a real click on "..."
        if "dialog" not in out:
            out["dialog"] = {"shown": app.files.dialog.shown, "folders": app.files.dialog.folders_only,
                             "listed": [e.name for e in app.files.dialog.entries]}
            drv.screenshot(tmp / "models_folder_dialog.png")
        drv.type_in_file_dialog(name)                          # a folder beside the graph, or a whole path
        drv.frames(5)
        out["picked"][name] = {"status": app.status_text, "error": app.status_error,
                               "checkpoint": app.doc.graph.nodes["gen"].params["checkpoint"],
                               "box": dpg.get_value("param::gen::checkpoint"),
                               "tip": dpg.get_value("pathtip::gen::checkpoint"),
                               "row_shown": bool(dpg.is_item_shown("model::row::gen")),
                               "problem_shown": bool(dpg.is_item_shown("problem::gen")),
                               "problems": app.problems.get("gen", []),
                               "dialog_closed": not dpg.is_item_shown("filedialog")}
    out["undo"] = app.doc.history.undo_label
    (tmp / "models" / "mg").mkdir(parents=True)
    app.on_param("gen", "checkpoint", str(tmp / "models" / "mg"))    # (not a checkpoint: where "..." opens)
    drv.frames(3)
    drv.click_item("browse::gen::checkpoint")
    out["opens_in"] = str(app.files.dialog.folder)
    drv.key("Escape")
    drv.frames(3)
    out["closed_by_escape"] = not dpg.is_item_shown("filedialog")
    drv.click_item("param::gen::checkpoint")                          # a hub id typed (real keys) and Enter:
    drv.key("ctrl+a")                                                 # as it is, no path in the tip
    drv.type_text("acme/tiny-gen")
    drv.key("Return")
    drv.frames(3)
    out["hub"] = {"box": dpg.get_value("param::gen::checkpoint"), "tip": dpg.get_value("pathtip::gen::checkpoint"),
                  "checkpoint": app.doc.graph.nodes["gen"].params["checkpoint"]}
    drv.screenshot(tmp / "models_folder_set.png")
    drv.dump(out)
