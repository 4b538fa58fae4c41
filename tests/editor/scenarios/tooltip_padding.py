"""Hover a parameter in a node until its documentation shows: the tooltip's text keeps a margin on
every side (it had none, and its last line was cut); open a parameter group and rest the mouse on
it: no highlight runs past the node to the canvas' edge.  Read from the window's pixels."""
import numpy as np


def main(app, drv):
    from nodeflow.editor import items
    drv.frames(10)
    (x0, y0), (x1, y1) = items.rect("param::load::start_s")
    mx, my = (x0 + x1) / 2, (y0 + y1) / 2
    drv.move((mx, my))
    drv.frames(20)
    px = (drv.screenshot() * 255).round().astype(int)[:, :, :3]
    # the tooltip: the popup's background colour, in a box right of and below the mouse
    top, left = int(my) - 10, int(mx) + 4
    region = px[top:top + 140, left:left + 460]
    bg = np.abs(region - np.array([37, 37, 38])).sum(-1) == 0
    ys, xs = np.nonzero(bg)
    out = {"found": bool(len(ys))}
    if len(ys):
        box = region[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        ty, tx = np.nonzero(box.max(-1) > 150)          # the text's light pixels
        out["size"] = [int(box.shape[1]), int(box.shape[0])]
        out["margins"] = [int(tx.min()), int(box.shape[1] - 1 - tx.max()), int(ty.min()), int(box.shape[0] - 1 - ty.max())]
    # the export's "labels for the DAW" group, opened, the mouse on it
    tag = "group::export::labels for the DAW"
    (gx0, gy0), (gx1, gy1) = items.rect(tag)
    drv.click((gx0 + 30, (gy0 + gy1) / 2))
    drv.move((gx0 + 60, (gy0 + gy1) / 2))
    drv.frames(10)
    (_, _), (nx1, _) = app.view.node_rect("export")
    px = (drv.screenshot() * 255).round().astype(int)[:, :, :3]
    row = px[int((gy0 + gy1) / 2), int(nx1) + 12:int(nx1) + 300]
    out["group_open"] = bool(app.dpg.get_value(tag))
    out["blue_right_of_node"] = int(((row[:, 2] - row[:, 0]) > 60).sum())     # the header's highlight
    drv.dump(out)
