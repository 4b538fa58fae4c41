"""The load node's ``...`` with real clicks and keys: the dialog opens with the chosen file's name in its
Name box (not ".", which OK took as the folder shown: QA104 D3 set the folder as the audio file); OK on the
folder shown (``.`` typed) says to pick a file and leaves the node's path as it was; a folder's name typed
opens it, the box emptied (QA119: the name from the folder before was taken, a file not there); a name not
there is said; a file's name typed then is taken."""
import os
from pathlib import Path

import numpy as np
import soundfile as sf


def main(app, drv):
    dpg = app.dpg
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    (tmp / "takes" / "more").mkdir(parents=True)
    sf.write(tmp / "takes" / "one.wav", np.zeros(4800, np.float32), 48000)
    sf.write(tmp / "takes" / "more" / "two.wav", np.zeros(4800, np.float32), 48000)
    app.on_param("load", "path", str(tmp / "takes" / "one.wav"))
    drv.frames(6)
    out = {}
    drv.click_item("browse::load::path")
    drv.frames(6)
    dialog = app.files.dialog
    out["default_name"] = dialog.name
    drv.type_in_file_dialog(".")                    # the folder shown
    drv.frames(6)
    out["after_dot"] = {"path": app.doc.graph.nodes["load"].params["path"], "said": dpg.get_value("filedialog::said"),
                        "shown": dialog.shown, "folder": str(dialog.folder)}
    drv.type_in_file_dialog("more")                 # a folder in it: opened, the box emptied (a file there is picked)
    drv.frames(6)
    out["after_folder"] = {"path": app.doc.graph.nodes["load"].params["path"], "shown": dialog.shown,
                           "folder": str(dialog.folder), "name": dialog.name}
    drv.type_in_file_dialog("one.wav")              # not in this folder
    drv.frames(6)
    out["not_there"] = {"said": dpg.get_value("filedialog::said"), "shown": dialog.shown,
                        "path": app.doc.graph.nodes["load"].params["path"]}
    drv.type_in_file_dialog("two.wav")
    drv.frames(6)
    out["path_after_name"] = app.doc.graph.nodes["load"].params["path"]
    out["shown_after_name"] = dialog.shown
    drv.dump(out)
