"""Run a graph from elsewhere whose export writes outside its folder: the Allow once dialog lists
the place; Cancel writes nothing, Allow once runs it."""
import os
from pathlib import Path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    target = tmp / "victim" / "elsewhere.wav"
    drv.frames(5)
    out = {}
    drv.click_item("run_button")
    drv.frames(3)
    out["shown"] = bool(app.dpg.is_item_shown("outside"))
    out["text"] = app.dpg.get_value("outside::text")
    out["status0"] = app.status_text
    drv.click_item("outside::cancel")
    drv.frames(3)
    out["after_cancel"] = {"shown": bool(app.dpg.is_item_shown("outside")), "status": app.status_text,
                           "written": target.exists(), "running": app.runner.running}
    drv.click_item("run_button")
    drv.frames(3)
    drv.click_item("outside::allow")
    drv.until(lambda: target.exists() and not app.runner.running, 30, "the allowed export")
    drv.frames(3)
    out["after_allow"] = {"shown": bool(app.dpg.is_item_shown("outside")), "written": target.exists(),
                          "status": app.status_text}
    drv.dump(out)
