"""Keys typed into a box belong to the box: with a node selected, Backspace, Delete, Ctrl+C/V/D/Z
typed into a text box (a node's parameter, the palette's search) edit the text and leave the graph
alone; once the box lets go, the same Delete deletes the selected node."""


def main(app, drv):
    drv.frames(6)
    out = {}
    graph = app.doc.graph

    def select(nid):
        (x0, y0), _ = app.view.node_rect(nid)
        drv.click((x0 + 40, y0 + 7))
        return app.view.selected_nodes()

    def nodes():
        return sorted(graph.nodes)

    before = nodes()
    out["selected"] = select("gain")
    drv.click_item("param::export::path")          # the export's path box: the caret at the click
    drv.key("End")
    drv.type_text("x2")
    drv.key("BackSpace")
    drv.key("Delete")
    drv.key("ctrl+c")
    drv.key("ctrl+v")
    drv.key("ctrl+d")
    drv.key("ctrl+z")
    out["box"] = {"nodes": nodes(), "before": before, "typing_seen": app.status_text,
                  "text": app.dpg.get_value("param::export::path")}
    drv.key("Return")
    drv.frames(3)
    out["path_param"] = graph.nodes["export"].params["path"]
    out["selected2"] = select("gain")
    drv.click_item("palette::filter")
    drv.type_text("fa")
    drv.key("BackSpace")
    out["filter"] = {"nodes": nodes(), "text": app.dpg.get_value("palette::filter")}
    drv.key("ctrl+a")
    drv.key("BackSpace")
    drv.key("Escape")
    out["selected3"] = select("gain")               # the canvas has the keyboard again
    drv.key("Delete")
    out["after_delete"] = nodes()
    drv.dump(out)
