"""Nodes far outside the view are not drawn, and appear where they belong when panned into view: a
real middle-button drag pans 2300 px to two linked nodes that start hidden; a move of a hidden node
into view (then Ctrl+Z) and a pan back."""
import os
from pathlib import Path

import numpy as np

PAN = 2300.0


def pan(drv, dx: float) -> None:
    """Drag with the middle button on empty canvas: imnodes pans the view by the drag."""
    y, steps = 480.0, 3
    done = 0.0
    while abs(done - dx) > 0.5:
        step = max(-760.0, min(760.0, dx - done))
        a = 980.0 if step < 0 else 240.0
        drv.move((a, y))
        drv.xdo("mousedown", 2)
        for i in range(1, steps * 10 + 1):
            drv.move((a + step * i / (steps * 10), y))
        drv.xdo("mouseup", 2, frames=3)
        done += step


def drawn(app, nid):
    return nid not in app.culler.hidden and app.view.node_rect(nid) is not None


def shot(drv, app, tmp, name, nids):
    px = drv.screenshot(tmp / f"{name}.png")[..., :3]
    np.save(tmp / f"{name}.npy", (px * 255).round().astype(np.uint8))
    return {n: app.view.node_rect(n) for n in nids}


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    doc = app.doc
    drv.frames(10)

    def build():
        pos = doc.graph.editor.setdefault("positions", {})
        for nid, t, p in (("a", "dsp.gain", [40.0, 60.0]), ("far", "dsp.gain", [2400.0, 80.0]),
                          ("far2", "dsp.fade", [2700.0, 80.0])):
            doc.graph.add(t, id=nid)
            pos[nid] = p
        doc.graph.connect("far.out", "far2.audio")
    doc.edit("add nodes", build)
    drv.frames(8)
    # the minimap (shown by default) shows what is drawn: every node is; View > Minimap hides it
    out = {"hidden_with_minimap": sorted(app.culler.hidden), "minimap_first": app.canvas.minimap}
    drv.click((160.0, 10.0))                    # the View menu (menu items report no rectangle: by place)
    drv.frames(3)
    drv.click((170.0, 71.0))                    # its third item, Minimap
    drv.frames(8)
    out["minimap_after_click"] = app.canvas.minimap
    out["prefs_minimap"] = app.prefs.minimap
    out.update({"hidden_before": sorted(app.culler.hidden),
                "links_hidden_before": [str(l) for l in app.culler.hidden_links]})
    out["rects_before"] = shot(drv, app, tmp, "before", ["a"])
    pan(drv, -PAN)
    drv.frames(5)
    out["hidden_panned"] = sorted(app.culler.hidden)
    out["links_hidden_panned"] = [str(l) for l in app.culler.hidden_links]
    out["rects_panned"] = shot(drv, app, tmp, "panned", ["far", "far2"])
    out["pins_panned"] = [app.view.pin_pos("far", "out", "out"), app.view.pin_pos("far2", "audio", "in")]
    out["dpg_pos_panned"] = {n: app.dpg.get_item_pos(app.view.node_tag(n)) for n in ("far", "far2")}
    off = app.culler.offset()
    out["offset_panned"] = off
    # a hidden node moved into view by an edit appears there; Ctrl+Z takes it back out of view
    doc.move({"a": [2450.0, 420.0]})
    drv.frames(5)
    out["a_drawn_moved"] = drawn(app, "a")
    out["a_rect_moved"] = app.view.node_rect("a")
    drv.move((700.0, 740.0))
    drv.key("ctrl+z")
    drv.frames(5)
    out["a_pos_undone"] = doc.graph.editor["positions"]["a"]
    out["a_hidden_undone"] = "a" in app.culler.hidden
    pan(drv, PAN)
    drv.frames(5)
    out["hidden_back"] = sorted(app.culler.hidden)
    out["rects_back"] = shot(drv, app, tmp, "back", ["a"])
    out["positions"] = doc.graph.editor["positions"]
    out["offset_back"] = app.culler.offset()
    drv.dump(out)
    return 0
