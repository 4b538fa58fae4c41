"""Open the demo graph, take a screenshot, report where each node is drawn."""
import os
from pathlib import Path

import numpy as np


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    drv.frames(16)
    px = drv.screenshot(tmp / "demo.png")
    np.save(tmp / "demo.npy", (px[..., :3] * 255).round().astype(np.uint8))
    dpg = app.dpg
    drv.dump({"rects": {n: app.view.node_rect(n) for n in app.view.nodes},
              "canvas": [dpg.get_item_rect_min("canvas"), dpg.get_item_rect_max("canvas")],
              "minimap": app.canvas.minimap_rect(),
              "titles": {n: dpg.get_item_label(app.view.node_tag(n)) for n in app.view.nodes}})
