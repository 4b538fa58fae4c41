"""Add nodes from the palette (side panel filter and the Ctrl+K search), move a node by dragging its
title, select with a click or a box, duplicate/copy/paste/delete with the keyboard, undo."""
from tests.editor._graphs import covered_by


def panel_order(app) -> list[str]:
    """The side panel as shown, top to bottom: each shown category, then its shown node types."""
    dpg = app.dpg
    out = []
    for h in dpg.get_item_children(app.palette._panel, 1):
        name = str(dpg.get_item_alias(h))
        if name.startswith("palcat::") and name != "palcat::end" and dpg.is_item_shown(h):
            out.append(name.removeprefix("palcat::"))
            out += [str(dpg.get_item_alias(b)).removeprefix("palette::") for b in dpg.get_item_children(h, 1)
                    if str(dpg.get_item_alias(b)).startswith("palette::") and dpg.is_item_shown(b)]
    return out


def main(app, drv):
    dpg = app.dpg
    drv.frames(6)
    out = {}
    # Ctrl+V on a fresh X session: nothing in the clipboard (GLFW printed "Glfw Error 65545" for it)
    drv.move((700, 600))
    drv.key("ctrl+v")
    out["empty_paste"] = {"nodes": sorted(app.doc.graph.nodes), "status": app.status_text}
    # quick search at the mouse: Ctrl+K, type, Enter
    drv.move((700, 600))
    drv.key("ctrl+k")
    out["search_open"] = app.palette.searching
    drv.type_text("gain")
    out["search_hits"] = [s.id for s in app.palette.results][:3]
    drv.key("Return")
    drv.frames(3)
    out["after_search"] = sorted(app.doc.graph.nodes)
    out["search_closed"] = not app.palette.searching
    out["new_pos"] = app.doc.graph.editor["positions"].get("gain_2")
    drv.frames(3)
    out["new_covers"] = covered_by(app, "gain_2")
    # at the mouse just left of a node: a node there would cover it (QA: the new node hid its pins)
    (gx0, gy0), _ = app.view.node_rect("gain")
    drv.move((gx0 - 40, gy0 + 30))
    drv.key("ctrl+k")
    drv.type_text("fade")
    drv.key("Return")
    drv.frames(4)
    crowded = [n for n in app.doc.graph.nodes if n.startswith("fade") and n != "fade"]
    out["crowded_covers"] = covered_by(app, crowded[0]) if crowded else None
    out["crowded_near"] = (list(app.view.node_rect(crowded[0])[0]), [gx0 - 40, gy0 + 30]) if crowded else None
    app.doc.undo()
    drv.frames(3)
    # side panel: filter, then click
    drv.click_item("palette::filter")
    drv.type_text("fade")
    out["filter_shown"] = {t: bool(dpg.is_item_shown(f"palette::{t}")) for t in ("dsp.fade", "dsp.gain", "io.load")}
    drv.click_item("palette::dsp.fade")
    out["after_panel"] = sorted(app.doc.graph.nodes)
    # the panel lists what matches best first, under the headers that hold a match (QA62 D12), a folded
    # one opened (QA65)
    dpg.set_value("palette::filter", "")
    app.palette._filter("")
    drv.frames(2)
    dpg.set_value("palcat::time", False)                # folded (below the panel's fold: no click reaches it)
    drv.frames(2)
    out["time_folded"] = not dpg.get_value("palcat::time")
    drv.click_item("palette::filter")
    drv.key("ctrl+a")
    drv.type_text("stitch")
    drv.frames(2)
    out["stitch_order"] = panel_order(app)
    out["time_open"] = bool(dpg.get_value("palcat::time"))
    drv.key("ctrl+a")
    drv.key("BackSpace")
    drv.frames(2)
    out["cleared_order"] = panel_order(app)
    notes = {}
    for typed in ("reverb", "qxjv", ""):               # QA108 D7: "reverb" left the panel blank, without a word
        drv.key("ctrl+a")
        drv.type_text(typed) if typed else drv.key("BackSpace")
        drv.frames(2)
        notes[typed] = dpg.get_value("palette::note") if dpg.is_item_shown("palette::note") else None
    out["filter_notes"] = notes
    out["own_order"] = [x for c, ids in app.palette._categories.items() for x in [c, *ids]]
    # drag a node by its title bar; undo puts it back
    before = list(app.doc.graph.editor["positions"]["load"])
    (x0, y0), _ = app.view.node_rect("load")
    drv.drag((x0 + 30, y0 + 8), (x0 + 130, y0 + 58), steps=10)
    out["moved"] = [before, list(app.doc.graph.editor["positions"]["load"])]
    out["move_undo_label"] = app.doc.history.undo_label
    drv.key("ctrl+z")
    out["after_move_undo"] = list(app.doc.graph.editor["positions"]["load"])
    # click-select gain, duplicate with Ctrl+D, copy/paste with Ctrl+C / Ctrl+V
    app.doc.set_param("gain", "gain_db", -9.0)
    drv.frames(2)
    (x0, y0), _ = app.view.node_rect("gain")
    drv.click((x0 + 40, y0 + 8))
    out["selected"] = app.view.selected_nodes()
    drv.key("ctrl+d")
    out["dup_label"] = app.doc.history.undo_label
    out["gain_size"] = app.canvas.node_sizes()["gain"]
    drv.key("ctrl+c")
    drv.key("ctrl+v")
    drv.move((75, 400))                                 # over the palette, off the canvas: the copy goes below
    out["mouse_on_canvas"] = app.wiring.mouse_on_canvas()
    drv.key("ctrl+v")
    out["outside_paste"] = [n for n in app.doc.graph.nodes if n.startswith("gain")][-1]
    out["after_dup_paste"] = sorted(app.doc.graph.nodes)
    out["copied_params"] = {n: app.doc.graph.nodes[n].params["gain_db"] for n in app.doc.graph.nodes
                            if n.startswith("gain")}
    # box-select load and gain (drag on empty canvas around them), Delete, then undo
    dpg.clear_selected_nodes("canvas")
    drv.frames(2)
    (lx0, ly0), (lx1, ly1) = app.view.node_rect("load")
    (gx0, gy0), (gx1, gy1) = app.view.node_rect("gain")
    drv.drag((lx0 - 15, ly0 - 15), (gx1 + 12, max(ly1, gy1) + 12), steps=10)
    out["box_selected"] = sorted(app.view.selected_nodes())
    drv.key("Delete")
    out["after_delete"] = sorted(app.doc.graph.nodes)
    out["links_after_delete"] = sorted(app.state()["links"])
    out["delete_status"] = app.status_text
    drv.key("ctrl+z")
    out["after_delete_undo"] = sorted(app.doc.graph.nodes)
    out["links_after_undo"] = sorted(app.state()["links"])
    # Ctrl+X cuts the fade (QA: it did nothing and said nothing), Ctrl+V puts it at the mouse, Ctrl+Z undoes
    dpg.clear_selected_nodes("canvas")
    drv.frames(2)
    (x0, y0), _ = app.view.node_rect("fade")
    drv.click((x0 + 40, y0 + 8))
    drv.key("ctrl+x")
    out["cut"] = {"nodes": sorted(app.doc.graph.nodes), "status": app.status_text, "undo": app.doc.history.undo_label}
    drv.move((600, 500))
    drv.key("ctrl+v")
    out["cut_paste"] = {"nodes": sorted(app.doc.graph.nodes), "status": app.status_text}
    # text copied since (from anywhere) is what the clipboard holds: Ctrl+V says so (QA: older nodes came)
    dpg.set_clipboard_text("just some words")
    drv.key("ctrl+v")
    out["text_paste"] = {"nodes": sorted(app.doc.graph.nodes), "status": app.status_text}
    drv.screenshot(__import__("os").environ["AUDIOCHAIN_TEST_TMP"] + "/palette.png")
    drv.dump(out)
