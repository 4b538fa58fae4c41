"""A node that fails at run time (a trim that starts past the clip's end, after a node whose output's
length only the run knows: straight after the load, validation finds it first) stops only what comes after
it: the export on another branch is still written (QA: it was skipped, depending on which node the
engine started first, with nothing on the export's node to say why).  A node that tells no progress
(one long call) shows how long it has run."""
import os
from pathlib import Path

from tests.editor._graphs import add_slow_node


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    drv.frames(5)
    app.doc.connect("gain", "out", "export", "audio")
    app.doc.add_node("dsp.trim", (600.0, 40.0), node_id="trim", start_s=30.0)
    add_slow_node(app, "pre", (600.0, 250.0), source="load", sink="trim", type_id="test.pre", steps=1)
    app.doc.add_node("dsp.gain", (880.0, 40.0), node_id="after")
    app.doc.connect("trim", "out", "after", "audio")
    app.doc.add_node("dsp.gain", (880.0, 330.0), node_id="tail")      # load -> quiet (2.5 s, no progress) -> tail
    add_slow_node(app, "quiet", (600.0, 330.0), source="load", sink="tail", type_id="test.quiet", steps=50,
                  quiet=True)
    drv.frames(4)
    drv.key("F5")
    overlay = "progress::quiet"
    drv.until(lambda: app.dpg.get_item_configuration(overlay)["overlay"].startswith("running for"), 20,
              "the quiet node's time so far")
    quiet_text = app.dpg.get_item_configuration(overlay)["overlay"]
    drv.until(lambda: getattr(app.runner.states.get("trim"), "kind", "") == "failed", 20, "trim to fail")
    while_running = {n: getattr(app.runner.states.get(n), "kind", None) for n in ("quiet", "after")}
    drv.until(lambda: not app.runner.jobs, 60, "the run")
    drv.until(lambda: ("export", "out") in app.view.previews, 20, "the export's waveform")     # the file it wrote
    drv.frames(4)
    drv.dump({"kinds": app.state()["kinds"], "status": app.status_text,
              "export_written": (tmp / "out.wav").exists(), "after_text": app.dpg.get_value("status::after"),
              "trim_text": app.runner.states["trim"].describe(), "quiet_text": quiet_text,
              "while_running": while_running, "export_value": app.view.values.get(("export", "out"), ("",))[0]})
