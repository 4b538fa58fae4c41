"""Edit > Preferences... with real clicks: choose a 500 ms playback latency, then play a preview; the
stream opens with that buffer and the choice is kept in the preferences file."""
import json
import os
from pathlib import Path


def main(app, drv):
    from nodeflow.editor import items
    dpg = app.dpg
    drv.frames(8)
    out = {"before": dpg.get_value("prefs::latency")}
    x, y = dpg.get_item_state("menu::Edit")["pos"]
    drv.click((x + 12, y + 8))                            # the Edit menu in the menu bar
    drv.frames(3)
    drv.screenshot(os.environ["AUDIOCHAIN_TEST_TMP"] + "/menu.png")
    height = dpg.get_item_state("menu::Edit")["rect_size"][1]      # its window, below the 20 px bar
    drv.click((x + 45, 20 + height - 14))                 # its last entry (menu items report no rectangle)
    drv.frames(3)
    out["shown"] = items.shown("prefs")
    (x0, y0), (x1, y1) = items.rect("prefs::latency")
    labels = [c[1] for c in __import__("nodeflow.editor.prefs", fromlist=["x"]).LATENCY_CHOICES]
    row = (y1 - y0 + 4) / len(labels)                     # one option per row, 4 px apart
    i = labels.index("500 ms")
    drv.click((x0 + 10, y0 + i * row + (row - 4) / 2))
    drv.frames(3)
    out["chosen"] = dpg.get_value("prefs::latency")
    out["status"] = app.status_text
    out["saved"] = json.loads((Path(os.environ["AUDIOCHAIN_STATE_DIR"]) / "preferences.json").read_text())
    drv.screenshot(os.environ["AUDIOCHAIN_TEST_TMP"] + "/prefs.png")
    dpg.configure_item("prefs", show=False)
    drv.frames(3)
    app.run()
    drv.until(lambda: not app.runner.jobs and app.runner.output(app.doc.graph, "gain", "out") is not None, 60, "run")
    drv.frames(4)                                         # the states shown, the node laid out again
    drv.click_item("play::gain::out")
    drv.until(lambda: app.audition.now and app.audition.player().stream_info, 20, "playback")
    out["stream_latency_s"] = app.audition.player().stream_info["latency_s"]
    out["setting"] = app.audition.player().stream_info["setting"]
    app.stop_audio()
    app.prefs_panel.open()
    drv.frames(3)
    out["now_text"] = dpg.get_value("prefs::now")
    drv.dump(out)
