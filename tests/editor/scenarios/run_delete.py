"""Delete a node the run has still to do (QA, real X events): the run stops before it runs."""
import os
import time
from pathlib import Path
from typing import Annotated

from nodeflow import Audio, Context, Range, node


@node("test.slow")
def slow(audio: Audio, *, steps: Annotated[int, Range(1, 1000)] = 40, ctx: Context) -> Audio:
    """Take a while, reporting progress."""
    for i in range(steps):
        time.sleep(0.05)
        ctx.progress(i + 1, steps)
    return audio


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    app.doc.graph.registry.add(slow)
    app.doc.add_node("test.slow", (300, 330), node_id="slow")
    app.doc.connect("gain", "out", "slow", "audio")
    app.doc.connect("slow", "out", "export", "audio")
    drv.frames(5)
    out = {}

    def slow_going():
        st = app.runner.states.get("slow")
        return st is not None and st.kind == "running" and (st.done or 0) >= 2

    # Delete the queued export while 'slow' runs
    drv.key("F5")
    drv.until(slow_going, 20, "slow to run")
    app.dpg.clear_selected_nodes("canvas")
    drv.frames(2)
    (x0, y0), _ = app.view.node_rect("export")
    drv.click((x0 + 40, y0 + 8))
    drv.key("Delete")
    drv.frames(2)
    out["deleted"] = {"nodes": sorted(app.doc.graph.nodes), "status": app.status_text}
    drv.until(lambda: not app.runner.jobs, 30, "the run to end")
    drv.frames(3)
    out["deleted_end"] = {"status": app.status_text, "kinds": app.state()["kinds"],
                          "exported": (tmp / "out.wav").exists()}
    drv.dump(out)
