"""A node's size through a run's life: opened, running (progress), done (state and waveform), failed
(a long error), reset by an edit.  Nodes must keep their size, or pins and links move under the
pointer."""
import os
import time
from typing import Annotated


def main(app, drv):
    from nodeflow import Audio, Context, Range, node

    @node("test.slowish")
    def slowish(audio: Audio, *, seconds: Annotated[float, Range(0.0, 30.0)] = 1.5, ctx: Context) -> Audio:
        """Takes a while, with progress."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ctx.progress(1 - (end - time.monotonic()) / seconds, 1.0)
            time.sleep(0.02)
        return audio

    app.doc.graph.registry.add(slowish)
    app.doc.add_node("test.slowish", (600, 40), node_id="slow")
    app.doc.connect("gain", "out", "slow", "audio")
    drv.frames(8)

    def sizes():
        drv.frames(3)
        out = {}
        for n in ("load", "gain", "slow"):
            (x0, y0), (x1, y1) = app.view.node_rect(n)
            out[n] = [round(x1 - x0), round(y1 - y0)]
        return out

    out = {"opened": sizes(), "pin_opened": app.view.pin_pos("load", "out", "out")}
    app.run()
    drv.until(lambda: app.runner.states.get("slow") and app.runner.states["slow"].kind == "running"
              and (app.runner.states["slow"].done or 0) > 0.1, 30, "slow to run")
    out["running"] = sizes()
    out["progress_shown"] = app.dpg.is_item_shown("progress::slow")
    drv.until(lambda: not app.runner.jobs, 60, "the run")
    out["done"] = sizes()
    out["states"] = app.state()["kinds"]
    app.doc.set_param("load", "path", "no/such/folder/with/a/rather/long/name/take.wav")
    drv.frames(3)
    out["problem_sizes"] = sizes()
    out["pin_problem"] = app.view.pin_pos("load", "out", "out")          # rows stay where they were (QA40)
    out["load_problem_text"] = app.dpg.get_value("problem::load")
    app.doc.set_param("load", "path", "play.wav")
    app.doc.set_param("slow", "seconds", 0.0)
    drv.frames(3)
    out["reset"] = sizes()
    drv.screenshot(os.environ["AUDIOCHAIN_TEST_TMP"] + "/sizes.png")
    drv.dump(out)
