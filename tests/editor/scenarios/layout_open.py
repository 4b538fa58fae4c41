"""Open a graph that carries no positions from inside the editor (as File > Open does), over the
graph the editor started with and again from a new empty graph: the same layout as opening it from
the command line (the first layout waits until the new nodes are drawn and measured)."""
import os
from pathlib import Path


def main(app, drv):
    bare = Path(os.environ["AUDIOCHAIN_TEST_TMP"]) / "bare.msgpack"
    drv.frames(10)
    out = {}
    for when in ("over_a_graph", "from_new"):
        if when == "from_new":
            app.files.new()
            drv.frames(5)
        app.files.open(bare)
        drv.frames(15)
        out[when] = {"rects": {n: app.view.node_rect(n) for n in app.view.nodes}, "dirty": app.doc.dirty,
                     "title": app.dpg.get_viewport_title()}
    drv.dump(out)
