"""Six nodes added from the palette (real clicks on its entries) in a window on a 1366x768 screen: each
lands whole on the canvas, clear of the others and of the minimap, a tall model node (Bark) too, where
it was placed by its estimated size and drawn taller (QA104 D6); each add is one undo step."""


def main(app, drv):
    drv.frames(6)
    out = {"added": [], "steps": []}
    for type_id in ("models.musicgen", "io.load", "dsp.gain", "io.export", "dsp.fade", "models.bark"):
        before = set(app.doc.graph.nodes)
        drv.click_item(f"palette::{type_id}")
        drv.frames(8)
        out["added"] += sorted(set(app.doc.graph.nodes) - before)
        out["steps"].append(app.doc.history.undo_label)
    rects = {}
    for nid in app.doc.graph.nodes:
        r = app.view.node_rect(nid)
        rects[nid] = [list(r[0]), list(r[1])] if r is not None else None
    mini = app.canvas.minimap_rect()
    out.update({"canvas": [list(p) for p in app.wiring.canvas_rect()], "rects": rects,
                "mini": [list(p) for p in mini] if mini else None, "status": app.status_text})
    drv.key("ctrl+z")
    drv.frames(4)
    out["after_undo"] = sorted(app.doc.graph.nodes)
    drv.dump(out)
