"""The window on a screen smaller than its default size (a 1366x768 laptop, its panel taking the work
area's bottom): it opens within the usable area, and Run, Stop and the status line are on the screen;
a real click on Run runs (QA104 D1)."""


import os
from pathlib import Path


def main(app, drv):
    dpg = app.dpg
    drv.frames(6)

    def rect(tag):
        (x, y), size = dpg.get_item_rect_min(tag), dpg.get_item_rect_size(tag)
        return [[x, y], [x + size[0], y + size[1]]]
    out = {"viewport": [dpg.get_viewport_client_width(), dpg.get_viewport_client_height()],
           "viewport_pos": [int(v) for v in dpg.get_viewport_pos()],
           "run": rect("run_button"), "stop": rect("stop_button"), "status": rect("status")}
    drv.screenshot(Path(os.environ["AUDIOCHAIN_TEST_TMP"]) / "screen.png")
    (x0, y0), (x1, y1) = out["run"]
    drv.click(((x0 + x1) / 2, (y0 + y1) / 2))
    drv.frames(6)
    out["status_after_run"] = app.status_text
    drv.dump(out)
