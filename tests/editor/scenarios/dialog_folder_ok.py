"""The load node's ``...`` with real clicks: the dialog opens with the chosen file's name in its
File Name box (not ".", which OK took as the folder shown: QA104 D3 set the folder as the audio file);
OK on a folder's name (``.`` typed) opens that folder again with a line saying to pick a file, the
node's path left as it was; a file's name typed then is taken."""
import os
from pathlib import Path

import numpy as np
import soundfile as sf


def main(app, drv):
    dpg = app.dpg
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    (tmp / "takes").mkdir()
    sf.write(tmp / "takes" / "one.wav", np.zeros(4800, np.float32), 48000)
    sf.write(tmp / "takes" / "two.wav", np.zeros(4800, np.float32), 48000)
    app.on_param("load", "path", str(tmp / "takes" / "one.wav"))
    drv.frames(6)
    out = {}
    drv.click_item("browse::load::path")
    drv.frames(6)
    out["default_name"] = dpg.get_item_configuration("filedialog").get("default_filename")
    drv.type_in_file_dialog(".")                    # the folder shown, as the box held before
    drv.frames(6)
    out["path_after_empty_ok"] = app.doc.graph.nodes["load"].params["path"]
    out["status_after_empty_ok"] = app.status_text
    out["shown_again"] = bool(dpg.does_item_exist("filedialog") and dpg.is_item_shown("filedialog"))
    out["again_folder"] = str(Path(dpg.get_item_configuration("filedialog").get("default_path", "")).resolve())
    drv.type_in_file_dialog("two.wav")
    drv.frames(6)
    out["path_after_name"] = app.doc.graph.nodes["load"].params["path"]
    out["folder"] = str((tmp / "takes").resolve())
    drv.dump(out)
