"""Model nodes added from the palette one after another (real clicks) on a 1366x768 screen, until the view
is full: each lands whole on the canvas, off the minimap, and hides no node (QA106 D3: a model node
covered the load whole, a MusicGen node sat under the minimap); each add is one undo step."""


def main(app, drv):
    drv.frames(6)
    out = {"added": [], "boxes": [], "others": [], "steps": []}
    for type_id in ("models.musicgen", "models.demucs", "models.bark", "models.musicgen", "models.bark"):
        before = set(app.doc.graph.nodes)
        drv.click_item(f"palette::{type_id}")
        drv.frames(10)
        new = sorted(set(app.doc.graph.nodes) - before)
        out["added"] += new
        out["steps"].append(app.doc.history.undo_label)
        r = app.view.node_rect(new[0]) if new else None
        out["boxes"].append([*r[0], *r[1]] if r else None)
        out["others"].append({n: [*q[0], *q[1]] for n in app.doc.graph.nodes if n not in new
                              and (q := app.view.node_rect(n)) is not None})
        mini = app.canvas.minimap_rect()
        out.setdefault("minis", []).append([*mini[0], *mini[1]] if mini else None)
        out.setdefault("canvases", []).append([*app.wiring.canvas_rect()[0], *app.wiring.canvas_rect()[1]])
    drv.key("ctrl+z")
    drv.frames(4)
    out["after_undo"] = sorted(app.doc.graph.nodes)
    drv.screenshot(__import__("pathlib").Path(__import__("os").environ["AUDIOCHAIN_TEST_TMP"]) / "full.png")
    drv.dump(out)
