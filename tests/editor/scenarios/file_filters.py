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
    drv.frames(6)
    drv.click_item("browse::load::path")
    drv.frames(6)
    out = {"shown": bool(dpg.does_item_exist("filedialog") and dpg.is_item_shown("filedialog"))}
    out["filters"] = [dpg.get_item_configuration(c).get("extension") for c in dpg.get_item_children("filedialog", 0)
                      + dpg.get_item_children("filedialog", 1) if dpg.get_item_type(c).endswith("FileExtension")]
    drv.screenshot(tmp / "dialog.png")
    dpg.hide_item("filedialog")
    drv.frames(2)
    drv.dump(out)
