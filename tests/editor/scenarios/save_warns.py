"""Save as a graph whose two far takes share a file name: the status line says so, in the warning colour
(the save's own warning, which only Python showed)."""
import os
from pathlib import Path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    drv.frames(4)
    ok = app.files.save_as(tmp / "proj" / "x" / "y" / "mine.msgpack")
    drv.frames(3)
    drv.dump({"ok": ok, "status": app.status_text, "warn": app.dpg.get_item_configuration("status")["color"]})
