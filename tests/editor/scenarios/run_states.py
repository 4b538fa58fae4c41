"""Run from the Run button: node states while running
(progress), done/cached, a failing node's error text, and Stop."""
import os
import time
from pathlib import Path
from typing import Annotated

from nodeflow import Audio, Context, Range, node


@node("test.slow")
def slow(audio: Audio, *, steps: Annotated[int, Range(1, 1000)] = 30, ctx: Context) -> Audio:
    """Take a while, reporting progress."""
    for i in range(steps):
        time.sleep(0.05)
        ctx.progress(i + 1, steps)
    return audio


@node("test.boom")
def boom(audio: Audio) -> Audio:
    """Always fail."""
    raise ValueError("the boom node always fails")


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    reg = app.doc.graph.registry
    reg.add(slow)
    reg.add(boom)
    drv.frames(5)
    out = {}
    # select the export node by its title bar, delete it with the Delete key
    (x0, y0), _ = app.view.node_rect("export")
    drv.click((x0 + 40, y0 + 8))
    drv.key("Delete")
    out["after_delete"] = sorted(app.doc.graph.nodes)
    app.doc.add_node("test.slow", (600, 40), node_id="slow")
    app.doc.connect("gain", "out", "slow", "audio")
    app.doc.add_node("dsp.gain", (900, 40), node_id="after")
    app.doc.connect("slow", "out", "after", "audio")
    drv.frames(3)
    drv.click_item("run_button")
    drv.until(lambda: app.runner.states.get("slow") and app.runner.states["slow"].kind == "running"
              and (app.runner.states["slow"].done or 0) >= 3, 20, "slow to report progress")
    drv.frames(2)
    out["while_running"] = app.state()["states"]
    out["progress_shown"] = bool(app.dpg.is_item_shown("progress::slow"))
    out["progress_value"] = app.dpg.get_value("progress::slow")
    drv.screenshot(tmp / "running.png")
    drv.until(lambda: not app.runner.jobs, 30, "the run to finish")
    drv.frames(2)
    out["after_run"] = app.state()["kinds"]
    out["status_shown"] = {n: app.dpg.get_value(f"status::{n}") for n in app.doc.graph.nodes}
    out["run_message"] = app.status_text
    out["previews"] = sorted(app.state()["previews"])
    px = drv.screenshot()
    (x0, y0), (x1, y1) = app.dpg.get_item_rect_min("plot::gain::out"), app.dpg.get_item_rect_max("plot::gain::out")
    box = px[y0:y1, x0:x1, :3]
    out["wave_blue"] = float(((box[..., 2] > box[..., 0] + 0.2) & (box[..., 2] > 0.4)).mean())
    drv.click_item("run_button")
    drv.until(lambda: not app.runner.jobs, 30, "the second run")
    drv.frames(2)
    out["second_run"] = app.state()["kinds"]
    # stop a run half way
    app.doc.set_param("slow", "steps", 200)
    drv.frames(2)
    out["after_edit"] = app.state()["kinds"]
    drv.click_item("run_button")
    drv.until(lambda: app.runner.states.get("slow") and app.runner.states["slow"].kind == "running", 20, "slow")
    drv.click_item("stop_button")
    drv.until(lambda: not app.runner.jobs, 20, "the stop")
    drv.frames(2)
    out["after_stop"] = app.state()["kinds"]
    out["stop_message"] = app.status_text
    # a failing node shows its error
    app.doc.add_node("test.boom", (600, 300), node_id="boom")
    app.doc.connect("load", "out", "boom", "audio")
    app.doc.set_param("slow", "steps", 2)
    drv.frames(2)
    drv.click_item("run_button")
    drv.until(lambda: not app.runner.jobs, 30, "the failing run")
    drv.frames(3)
    out["failed"] = app.state()["kinds"]
    out["boom_text"] = app.dpg.get_value("status::boom")
    out["boom_tip"] = app.dpg.get_value("statustip::boom")
    out["fail_message"] = app.status_text
    drv.screenshot(tmp / "failed.png")
    drv.dump(out)
