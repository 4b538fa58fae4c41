"""Open another graph while a run goes: the old run stops and shows nothing on the new graph."""
import os
from pathlib import Path

from tests.editor._graphs import run_with_slow_node


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    out = {}
    # Open another graph while a run goes
    run_with_slow_node(app, drv)        # gain -> slow (2 s) -> export, F5, until slow runs
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
