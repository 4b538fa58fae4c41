"""View > Zoom with real keys and the mouse wheel: Ctrl+- draws the canvas smaller about the view's
centre (fonts, widgets, pins, grid and positions), the graph's positions and undo history stay as
they were, waveforms stay; a drag at 50% moves a node twice as far in graph units; Ctrl+wheel zooms
about the mouse; Ctrl+V lands under the mouse at any zoom; Ctrl+0 is actual size again; Home zooms
out until a graph too big for the window shows whole."""
import copy


def fully_in_view(app):
    (cx0, cy0), (cx1, cy1) = app.wiring.canvas_rect()
    n = 0
    for nid in app.doc.graph.nodes:
        r = app.view.node_rect(nid)
        if r and r[0][0] >= cx0 and r[0][1] >= cy0 and r[1][0] <= cx1 and r[1][1] <= cy1:
            n += 1
    return n


def size(app, nid):
    (x0, y0), (x1, y1) = app.view.node_rect(nid)
    return [x1 - x0, y1 - y0]


def title_pixels(app, shot, nids):
    """The screenshot's colour at the middle of each node's title bar (where the app says it is)."""
    out = {}
    for nid in nids:
        (x0, y0), (x1, y1) = app.view.node_rect(nid)
        out[nid] = [round(float(v) * 255) for v in shot[int(y0) + 2, int((x0 + x1) / 2), :3]]
    return out


