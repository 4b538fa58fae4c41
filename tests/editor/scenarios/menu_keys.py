"""The keys of an open menu are its own (QA: Del deleted the node selected behind the Edit menu)."""


def main(app, drv):
    dpg = app.dpg
    drv.frames(5)
    out = {}
    (x0, y0), _ = app.view.node_rect("gain")
    drv.click((x0 + 40, y0 + 8))
    out["selected"] = app.view.selected_nodes()
    x, y = dpg.get_item_state("menu::Edit")["pos"]
    drv.click((x + 12, y + 8))                      # open the Edit menu
    drv.frames(3)
    out["menu_open"] = bool(dpg.get_item_state("menu::Edit").get("focused"))
    drv.key("Delete")
    out["with_menu"] = {"nodes": sorted(app.doc.graph.nodes), "menu_open": bool(dpg.get_item_state("menu::Edit").get("focused"))}
    drv.click((x + 12, y + 8))                      # closed again
    drv.frames(3)
    out["menu_closed"] = not dpg.get_item_state("menu::Edit").get("focused")
    drv.key("Delete")
    out["after"] = sorted(app.doc.graph.nodes)
    drv.dump(out)
