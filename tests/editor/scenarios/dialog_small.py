"""The file dialog and the unsaved-changes box in a small window (640x400): they fit in it, and
Escape closes them (QA, real X events)."""


import os
from pathlib import Path


def main(app, drv):
    dpg = app.dpg

    def rect(tag):
        (x, y), size = dpg.get_item_pos(tag), dpg.get_item_rect_size(tag)
        return [[x, y], [x + size[0], y + size[1]]]
    dpg.set_viewport_width(640)
    dpg.set_viewport_height(400)
    drv.frames(6)
    out = {"viewport": [dpg.get_viewport_client_width(), dpg.get_viewport_client_height()]}
    drv.key("ctrl+shift+s")
    drv.frames(6)
    out["dialog_shown"] = bool(dpg.does_item_exist("filedialog") and dpg.is_item_shown("filedialog"))
    cfg = dpg.get_item_configuration("filedialog")      # (no rect: a modal opens centred in the window)
    out["dialog_size"] = [cfg["width"], cfg["height"]]
    drv.screenshot(Path(os.environ["AUDIOCHAIN_TEST_TMP"]) / "dialog.png")
    drv.key("Escape")
    drv.frames(4)
    out["dialog_after_escape"] = bool(dpg.does_item_exist("filedialog") and dpg.is_item_shown("filedialog"))
    app.doc.set_param("gain", "gain_db", -4.0)
    drv.frames(2)
    app.files.new()                                      # unsaved changes: the box asks first
    drv.frames(4)
    out["guard_shown"] = bool(dpg.is_item_shown("guard"))
    out["guard_rect"] = rect("guard")
    drv.key("Escape")
    drv.frames(4)
    out["guard_after_escape"] = bool(dpg.is_item_shown("guard"))
    out["nodes_after_escape"] = sorted(app.doc.graph.nodes)
    out["dirty"] = app.doc.dirty
    drv.dump(out)
