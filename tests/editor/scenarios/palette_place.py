"""Nodes added from the palette (clicks on its entries) land in view, clear of the nodes there: five
in a row on the chain graph, whose four nodes take the canvas' left half."""


def main(app, drv):
    drv.frames(6)
    before = set(app.doc.graph.nodes)
    for type_id in ("io.export", "dsp.gain", "dsp.fade", "io.export", "dsp.crossfade"):
        drv.click_item(f"palette::{type_id}")
        drv.frames(4)
    drv.frames(4)
    rects = {}
    for nid in app.doc.graph.nodes:
        r = app.view.node_rect(nid)
        rects[nid] = [list(r[0]), list(r[1])] if r is not None else None
    drv.dump({"canvas": [list(p) for p in app.wiring.canvas_rect()], "rects": rects,
              "added": sorted(set(app.doc.graph.nodes) - before), "status": app.status_text})
