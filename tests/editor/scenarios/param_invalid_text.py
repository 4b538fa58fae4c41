"""Text a parameter cannot take gives way to the graph's value once the box is left: ``abc``,
``inf`` and ``nan`` in the load's end (Enter, or a click on the canvas), ``+5`` in the export's
loudness (out of range, refused in the words typed); the status bar names the parameter and what was
expected.  A seed (a whole number with no unit) typed past its range is held at its end, as a
slider holds it (QA104 D7: refused, and 99999999999999999999999 read 1e+23)."""


def main(app, drv):
    drv.frames(6)
    out = {}
    graph, dpg = app.doc.graph, app.dpg

    def canvas():
        (x0, y0), (x1, y1) = app.view.node_rect("export")
        drv.click((x1 + 200, y1 + 150))
        drv.frames(3)

    def typed(tag, text, enter):
        drv.click_item(tag)
        drv.key("ctrl+a")
        drv.type_text(text)
        if enter:
            drv.key("Return")
            drv.frames(3)
        status = app.status_text
        canvas()
        nid, name = tag.split("::")[1:]
        return {"param": graph.nodes[nid].params.get(name), "shown": dpg.get_value(tag), "status": status,
                "error": app.status_error}

    out["end20"] = typed("param::load::end_s", "0.5", True)
    out["abc_enter"] = typed("param::load::end_s", "abc", True)
    out["abc_leave"] = typed("param::load::end_s", "abc", False)
    out["inf"] = typed("param::load::end_s", "inf", True)
    out["nan"] = typed("param::load::end_s", "nan", False)
    out["lufs"] = typed("param::export::loudness_lufs", "-14", True)
    out["plus5"] = typed("param::export::loudness_lufs", "+5", True)
    nid = app.add_node("models.musicgen")
    drv.frames(8)
    out["seed_neg"] = typed(f"param::{nid}::seed", "-4", True)
    out["seed_big"] = typed(f"param::{nid}::seed", "98765432101", True)
    drv.dump(out)
