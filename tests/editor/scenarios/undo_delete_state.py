"""A node deleted after a run and brought back with Ctrl+Z comes back with its run state, not only its
result (QA: gain came back with its waveform but a grey title and an empty state line, while its
neighbours kept theirs); the same after an edit undone.  Real events: F5, a click on gain's title,
Delete, Ctrl+Z; then an edit of gain's value and Ctrl+Z."""
from nodeflow.editor import items


def shown(app):
    return {"kinds": {n: st.kind for n, st in app.runner.states.items()},
            "line": app.dpg.get_value("status::gain") if items.exists("status::gain") else None,
            "preview": "gain.out" in app.state()["previews"]}


def main(app, drv):
    drv.frames(6)
    out = {}
    drv.key("F5")
    drv.until(lambda: not app.runner.jobs, 60, "the run")
    drv.frames(8)
    out["ran"] = shown(app)
    (x0, y0), _ = app.view.node_rect("gain")
    drv.click((x0 + 40, y0 + 8))
    drv.key("Delete")
    drv.frames(4)
    out["deleted"] = {"nodes": sorted(app.doc.graph.nodes), **shown(app)}
    drv.click((900, 700))
    drv.key("ctrl+z")
    drv.frames(8)
    out["undone"] = {"nodes": sorted(app.doc.graph.nodes), **shown(app)}
    # an edit undone (the value set as the widget sets it, undone with the key)
    app.doc.set_param("gain", "gain_db", -3.0)
    drv.frames(6)
    out["edited"] = shown(app)
    drv.click((900, 700))
    drv.key("ctrl+z")
    drv.frames(8)
    out["edit_undone"] = shown(app)
    drv.screenshot()
    drv.dump(out)
