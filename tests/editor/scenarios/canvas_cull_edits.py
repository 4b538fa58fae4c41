"""Culling stays right through edits: a 200-node graph, real middle-button pans, deletes (hidden nodes
among them), undo/redo, a paste, Fit all (zoomed out, compact), Ctrl+M, Arrange.  After each step every
node and link is drawn exactly when it should be, at its own position, and none in view is hidden."""
from pathlib import Path
import runpy

from nodeflow.editor import clipboard, items

pan = runpy.run_path(str(Path(__file__).with_name("canvas_cull.py")))["pan"]


def problems(app) -> list[str]:
    view, c = app.view, app.culler
    pos = app.doc.graph.editor["positions"]
    bad = []
    for nid in view.nodes:
        tag = view.node_tag(nid)
        shown = items.shown(tag)
        if shown == (nid in c.hidden):
            bad.append(f"{nid}: shown {shown}, hidden {nid in c.hidden}")
        elif shown and max(abs(float(a) - b) for a, b in zip(app.dpg.get_item_pos(tag),
                                                             app.view.zoom.to_canvas(pos[nid]))) >= 1:
            bad.append(f"{nid}: drawn at {app.dpg.get_item_pos(tag)}, its position is {pos[nid]} "
                       f"(at {app.view.zoom.label})")
    for link, item in view.links.items():
        if items.shown(item) != (link.src not in c.hidden and link.dst not in c.hidden):
            bad.append(f"link {link}: shown {items.shown(item)}")
    off, (r0, r1) = c.offset(), app.wiring.canvas_rect()
    for nid in c.hidden:
        (w, h), (x, y) = c.sizes[nid], app.view.zoom.to_canvas(pos[nid])     # Fit all may zoom
        if x + off[0] < r1[0] and x + w + off[0] > r0[0] and y + off[1] < r1[1] and y + h + off[1] > r0[1]:
            bad.append(f"{nid}: in view but hidden")
    return bad


def main(app, drv):
    doc = app.doc
    out = {"steps": []}
    app.canvas.set_minimap(False)      # nodes far outside the view are not drawn while the minimap is hidden

    def step(name):
        drv.frames(4)
        out["steps"].append([name, len(app.view.nodes) - len(app.culler.hidden), len(app.view.nodes), problems(app)])

    def build():
        for i in range(200):
            nid = doc.graph.add("dsp.gain", id=f"g{i}").id
            doc.graph.editor.setdefault("positions", {})[nid] = [20.0 + 230.0 * (i % 10), 40.0 + 130.0 * (i // 10)]
            if i % 10:
                doc.graph.connect(f"g{i - 1}.out", f"g{i}.audio")
    doc.edit("add 200 nodes", build)
    step("built")
    pan(drv, -900)
    step("panned")
    doc.remove(["g5", "g0", "g99"], [])
    step("deleted")
    drv.key("ctrl+z")
    step("undone")
    drv.key("ctrl+shift+z")
    step("redone")
    drv.key("ctrl+z")
    clipboard.paste(doc, clipboard.copy_nodes(doc.graph, ["g1", "g2", "g150"]), at=(2000.0, 300.0))
    step("pasted")
    drv.key("ctrl+z")
    step("paste undone")
    drv.move((700.0, 700.0))
    drv.key("Home")
    drv.until(lambda: not app.canvas.busy, 10, "the fit")
    step("fit all")
    drv.key("ctrl+m")
    step("ctrl+m")
    drv.key("ctrl+z")
    step("fit undone")
    pan(drv, 900)
    step("panned back")
    drv.key("ctrl+l")
    step("arranged")
    drv.dump(out)
    return 0
