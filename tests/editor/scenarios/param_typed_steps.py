"""Each value typed into a parameter is its own undo step, while one drag is one: the fade-out
typed 5, then 1e9 (held at 600), then -3 (held at 0), each set on Enter (a drag box, like a
slider, sets nothing while the keys come), then dragged in one gesture."""


def main(app, drv):
    drv.frames(6)
    out = {}
    graph = app.doc.graph
    tag = "param::fade::fade_out_s"

    def fade():
        return graph.nodes["fade"].params["fade_out_s"]

    def typed(text):
        drv.double_click(_centre(app, tag))    # a double-click types a value
        drv.key("ctrl+a")
        drv.type_text(text)
        drv.frames(2)
        out.setdefault("while_typing", []).append(fade())
        drv.key("Return")
        drv.frames(4)
        out.setdefault("statuses", []).append(app.status_text)
        return fade()

    out["typed"] = [typed("5"), typed("1e9"), typed("-3")]
    out["steps_typed"] = len(app.doc.history)
    (x0, y0), (x1, y1) = app.dpg.get_item_rect_min(tag), app.dpg.get_item_rect_max(tag)
    y = (y0 + y1) / 2
    drv.drag((x0 + 10, y), (x0 + 60, y), steps=10)     # one drag: several values, one step
    out["dragged"] = fade()
    out["steps_dragged"] = len(app.doc.history)
    undos = []
    for _ in range(4):
        drv.key("ctrl+z")
        undos.append(fade())
    out["undos"] = undos
    drv.dump(out)


def _centre(app, tag):
    (x0, y0), (x1, y1) = app.dpg.get_item_rect_min(tag), app.dpg.get_item_rect_max(tag)
    return ((x0 + x1) / 2, (y0 + y1) / 2)
