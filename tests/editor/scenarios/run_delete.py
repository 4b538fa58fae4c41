"""Delete a node the run has still to do (QA, real X events): the run stops before it runs."""
import os
from pathlib import Path

from tests.editor._graphs import run_with_slow_node


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    out = {}
    # Delete the queued export while 'slow' runs
    run_with_slow_node(app, drv)        # gain -> slow (2 s) -> export, F5, until slow runs
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
