"""Which OpenGL draws the window, whether edges are anti-aliased, and what the pixels of a link show."""
import numpy as np


def main(app, drv):
    drv.frames(8)
    a, b = app.view.pin_pos("load", "out", "out"), app.view.pin_pos("fade", "audio", "in")   # a curve down
    px = drv.screenshot()
    x0, x1 = sorted((int(a[0]) + 4, int(b[0]) - 4))
    y0, y1 = sorted((int(a[1]) - 6, int(b[1]) + 6))
    box = np.round(px[y0:y1, x0:x1, :3] * 255).astype(int)
    colours = {tuple(c) for c in box.reshape(-1, 3)}
    drv.dump({"renderer": app.renderer, "smooth": app.smooth, "colours": len(colours), "box": [x0, y0, x1, y1],
              "config": {k: app.dpg.get_app_configuration()[k] for k in ("anti_aliased_lines", "anti_aliased_fill")}})
