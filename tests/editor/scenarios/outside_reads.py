"""Run a graph file from elsewhere whose load reads a file outside its folder by a path AudioChain never
saves (absolute): the Allow once dialog lists the file; Cancel runs nothing, Allow once runs it."""
import os
from pathlib import Path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    written = tmp / "downloads" / "out.wav"
    drv.frames(5)
    out = {}
    drv.click_item("run_button")
    drv.frames(3)
    out["shown"] = bool(app.dpg.is_item_shown("outside"))
    out["text"] = app.dpg.get_value("outside::text")
    drv.click_item("outside::cancel")
    drv.frames(3)
    out["after_cancel"] = {"shown": bool(app.dpg.is_item_shown("outside")), "status": app.status_text,
                           "written": written.exists(), "running": app.runner.running}
    drv.click_item("run_button")
    drv.frames(3)
    drv.click_item("outside::allow")
    drv.until(lambda: written.exists() and not app.runner.running, 30, "the allowed run")
    drv.frames(3)
    out["after_allow"] = {"shown": bool(app.dpg.is_item_shown("outside")), "written": written.exists()}
    drv.dump(out)
