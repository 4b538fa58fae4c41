"""The file dialog with real keys and clicks, as a musician meets it (before: Dear ImGui's own dialog, whose
name box never had the keyboard, listed Z to A and wrote sizes as "566 o" and "2 Mo"):

- Ctrl+Shift+S and a name typed at once, then Enter: saved under that name; a name refused (no such
  folder), then Ctrl+A and another typed at once: saved under that one (QA120 D1: "nope/xood");
- Enter on a folder lit by the arrows opens it (QA120 D2: it took the name in the box);
- Ctrl+O with unsaved changes, then Save or Don't save: the Open dialog comes (QA119: it never came);
- the load's "...": folders first, then the audio files in the order people read them, sizes in kB;
- the arrow keys, then Enter; a click on a row, then Enter; a double-click on a folder;
- a click on the Size header sorts by size;
- New folder, its name and Enter: made, and opened; Escape closes its name box, then the dialog;
- Up from a folder deleted while shown goes to the nearest folder above that is there (QA119: it stuck)."""
import os
import shutil
import subprocess
import threading
from pathlib import Path


def main(app, drv):
    dpg, dialog = app.dpg, app.files.dialog
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    drv.frames(8)
    out = {}

    def rows():
        return [dpg.get_item_label(f"filedialog::row::{i}") for i in range(len(dialog.entries))]

    def sizes():
        return [dpg.get_value(f"filedialog::size::{i}") for i in range(len(dialog.entries))]

    def load_path():
        return app.doc.graph.nodes["load"].params["path"]

    drv.window_origin()                                  # the keys go to the editor's window
    th = threading.Thread(target=lambda: subprocess.run(
        ["xdotool", "key", "--clearmodifiers", "ctrl+shift+s", "type", "--delay", "15", "quick take"], check=True))
    th.start()
    app.pump(until=lambda: not th.is_alive(), timeout=5)
    th.join()
    app.pump(until=lambda: not app.busy() and dialog.name == "quick take", timeout=3.0)
    out["typed_at_once"] = dialog.name
    drv.key("Return")
    app.pump(until=lambda: not app.busy() and not dialog.shown, timeout=3.0)
    out["saved"] = [str(app.doc.path), app.status_text, dialog.shown]

    th = threading.Thread(target=lambda: [subprocess.run(["xdotool", *c], check=True) for c in (
        ["key", "--clearmodifiers", "ctrl+shift+s", "sleep", "0.5", "type", "--delay", "30", "nope/x"],
        ["key", "Return"], ["key", "ctrl+a", "type", "--delay", "30", "good"], ["key", "Return"])])
    th.start()                                           # a name refused (no such folder), another typed at once
    app.pump(until=lambda: not th.is_alive(), timeout=10)
    th.join()
    app.pump(until=lambda: not app.busy() and not dialog.shown, timeout=3.0)
    out["refused_then_typed"] = [str(app.doc.path), dialog.shown, dialog.name]

    app.doc.set_param("gain", "gain_db", -4.0)          # unsaved: Ctrl+O asks first; Save, then the dialog
    drv.frames(2)
    drv.key("ctrl+o")
    drv.until(lambda: dpg.is_item_shown("guard"), 20, "the unsaved-changes box")
    drv.click_item("guard::save")
    drv.frames(6)
    out["open_after_save"] = [dialog.shown, app.status_text, app.doc.dirty]
    drv.key("Escape")
    drv.frames(3)
    app.doc.set_param("gain", "gain_db", -5.0)
    drv.frames(2)
    drv.key("ctrl+o")
    drv.until(lambda: dpg.is_item_shown("guard"), 20, "the unsaved-changes box")
    drv.click_item("guard::discard")
    drv.frames(6)
    out["open_after_discard"] = dialog.shown
    drv.key("Escape")
    drv.frames(3)

    spec = app.doc.graph.registry.get("io.load").params["path"]
    app.files.browse_param("load", "path", spec)
    drv.frames(4)
    drv.type_in_file_dialog(str(tmp / "takes"))         # a folder's whole path: opened
    drv.frames(4)
    out["listed"] = {"folder": str(dialog.folder), "rows": rows(), "sizes": sizes(), "name": dialog.name,
                     "said": dpg.get_value("filedialog::said")}
    drv.screenshot(tmp / "file_dialog.png")
    drv.key("Down")
    drv.key("Down")
    drv.key("Down")
    out["arrows"] = [dialog.selected, dialog.name]
    px = drv.screenshot()                               # the row chosen is lit (QA119: none was)

    def colour(i):
        row = f"filedialog::row::{i}"
        (x0, y0), (x1, y1) = dpg.get_item_rect_min(row), dpg.get_item_rect_max(row)
        return [round(float(c), 3) for c in px[int((y0 + y1) / 2), int(x1) - 4, :3]]
    out["row_colours"] = [colour(i) for i in range(len(dialog.entries))]
    drv.key("Return")
    drv.frames(4)
    out["after_arrows"] = [load_path(), dialog.shown]

    app.files.browse_param("load", "path", spec)        # opens where the file chosen is, its name in the box
    drv.frames(4)
    out["reopened"] = [str(dialog.folder), dialog.name]
    drv.click_item("filedialog::row::4")
    out["clicked"] = [dialog.selected, dialog.name]
    drv.key("Return")
    drv.frames(4)
    out["after_click"] = [load_path(), dialog.shown]

    app.files.browse_param("load", "path", spec)
    drv.frames(4)
    x0 = dpg.get_item_rect_min("filedialog::size::1")[0]
    drv.click((x0 + 8, dpg.get_item_rect_min("filedialog::row::0")[1] - 10))     # the Size header
    drv.frames(3)
    out["by_size"] = rows()
    drv.click((x0 + 8, dpg.get_item_rect_min("filedialog::row::0")[1] - 10))     # again: the other way
    drv.frames(3)
    out["by_size_again"] = rows()
    (x, y) = dpg.get_item_rect_min("filedialog::row::0")
    drv.double_click((x + 20, y + 6))                    # the folder: into it
    drv.frames(4)
    out["double_clicked"] = [str(dialog.folder), rows(), dialog.name]
    drv.click_item("filedialog::up")
    drv.key("Down")                                      # the folder lit by the arrows, Enter: into it
    drv.key("Return")
    out["enter_on_folder"] = [str(dialog.folder), dialog.shown, load_path()]
    drv.click_item("filedialog::new")                   # New folder: its name typed, Enter
    drv.type_text("Session 3")
    drv.key("Return")
    drv.frames(3)
    out["made"] = [str(dialog.folder), dpg.get_value("filedialog::said"), dialog.name, dialog.shown]
    drv.click_item("filedialog::up")
    drv.click_item("filedialog::new")                   # a name that is taken: said, nothing made
    drv.type_text("Session 3")
    drv.key("Return")
    drv.frames(3)
    out["taken"] = [str(dialog.folder), dpg.get_value("filedialog::said")]
    drv.key("Escape")                                   # Escape: the name box closes, not the dialog
    drv.frames(3)
    out["name_escaped"] = [dialog.shown, *(dpg.is_item_shown(f"filedialog::{b}") for b in ("newname", "folder"))]
    (tmp / "gone" / "sub").mkdir(parents=True)         # the folder shown deleted: Up goes to one that is there
    dialog.go(tmp / "gone" / "sub")
    shutil.rmtree(tmp / "gone")
    drv.click_item("filedialog::up")
    out["up_from_gone"] = str(dialog.folder)
    drv.key("Escape")
    drv.frames(3)
    out["escaped"] = [dialog.shown, load_path()]
    drv.dump(out)
