"""Ctrl+L with real keys on a graph whose send (load -> mix, past a two-effect chain) runs under the
chain's nodes; the links are measured on the window (pin positions, node rectangles as drawn) and
their curves recomputed from imnodes' definition, before and after."""
import os
from pathlib import Path

import numpy as np


def _curve(start, end, n=200):
    length = float(np.hypot(end[0] - start[0], end[1] - start[1]))
    p = [np.array(start), np.array(start) + (length / 4, 0), np.array(end) - (length / 4, 0), np.array(end)]
    t = np.linspace(0, 1, n)[:, None]
    return (1 - t) ** 3 * p[0] + 3 * (1 - t) ** 2 * t * p[1] + 3 * (1 - t) * t ** 2 * p[2] + t ** 3 * p[3]


def under(app):
    """(source, destination, node) for each link drawn across a third node, from the window."""
    found = []
    for link in app.doc.graph.links:
        a, b = app.view.pin_pos(link.src, link.src_port, "out"), app.view.pin_pos(link.dst, link.dst_port, "in")
        curve = _curve(a, b)
        for nid in app.doc.graph.nodes:
            if nid in (link.src, link.dst):
                continue
            (x0, y0), (x1, y1) = app.view.node_rect(nid)
            if ((curve[:, 0] > x0) & (curve[:, 0] < x1) & (curve[:, 1] > y0) & (curve[:, 1] < y1)).any():
                found.append([link.src, link.dst, nid])
    return found


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    drv.frames(10)
    out = {"before": under(app)}
    app.dpg.clear_selected_nodes("canvas")
    drv.move((700, 700))
    drv.key("ctrl+l")
    drv.frames(8)
    out["after"] = under(app)
    out["status"] = app.status_text
    out["send_dy"] = app.view.pin_pos("load", "out", "out")[1] - app.view.pin_pos("mix", "b", "in")[1]
    drv.screenshot(tmp / "arranged.png")
    drv.dump(out)
