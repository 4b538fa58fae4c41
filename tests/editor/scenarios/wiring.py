"""Finding and wiring with real events: a link dragged from gain's output dims the pins it cannot
go to (mid-drag screenshot), dropped on empty canvas it opens the search with only node types that
take Audio; arrow keys + Enter add the highlighted one, linked; a double-click on empty canvas opens
the search too, where typing "loudness" finds the export."""
import os
from pathlib import Path

import numpy as np

from tests.editor._graphs import covered_by


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    drv.frames(8)
    out = {}
    # 1. press on gain's output pin and drag (not released yet): incompatible pins are dimmed
    a = app.view.pin_pos("gain", "out", "out")
    drop = (a[0] - 100, a[1] + 230)             # empty canvas below gain, between export and fade
    drv.move(a)
    drv.xdo("mousedown", 1)
    for i in range(1, 11):
        drv.move((a[0] + (drop[0] - a[0]) * i / 10, a[1] + (drop[1] - a[1]) * i / 10))
    out["dimmed"] = sorted(".".join(p) for p in app.view.dimmed)
    out["status_drag"] = app.status_text
    px = drv.screenshot(tmp / "wiring_drag.png")
    pins = {}
    for d, nid, port in (("in", "fade", "audio"), ("in", "export", "audio"), ("in", "gain", "audio"),
                         ("out", "load", "out")):
        x, y = app.view.pin_pos(nid, port, d)
        patch = px[int(y) - 2:int(y) + 3, int(x) - 2:int(x) + 3, :3]
        pins[f"{nid}.{port}"] = [round(255 * float(v)) for v in patch.reshape(-1, 3).mean(0)]
    out["pin_rgb_drag"] = pins
    drv.xdo("mouseup", 1, frames=6)
    out["dimmed_after"] = sorted(".".join(p) for p in app.view.dimmed)
    out["search_open"] = app.palette.searching
    out["search_title"] = dpg.get_item_configuration("quicksearch")["label"]
    out["offered"] = [s.id for s in app.palette.results]
    drv.screenshot(tmp / "wiring_search.png")
    # every fitting node is offered (the list scrolls): Down past the last row in view scrolls to it
    n = len(app.palette.results)
    for _ in range(n - 1):
        drv.key("Down")
    last = f"quicksearch::hit::{n - 1}"
    out["last_row_visible"] = [app.palette.selected, bool(dpg.get_item_state(last).get("visible")),
                               dpg.get_y_scroll("quicksearch::results")]
    drv.key("Down")                                   # wraps to the first, scrolled back to the top
    out["first_row_visible"] = [app.palette.selected, dpg.get_y_scroll("quicksearch::results")]
    # 2. arrow keys: down twice, up once -> the second result; Enter adds it, linked to gain.out
    drv.key("Down")
    drv.key("Down")
    drv.key("Up")
    out["selected"] = app.palette.selected
    out["selected_shown"] = [bool(dpg.get_value(f"quicksearch::hit::{i}")) for i in range(3)]
    from nodeflow.editor import items
    first = items.rect("quicksearch::hit::0")
    drv.move((first[0][0] + 40, first[0][1] + 4))         # the pointer on row 0, the keys' choice row 1
    drv.frames(3)
    px = drv.screenshot()
    out["row_blue"] = []                                  # each row's background (the median: text is thin)
    for i in range(3):
        (x0, y0), (x1, y1) = items.rect(f"quicksearch::hit::{i}")
        patch = px[int(y0) + 2:int(y1) - 2, int(x0):int(x0) + 250, 2]
        out["row_blue"].append(round(255 * float(np.median(patch))))
    want = app.palette.results[1].id
    out["want"] = want
    drv.key("Return")
    drv.frames(4)
    new = [n for n in app.doc.graph.nodes if n not in ("load", "gain", "fade", "export")]
    out["new_nodes"] = new
    out["new_type"] = app.doc.graph.nodes[new[0]].type if new else None
    out["links"] = sorted(app.state()["links"])
    out["new_pos"] = app.doc.graph.editor["positions"].get(new[0]) if new else None
    out["drop_canvas"] = list(app.canvas_pos(drop))
    drv.frames(3)
    out["new_covers"] = covered_by(app, new[0]) if new else None
    out["undo_label"] = app.doc.history.undo_label
    drv.screenshot(tmp / "wiring_linked.png")
    # 3. double-click on empty canvas: the search opens there; "loudness" finds the export
    spot = (1000.0, 130.0)                      # right of gain, above fade
    out["spot_empty"] = app.wiring.on_empty_canvas(spot)
    drv.move(spot)
    drv.xdo("click", "--repeat", 2, "--delay", 60, 1, frames=6)
    out["dbl_open"] = app.palette.searching
    out["dbl_title"] = dpg.get_item_configuration("quicksearch")["label"]
    drv.type_text("loudness")
    out["loudness_hits"] = [s.id for s in app.palette.results][:3]
    drv.screenshot(tmp / "wiring_dblclick.png")
    drv.key("Escape")
    out["closed"] = not app.palette.searching
    drv.frames(2)
    out["closed_status"] = app.status_text           # the "type to search" prompt does not stay
    # 3b. the same near the canvas' bottom edge: the node added shows whole, moved up as needed
    (cx0, cy0), (cx1, cy1) = app.wiring.canvas_rect()
    low = (cx1 - 260.0, cy1 - 14.0)
    out["low_empty"] = app.wiring.on_empty_canvas(low)
    drv.move(low)
    drv.xdo("click", "--repeat", 2, "--delay", 60, 1, frames=6)
    drv.type_text("gain")
    drv.key("Return")
    drv.frames(4)
    low_id = app.status_text.removeprefix("added ")
    out["low_node"] = [low_id, app.view.node_rect(low_id), [[cx0, cy0], [cx1, cy1]]]
    out["minimap"] = app.canvas.minimap_rect()       # it lands off the minimap too (QA: under it)
    # 4. a text output (export.out, str): every Audio input turns grey; dropped, only text takers offered
    a = app.view.pin_pos("export", "out", "out")
    drop2 = (a[0] + 120, a[1] + 40)
    drv.move(a)
    drv.xdo("mousedown", 1)
    for i in range(1, 9):
        drv.move((a[0] + (drop2[0] - a[0]) * i / 8, a[1] + (drop2[1] - a[1]) * i / 8))
    out["dimmed_str"] = sorted(".".join(p) for p in app.view.dimmed)
    drv.screenshot(tmp / "wiring_drag_str.png")
    drv.xdo("mouseup", 1, frames=6)
    out["offered_str"] = [s.id for s in app.palette.results] if app.palette.searching else None
    drv.key("Escape")
    # 5. a float output (CLAP's score): no node type takes one, and the status says so (QA: "pick a node")
    (cx0, cy0), (cx1, cy1) = app.wiring.canvas_rect()
    clap = app.add_node("models.clap_score", (cx0 + 40, cy0 + 40))
    drv.frames(8)
    a = app.view.pin_pos(clap, "score", "out")
    drop3 = (a[0] + 60, a[1] + 150)
    drv.move(a)
    drv.xdo("mousedown", 1)
    for i in range(1, 9):
        drv.move((a[0] + (drop3[0] - a[0]) * i / 8, a[1] + (drop3[1] - a[1]) * i / 8))
    drv.xdo("mouseup", 1, frames=6)
    out["float_drop"] = {"open": app.palette.searching, "results": len(app.palette.results), "status": app.status_text}
    drv.key("Escape")
    drv.dump(out)
