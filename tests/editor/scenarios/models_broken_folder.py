"""Model nodes whose local checkpoint folder is gone, or holds no config.json: each is drawn broken
(its title bar in the 'broken' colour, read from the window's pixels) with its problem on it."""
import os
from pathlib import Path

from nodeflow.editor.themes import STATE_COLOURS


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    drv.frames(8)
    px = drv.screenshot(tmp / "models_broken_folder.png")
    out = {"nodes": {}, "broken_colour": list(STATE_COLOURS["broken"])}
    for nid in app.doc.graph.nodes:
        (x0, y0), (x1, _) = app.view.node_rect(nid)
        title = px[int(y0) + 4, int(x0 + 0.8 * (x1 - x0)), :3]       # the title bar, right of its name
        out["nodes"][nid] = {"drawn_as": app.view._state.get(nid), "problems": app.problems.get(nid, []),
                             "problem_text": dpg.get_value(f"problem::{nid}"),
                             "problem_shown": bool(dpg.is_item_shown(f"problem::{nid}")),
                             "title_rgb": [round(float(c) * 255) for c in title]}
    drv.dump(out)
