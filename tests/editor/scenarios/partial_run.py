"""Runs that explain themselves, through the Run and Stop buttons: an export with no input does not
block the rest (it is marked 'not run'); a long node shows its percentage and the time left; after
Stop no node is left queued or running; a preview that ends leaves no 'playing' in the status bar."""
import os
from pathlib import Path

from tests.editor._graphs import add_slow_node


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    drv.frames(5)
    out = {}
    said = []                  # every status-bar message (a quick run replaces 'running...' within frames)
    say = app.say
    app.say = lambda text, error=False, **kw: (said.append(text), say(text, error, **kw))[1]
    # 1. the export's input is open: the rest runs, the export is marked
    drv.click_item("run_button")
    out["run_message"] = next((t for t in said if t.startswith("running")), app.status_text)
    drv.until(lambda: not app.runner.jobs, 30, "the partial run")
    drv.frames(3)
    out["kinds"] = app.state()["kinds"]
    out["export_text"] = app.dpg.get_value("status::export")
    out["finished_message"] = app.status_text
    out["previews"] = sorted(app.state()["previews"])
    (x0, y0), (x1, y1) = app.dpg.get_item_rect_min("status::gain"), app.dpg.get_item_rect_max("status::gain")
    drv.move(((x0 + x1) / 2, (y0 + y1) / 2))           # hover "done" on a node with no problem
    drv.wait(1.2)
    out["gain_tips_drawn"] = [t for t in ("statustip", "problemtip") if app.dpg.is_item_visible(f"{t}::gain")]
    drv.move((1260, 790))
    drv.frames(3)
    shot = drv.screenshot(tmp / "partial.png")
    (x0, y0), (x1, y1) = app.dpg.get_item_rect_min("status"), app.dpg.get_item_rect_max("status")
    text = (shot[int(y0):int(y1), int(x0):int(x1), :3] * 255).reshape(-1, 3)          # the framebuffer, 0..1
    lit = text[text.max(axis=1) > 150]                   # the glyphs' pixels, not the bar behind them
    out["finished_rgb"] = lit.mean(axis=0).round().tolist() if len(lit) else None
    # 2. a long node: percent and time left on the node; then Stop
    app.doc.add_node("dsp.gain", (880, 40), node_id="later")
    app.doc.connect("later", "out", "export", "audio")
    add_slow_node(app, "long", (600, 40), sink="later", type_id="test.long", steps=80)   # gain -> long (4 s) -> later
    drv.frames(3)
    drv.click_item("run_button")
    drv.until(lambda: "left" in app.state()["states"].get("long", ""), 20, "the time left on the long node")
    drv.frames(2)
    out["long_text"] = app.state()["states"]["long"]
    out["long_overlay"] = app.dpg.get_item_configuration("progress::long")["overlay"]
    out["queued_while"] = {n: k for n, k in app.state()["kinds"].items() if k in ("queued", "running")}
    drv.screenshot(tmp / "eta.png")
    drv.click_item("stop_button")
    drv.until(lambda: not app.runner.jobs, 20, "the stop")
    drv.frames(3)
    out["after_stop"] = app.state()["kinds"]
    out["later_text"] = app.dpg.get_value("status::later")
    # 3. a preview that ends: the status bar no longer says 'playing'
    drv.click_item("play::gain::out")
    out["play_message"] = app.status_text
    drv.until(lambda: app.audition.now is None and app.audition.paused is None, 20, "the preview to end")
    drv.frames(3)
    out["after_play_message"] = app.status_text
    drv.dump(out)
