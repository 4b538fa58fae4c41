"""The minimap's edge with real events (QA: a link dropped, or a double-click, on empty canvas up to
70 px left of and 12 px above the minimap as drawn did nothing, and the status said to drop "on empty
canvas"): where the editor takes the minimap to be is where imnodes draws it (the pixels that change
when it is hidden), and a drop or a double-click just outside it opens the node search."""
import os
from pathlib import Path

import numpy as np


def drop_link(app, drv, at):
    """Drag a link from fade's output and let go at ``at``: (search open, status); the search closed."""
    a = app.view.pin_pos("fade", "out", "out")
    drv.move(a)
    drv.xdo("mousedown", 1)
    for i in range(1, 9):
        drv.move((a[0] + (at[0] - a[0]) * i / 8, a[1] + (at[1] - a[1]) * i / 8))
    drv.xdo("mouseup", 1, frames=6)
    got = [app.palette.searching, app.status_text]
    if app.palette.searching:
        drv.key("Escape")
        drv.frames(3)
    return got


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    drv.frames(8)
    out = {}
    mini = app.canvas.minimap_rect()
    out["minimap"] = mini
    shown = drv.screenshot(tmp / "minimap_shown.png")[..., :3]
    app.canvas.set_minimap(False, quiet=True)
    drv.frames(6)
    hidden = drv.screenshot()[..., :3]
    app.canvas.set_minimap(True, quiet=True)
    drv.frames(6)
    ys, xs = np.nonzero(np.abs(shown - hidden).max(-1) > 2 / 255)
    out["drawn"] = [[int(xs.min()), int(ys.min())], [int(xs.max()) + 1, int(ys.max()) + 1]] if len(xs) else None
    (x0, y0), (x1, y1) = mini
    left, above = (x0 - 8.0, (y0 + y1) / 2), ((x0 + x1) / 2, y0 - 6.0)
    out["empty"] = [app.wiring.on_empty_canvas(left), app.wiring.on_empty_canvas(above),
                    app.wiring.on_empty_canvas((x0 + 8.0, (y0 + y1) / 2))]
    out["drop_left"] = drop_link(app, drv, left)
    drv.wait(0.6)                                  # (not a double-click with the drop's release)
    out["drop_above"] = drop_link(app, drv, above)
    drv.wait(0.6)
    drv.move(left)
    drv.xdo("click", "--repeat", 2, "--delay", 60, 1, frames=6)
    out["dbl_left"] = [app.palette.searching, app.status_text]
    drv.screenshot(tmp / "minimap_dblclick.png")
    drv.dump(out)
