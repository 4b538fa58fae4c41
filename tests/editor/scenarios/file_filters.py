"""Press the load node's ``...`` (a real click): the dialog opens on every audio type at once, not on
the first extension of the list (.aac), so a folder of WAV and FLAC files shows them."""
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
    app.on_param("load", "path", str(tmp / "recorder" / "ZOOM0001.WAV"))
    drv.frames(6)
    drv.click_item("browse::load::path")
    drv.frames(6)
    out = {"shown": bool(dpg.does_item_exist("filedialog") and dpg.is_item_shown("filedialog"))}
    out["filters"] = [dpg.get_item_configuration(c).get("extension") for c in dpg.get_item_children("filedialog", 0)
                      + dpg.get_item_children("filedialog", 1) if dpg.get_item_type(c).endswith("FileExtension")]
    out["dialog_folder"] = str(Path(dpg.get_item_configuration("filedialog").get("default_path", "")).resolve())
    out["chosen_folder"] = str((tmp / "recorder").resolve())
    drv.screenshot(tmp / "dialog.png")
    dpg.hide_item("filedialog")
    drv.frames(2)
    app.on_param("load", "path", "recorder/../recorder/ZOOM0001.WAV")       # relative to the graph's folder
    drv.frames(3)
    out["tip_relative"] = dpg.get_value("pathtip::load::path")
    out["box_relative"] = dpg.get_value("param::load::path")
    drv.dump(out)
