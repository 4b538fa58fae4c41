"""Run a graph from elsewhere that writes outside its folder, or reads a file outside it by a path
AudioChain never saves: the Allow once dialog lists each; Cancel writes nothing, Allow once runs it.
The file the run writes is ``AUDIOCHAIN_TEST_WRITES`` (default: victim/elsewhere.wav under the test's
folder)."""
import os
from pathlib import Path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    target = Path(os.environ.get("AUDIOCHAIN_TEST_WRITES", tmp / "victim" / "elsewhere.wav"))
    drv.frames(5)
    from nodeflow import cache
    from nodes.io import load
    # what the editor opened of the graph's reads while it showed it: file headers probed, contents hashed
    out = {"probed": sorted({k[0] for k in load._HEADERS} | {str(k[0]) for k in cache._digests})}
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
