"""A value typed into a box counts once the box is left, Enter or not: a path typed into the load's
box and the canvas clicked (no Enter) is the path the graph has; Escape still cancels what was
typed; a path committed with Enter is one undo step, not two."""


def main(app, drv):
    drv.frames(6)
    out = {}
    graph, dpg = app.doc.graph, app.dpg

    def path():
        return str(graph.nodes["load"].params["path"])

    def type_into(tag, text):
        drv.click_item(tag)
        drv.key("ctrl+a")
        drv.key("BackSpace")
        drv.type_text(text)

    def canvas():
        (x0, y0), (x1, y1) = app.view.node_rect("export")
        drv.click((x1 + 200, y1 + 150))
        drv.frames(3)

    type_into("param::load::path", "tone_missing.wav")
    canvas()
    out["no_enter"] = {"param": path(), "shown": dpg.get_value("param::load::path"),
                       "undo": app.doc.history.undo_label, "steps": len(app.doc.history)}
    type_into("param::load::path", "other.wav")
    drv.key("Escape")
    canvas()
    out["escape"] = {"param": path(), "shown": dpg.get_value("param::load::path"), "steps": len(app.doc.history)}
    type_into("param::load::path", "tone.wav")
    drv.key("Return")
    canvas()
    out["enter"] = {"param": path(), "shown": dpg.get_value("param::load::path"), "steps": len(app.doc.history)}
    drv.key("ctrl+z")
    out["undo_once"] = path()
    drv.dump(out)
