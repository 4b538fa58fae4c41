"""Delete nodes a run has still to do (QA, real X events): one not started is left out and the run
goes on; one running stops the run.  Neither writes its file."""
import os
from pathlib import Path

from tests.editor._graphs import run_with_slow_node


def delete(app, drv, nid):
    app.dpg.clear_selected_nodes("canvas")
    drv.frames(2)
    (x0, y0), _ = app.view.node_rect(nid)
    drv.click((x0 + 40, y0 + 8))
    drv.key("Delete")
    drv.frames(2)


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    out = {}
    # Delete the queued export while 'slow' runs: the run goes on without it
    run_with_slow_node(app, drv)        # gain -> slow (2 s) -> export, F5, until slow runs
    delete(app, drv, "export")
    out["deleted"] = {"nodes": sorted(app.doc.graph.nodes), "status": app.status_text,
                      "slow": app.runner.states["slow"].kind}
    drv.until(lambda: not app.runner.jobs, 30, "the run to end")
    drv.frames(3)
    out["deleted_end"] = {"status": app.status_text, "kinds": app.state()["kinds"],
                          "exported": (tmp / "out.wav").exists()}
    # Delete the node that runs: the run stops
    app.doc.undo()                      # the export back
    app.doc.set_param("slow", "steps", 41)      # not from the cache: it runs again
    drv.frames(3)
    drv.key("F5")
    drv.until(lambda: (st := app.runner.states.get("slow")) is not None and st.kind == "running" and (st.done or 0) >= 2,
              20, "slow to run")
    delete(app, drv, "slow")
    out["running"] = {"status": app.status_text}
    drv.until(lambda: not app.runner.jobs, 30, "the run to end")
    drv.frames(3)
    out["running_end"] = {"status": app.status_text, "exported": (tmp / "out.wav").exists()}
    drv.dump(out)
