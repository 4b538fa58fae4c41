"""A second export gets a file of its own, however it is added (QA: one added by find-and-wire wrote
``out.wav`` like the first, was marked at once and left "not run"): a link from fade's output dropped
on empty canvas, "export" typed and Enter; one from the palette; the first export duplicated (Ctrl+D).
Then F5 runs every one of them."""
from pathlib import Path


def paths(app):
    g = app.doc.graph
    return {n: g.nodes[n].params["path"] for n in sorted(g.nodes) if g.nodes[n].type == "io.export"}


def main(app, drv):
    drv.frames(8)
    out = {}
    drv.drag_link("gain", "out", "export", "audio")      # the first export, linked: it writes out.wav
    drv.frames(4)
    a, b = app.view.pin_pos("fade", "out", "out"), (1000.0, 250.0)
    drv.drag(a, b, steps=8)
    drv.frames(1)
    drv.type_text("export")
    drv.key("Return")
    drv.frames(8)
    out["wired"] = paths(app)
    out["wired_links"] = sorted(app.state()["links"])
    drv.click_item("palette::io.export")
    drv.frames(6)
    out["palette"] = paths(app)
    (x0, y0), _ = app.view.node_rect("export")
    drv.click((x0 + 40, y0 + 8))
    drv.key("ctrl+d")
    drv.frames(6)
    out["duplicated"] = paths(app)
    out["problems"] = app.state()["problems"]
    drv.key("ctrl+z")              # the duplicate undone: its name goes with it
    drv.frames(4)
    out["undone"] = paths(app)
    drv.click((900.0, 700.0))
    drv.key("F5")
    drv.frames(3)
    drv.until(lambda: not app.runner.jobs, 60, "the run")
    drv.frames(6)
    out["run"] = {n: st.kind for n, st in app.runner.states.items()}
    out["status"] = app.status_text
    folder = Path(app.doc.graph.path).parent
    out["written"] = sorted(p.name for p in folder.glob("out*.wav"))
    drv.dump(out)
