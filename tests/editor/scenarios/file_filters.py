"""Press the load node's ``...`` (a real click): the dialog opens on every audio type at once, not on
the first extension of the list (.aac), so a folder of WAV and FLAC files shows them, whatever their case."""
import os
from pathlib import Path

import numpy as np
import soundfile as sf


def main(app, drv):
    dpg = app.dpg
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    sf.write(tmp / "take.flac", np.zeros(4800, np.float32), 48000)
    (tmp / "recorder").mkdir()
    sf.write(tmp / "recorder" / "ZOOM0001.WAV", np.zeros(4800, np.float32), 48000)
    sf.write(tmp / "recorder" / "Take2.Flac", np.zeros(4800, np.float32), 48000, format="FLAC")
    (tmp / "recorder" / "notes.txt").write_text("levels")
    app.on_param("load", "path", str(tmp / "recorder" / "ZOOM0001.WAV"))
    drv.frames(6)
    drv.click_item("browse::load::path")
    drv.frames(6)
    out = {"shown": bool(dpg.does_item_exist("filedialog") and dpg.is_item_shown("filedialog"))}
    out["filters"] = [[f.label, list(f.exts)] for f in app.files.dialog.filters]
    out["type_box"] = dpg.get_value("filedialog::type")
    out["listed"] = [e.name for e in app.files.dialog.entries]
    out["dialog_folder"] = str(app.files.dialog.folder.resolve())
    out["chosen_folder"] = str((tmp / "recorder").resolve())
    drv.screenshot(tmp / "dialog.png")
    dpg.hide_item("filedialog")
    drv.frames(2)
    app.on_param("load", "path", "recorder/../recorder/ZOOM0001.WAV")       # relative to the graph's folder
    drv.frames(3)
    out["tip_relative"] = dpg.get_value("pathtip::load::path")
    out["box_relative"] = dpg.get_value("param::load::path")
    drv.dump(out)
