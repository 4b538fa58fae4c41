"""A 35-node graph saved without positions, with real keys: Home fits it into the window (compact
nodes, arranged for their size); Ctrl+M shows the bodies again: the layout made for compact nodes
is spread apart so that no node covers another (QA: 97 overlapping pairs, Home made it 124); Ctrl+Z
puts the compact layout back."""
import os
from pathlib import Path


def overlaps(app):
    rects = {n: app.view.node_rect(n) for n in app.doc.graph.nodes}
    rects = {n: r for n, r in rects.items() if r}
    ids, bad = list(rects), []
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            (ax0, ay0), (ax1, ay1) = rects[a]
            (bx0, by0), (bx1, by1) = rects[b]
            if ax0 < bx1 and bx0 < ax1 and ay0 - 24 < by1 and by0 - 24 < ay1:     # titles above the rectangles
                bad.append([a, b])
    return bad


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    drv.frames(10)
    out = {}
    drv.move((1260, 790))
    drv.key("Home")
    drv.frames(12)
    out["fit_compact"], out["fit_status"] = app.view.compact, app.status_text
    out["fit_overlaps"] = overlaps(app)
    fitted = {n: list(p) for n, p in app.doc.graph.editor["positions"].items()}
    drv.key("ctrl+m")
    drv.frames(12)
    out["compact"], out["status"], out["undo"] = app.view.compact, app.status_text, app.doc.history.undo_label
    drv.key("ctrl+0")                 # actual size: every node drawn as a musician reads it, then counted
    drv.frames(10)
    out["overlaps"] = overlaps(app)
    drv.screenshot(tmp / "compact_spread.png")
    drv.key("ctrl+z")
    drv.frames(4)
    out["undone_to_fit"] = app.doc.graph.editor["positions"] == fitted
    drv.dump(out)
