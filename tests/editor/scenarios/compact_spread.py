"""A 35-node graph saved without positions opens laid out and zoomed out to show every node (QA: 26
of 35 below the window at 100%): compact, arranged for that size, clear of the minimap.  With real
keys, Ctrl+M then shows the bodies again: the layout made for compact nodes
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
            if ax0 < bx1 and bx0 < ax1 and ay0 < by1 and by0 < ay1:       # (a node's rectangle has its title)
                bad.append([a, b])
    return bad


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    drv.frames(10)
    out = {}
    (cx0, cy0), (cx1, cy1) = app.wiring.canvas_rect()
    rects = [app.view.node_rect(n) for n in app.doc.graph.nodes]
    out["open"] = {"in_view": sum(1 for r in rects if r and r[0][0] >= cx0 - 1 and r[0][1] >= cy0 - 1
                                  and r[1][0] <= cx1 + 1 and r[1][1] <= cy1 + 1),
                   "zoom": app.view.zoom.scale, "dirty": app.doc.dirty, "undo": app.doc.history.undo_label,
                   "status": app.status_text}
    drv.screenshot(tmp / "compact_open.png")
    mini = app.canvas.minimap_rect()
    out["open"]["under_minimap"] = [n for n, r in zip(app.doc.graph.nodes, rects) if r and mini and
                                    r[1][0] > mini[0][0] and r[1][1] > mini[0][1]]
    drv.move((1260, 790))
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
    drv.frames(8)
    out["undone"] = {"compact": app.view.compact, "overlaps": overlaps(app), "status": app.status_text}
    drv.key("ctrl+y")                 # redo: the bodies, spread, again
    drv.frames(12)
    out["redone"] = {"compact": app.view.compact, "overlaps": overlaps(app), "undo": app.doc.history.undo_label}
    drv.dump(out)