def main(app, drv):
    out = {}
    g = app.doc.graph
    drv.frames(10)
    app.run()
    drv.until(lambda: not app.runner.jobs and all(k in app.view.previews for k in [("gain_1", "out")]), 60, "the run")
    drv.frames(5)
    (cx0, cy0), (cx1, cy1) = app.wiring.canvas_rect()
    centre = ((cx0 + cx1) / 2, (cy0 + cy1) / 2)
    pos0 = copy.deepcopy(g.editor["positions"])
    undo0, dirty0 = app.doc.history.undo_label, app.doc.dirty
    out["in_view_100"] = fully_in_view(app)
    out["size_100"] = size(app, "gain_1")
    out["centre_100"] = list(app.canvas.graph_pos(centre))
    (x0, y0), _ = app.view.node_rect("gain_3")
    drv.click((x0 + 30, y0 + 6))                         # select a node by its title: zooming keeps it selected
    drv.move(centre)
    for _ in range(3):                                   # 100% -> 80% -> 67% -> 50%
        drv.key("ctrl+minus")
    drv.frames(8)
    out["selected_after_zoom"] = app.view.selected_nodes()
    app.dpg.clear_selected_nodes("canvas")
    out["scale_50"] = app.view.zoom.scale
    out["status_50"] = app.status_text
    out["in_view_50"] = fully_in_view(app)
    out["size_50"] = size(app, "gain_1")
    out["centre_50"] = list(app.canvas.graph_pos(centre))
    out["positions_kept"] = g.editor["positions"] == pos0
    out["undo_kept"] = app.doc.history.undo_label == undo0 and app.doc.dirty == dirty0
    out["plots_shown"] = sum(bool(app.dpg.get_item_configuration(f"plot::{n}::out")["show"])
                             for n in g.nodes if n.startswith("gain_"))
    app.canvas.set_minimap(False, quiet=True)            # the minimap's overlay would cover a corner
    drv.move((60.0, 700.0))                              # off the canvas: no title bar drawn hovered
    drv.frames(4)
    shot = drv.screenshot(app_tmp(app) / "zoom50.png")
    app.canvas.set_minimap(True, quiet=True)
    out["title_px"] = title_pixels(app, shot, [n for n in g.nodes if app.view.node_rect(n)])
    out["states"] = sorted({app.runner.states[n].kind for n in g.nodes if n in app.runner.states})
    added_at_50 = app.add_node("dsp.gain", at=(cx0 + 40.0, cy0 + 40.0))     # made while zoomed out
    drv.frames(4)
    # a drag by the title at 50%: the node moves twice as far in graph units
    (x0, y0), _ = app.view.node_rect("gain_5")
    p5 = list(g.editor["positions"]["gain_5"])
    drv.drag((x0 + 30, y0 + 4), (x0 + 90, y0 + 44))
    out["drag_moved"] = [g.editor["positions"]["gain_5"][0] - p5[0], g.editor["positions"]["gain_5"][1] - p5[1]]
    out["drag_undo"] = app.doc.history.undo_label
    app.dpg.clear_selected_nodes("canvas")
    # Ctrl+wheel up over empty canvas: zoom in about the mouse
    spot = (cx0 + 60.0, cy1 - 60.0)
    drv.move(spot)
    drv.frames(2)
    out["spot_before"] = list(app.canvas.graph_pos(spot))
    drv.xdo("keydown", "ctrl")
    drv.xdo("click", "4")
    drv.xdo("keyup", "ctrl", frames=8)
    out["scale_wheel"] = app.view.zoom.scale
    out["spot_after"] = list(app.canvas.graph_pos(spot))
    # paste at the mouse at this zoom
    (x0, y0), _ = app.view.node_rect("gain_2")
    drv.click((x0 + 30, y0 + 4))
    drv.key("ctrl+c")
    before = set(g.nodes)
    paste_spot = (cx0 + 250.0, cy1 - 120.0)
    drv.move(paste_spot)
    drv.key("ctrl+v")
    new = [n for n in g.nodes if n not in before]
    out["pasted_pos"] = g.editor["positions"][new[0]] if new else None
    out["paste_spot"] = list(app.canvas.graph_pos(paste_spot))
    before = set(g.nodes)
    drv.key("ctrl+v")                                    # again, the mouse still: not on top of the first copy
    new2 = [n for n in g.nodes if n not in before]
    out["pasted_again"] = g.editor["positions"][new2[0]] if new2 else None
    drv.key("ctrl+z")
    drv.key("ctrl+z")
    drv.key("ctrl+z")                                    # the drag too: positions as opened
    out["positions_after_undo"] = {n: p for n, p in g.editor["positions"].items() if n in pos0} == pos0
    drv.key("ctrl+equal")                                # the '=' key (dearpygui has no constant for it)
    out["scale_equal"] = app.view.zoom.scale
    # a fast spin of the wheel: three notches down, three steps
    drv.move(spot)
    drv.xdo("keydown", "ctrl")
    drv.xdo("click", "--repeat", "3", "--delay", "5", "5")
    drv.xdo("keyup", "ctrl", frames=8)
    out["scale_spin"] = app.view.zoom.scale
    # Ctrl+= in the middle of dragging a node does not zoom (the node would jump under the mouse)
    (x0, y0), _ = app.view.node_rect("gain_4")
    p4 = list(g.editor["positions"]["gain_4"])
    drv.move((x0 + 20, y0 + 3))
    drv.xdo("mousedown", 1)
    drv.move((x0 + 40, y0 + 13))
    before_drag_key = app.view.zoom.scale
    drv.xdo("key", "ctrl+equal", frames=4)             # (drv.key's --clearmodifiers would release the button)
    drv.move((x0 + 60, y0 + 23))
    drv.xdo("mouseup", 1, frames=5)
    out["scale_during_drag"] = [before_drag_key, app.view.zoom.scale]
    out["drag2_moved"] = [(g.editor["positions"]["gain_4"][0] - p4[0]) * app.view.zoom.scale,
                          (g.editor["positions"]["gain_4"][1] - p4[1]) * app.view.zoom.scale]
    drv.key("ctrl+z")
    app.dpg.clear_selected_nodes("canvas")
    drv.key("ctrl+0")
    drv.frames(8)
    out["scale_0"] = app.view.zoom.scale
    out["size_0"] = size(app, "gain_1")
    # a node made at 50%, now at 100%: as big as one made at 100%; its tooltips in the UI's font and size
    made_here = app.add_node("dsp.gain", at=(cx0 + 300.0, cy0 + 40.0))
    drv.frames(6)
    out["size_made_50"], out["size_made_100"] = size(app, added_at_50), size(app, made_here)
    ui = app.view.ui_font
    out["tooltips"] = {n: [app.dpg.get_item_configuration(f"statustip::{n}")["wrap"],
                           app.dpg.get_item_font(app.dpg.get_item_parent(f"statustip::{n}")) in (ui, 0, None)]
                       for n in (added_at_50, made_here, "gain_1")}
    drv.key("ctrl+z")
    drv.key("ctrl+z")
    drv.frames(4)
    out["undo_adds"] = sorted(n for n in g.nodes if n not in pos0)
    # Home: the graph does not fit at 100%: zoom out until it does, the layout as it is
    app.dpg.clear_selected_nodes("canvas")
    drv.move(centre)
    drv.key("Home")
    drv.until(lambda: not app.canvas.busy, 10, "the fit")
    drv.frames(8)
    out["fit_scale"] = app.view.zoom.scale
    out["fit_status"] = app.status_text
    out["fit_in_view"] = fully_in_view(app)
    out["fit_positions_kept"] = g.editor["positions"] == pos0
    mini = app.canvas.minimap_rect()
    out["fit_under_minimap"] = [n for n in g.nodes if (r := app.view.node_rect(n)) and mini
                                and r[1][0] > mini[0][0] and r[1][1] > mini[0][1]]
    drv.screenshot(app_tmp(app) / "zoom_fit.png")
    # Home from 33% (node text stays readable there, so sizes are measured again at 50%): the same fit
    drv.key("ctrl+0")
    for _ in range(4):
        drv.key("ctrl+minus")
    drv.frames(4)
    out["scale_before_fit33"] = app.view.zoom.scale
    drv.key("Home")
    drv.until(lambda: not app.canvas.busy, 10, "the fit")
    drv.frames(8)
    out["fit33"] = [app.view.zoom.scale, fully_in_view(app), g.editor["positions"] == pos0, app.status_text]
    # a graph opened while zoomed opens at 100%, as saved (nothing moved, nothing to save)
    app.files.open(str(app_tmp(app) / "other.msgpack"))
    drv.frames(10)
    out["open_scale"] = app.view.zoom.scale
    out["open_positions"] = app.doc.graph.editor["positions"]
    out["open_dirty"] = app.doc.dirty
    # the view is saved with the graph: 67% and compact nodes, saved with Ctrl+S, opened again as left
    other = str(app_tmp(app) / "other.msgpack")
    drv.move(centre)
    drv.key("ctrl+minus")
    drv.key("ctrl+minus")
    drv.key("ctrl+m")
    drv.frames(6)
    out["height_compact"] = size(app, "a")[1]
    drv.key("ctrl+s")
    drv.frames(4)
    out["saved_status"] = app.status_text
    import msgpack
    with open(other, "rb") as f:
        out["saved_view"] = msgpack.unpackb(f.read(), raw=False)["editor"].get("view")
    app.files.open(str(app_tmp(app) / "grid.msgpack"))         # a graph saved with no view: 100%, bodies
    drv.frames(10)
    out["view_grid"] = [app.view.zoom.scale, app.view.compact, app.dpg.get_value("menu_compact")]
    app.files.open(other)
    drv.frames(10)
    out["view_reopened"] = [app.view.zoom.scale, app.view.compact, app.dpg.get_value("menu_compact"),
                            size(app, "a")[1], app.doc.dirty, app.doc.graph.editor["positions"]]
    drv.key("ctrl+0")
    drv.key("ctrl+m")
    drv.key("ctrl+s")
    drv.frames(4)
    out["errors"] = app.errors
    drv.dump(out)


def app_tmp(app):
    import os
    from pathlib import Path
    return Path(os.environ["AUDIOCHAIN_TEST_TMP"])
