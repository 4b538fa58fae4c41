"""A sweep on a graph with an unlinked node that has nothing to do with it (QA: the panel refused
to run): the variants run without it, and the status names it; a sweep of that node is refused
with the reason."""
import os
from pathlib import Path

from tests.editor._graphs import type_sweep


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    app.doc.connect("gain", "out", "export", "audio")                   # each variant written
    app.doc.add_node("dsp.mix", (300.0, 400.0), node_id="mix")         # both inputs unlinked
    type_sweep(app, drv, "gain.gain_db=-12,0", tmp / "sweep")
    said = []
    say = app.sweep._say
    app.sweep._say = lambda text, error=False: (said.append(text), say(text, error))[1]
    drv.click_item("sweep::run")
    out = {"started": next((t for t in said if t.startswith("running")), said)}
    drv.until(lambda: len(app.sweep.results) == 2 and not app.sweep.running, 60, "the sweep")
    drv.frames(3)
    out["status"] = dpg.get_value("sweep::status")
    out["results"] = [r.status for r in app.sweep.results]
    out["written"] = sorted(p.name for p in (tmp / "sweep").rglob("*.wav"))
    dpg.set_value("sweep::axes", "mix.gain_b_db=-6,0")
    drv.click_item("sweep::run")
    drv.frames(3)
    out["refused"] = dpg.get_value("sweep::status")
    drv.dump(out)
