"""Open another graph while a run goes: the old run stops and shows nothing on the new graph."""
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

    # Open another graph while a run goes
    drv.key("F5")
    drv.until(slow_going, 20, "slow to run")
    app.files.open(tmp / "other.msgpack")
    drv.frames(3)
    out["opened"] = {"nodes": sorted(app.doc.graph.nodes), "kinds": app.state()["kinds"],
                     "status": app.status_text, "running": app.runner.running}
    drv.key("F5")
    drv.frames(2)
    out["f5"] = app.status_text
    drv.until(lambda: not app.runner.jobs, 30, "the runs to end")
    drv.frames(3)
    out["after"] = {"kinds": app.state()["kinds"], "status": app.status_text}
    drv.dump(out)
