"""QA108 D1: a view tiled with nodes; a link dragged from src's output and dropped behind it (left of its out
pin) in the gap below it, where a new node has no free place: "fade" typed and Enter.  Where it is drawn,
and what it covers."""
from tests.editor._graphs import add_by_link_drop, covered_by


def main(app, drv):
    drv.frames(8)
    a = app.view.pin_pos("src", "out", "out")
    (cx0, cy0), (cx1, cy1) = app.wiring.canvas_rect()
    boxes = app.canvas.drawn_boxes()
    free = [(x, y) for y in range(int(a[1]), int(cy1) - 8, 4) for x in range(int(a[0]) - 40, int(cx0) + 10, -8)
            if not any(b[0] - 12 <= x <= b[2] + 12 and b[1] - 12 <= y <= b[3] + 12 for b in boxes)]
    drop = free[0]
    new = add_by_link_drop(app, drv, a, drop, "fade")
    drv.frames(4)
    drv.dump({"new": new, "drop": list(drop), "pin": list(a), "canvas": [[cx0, cy0], [cx1, cy1]],
              "src": app.view.node_rect("src"), "rect": app.view.node_rect(new[0]) if new else None,
              "covers": covered_by(app, new[0]) if new else None, "links": sorted(app.state()["links"])})
