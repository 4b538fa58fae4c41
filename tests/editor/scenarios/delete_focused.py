"""Issue 14's gesture, three times: add a node from the palette, click its slider, click its title,
Delete, Ctrl+Z (dearpygui then still names the deleted slider as the focused item); then Ctrl+V on
a clipboard that holds no text (dearpygui's own clipboard call aborts the process there)."""


def main(app, drv):
    drv.frames(6)
    out = {"rounds": []}
    for _ in range(3):
        drv.click_item("palette::dsp.gain")
        drv.frames(3)
        nid = app.status_text.removeprefix("added ")
        drv.click_item(f"param::{nid}::gain_db")
        value = app.doc.graph.nodes[nid].params["gain_db"]
        (x0, y0), _ = app.view.node_rect(nid)
        drv.click((x0 + 40, y0 + 7))
        selected = app.view.selected_nodes()
        drv.key("Delete")
        deleted = nid not in app.doc.graph.nodes
        focus = app.dpg.get_focused_item()
        stale = bool(focus) and not app.dpg.does_item_exist(focus)
        drv.key("ctrl+z")
        drv.frames(3)
        out["rounds"].append({"node": nid, "selected": selected, "deleted": deleted, "stale_focus": stale,
                              "undo_status": app.status_text, "back": nid in app.doc.graph.nodes,
                              "drawn": app.dpg.does_item_exist(app.view.node_tag(nid)),
                              "value_kept": app.doc.graph.nodes.get(nid) is not None
                              and app.doc.graph.nodes[nid].params["gain_db"] == value})
        app.doc.remove([nid])              # the next round's node takes the same free spot on screen
        drv.frames(3)
    before = sorted(app.doc.graph.nodes)
    app.dpg.clear_selected_nodes("canvas")
    drv.key("ctrl+v")
    out["paste_without_clip"] = [before, sorted(app.doc.graph.nodes)]
    drv.dump(out)
