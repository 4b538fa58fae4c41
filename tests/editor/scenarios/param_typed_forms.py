"""A value typed as a musician writes it, through real double-clicks and keys: the fade-out as
``1:30``, ``250 ms``, ``2,5`` and ``2 min``; text it cannot read (``1x``) sets nothing and the
status names the parameter, the text and what to type; the gain slider takes ``-7.5 dB``; the load's start (a time without an end, a text box) ``0:00.5``.  While the
box is open the node keeps its size and the box sits where the widget was (ImGui's own typing read
``1:30`` as 1 and ``250 ms`` as 250 s, and ignored ``1x`` without a word)."""


def main(app, drv):
    drv.frames(6)
    out = {}
    graph, dpg = app.doc.graph, app.dpg

    def typed(nid, param, text):
        tag = f"param::{nid}::{param}"
        before = app.view.node_rect(nid)
        widget = dpg.get_item_rect_min(tag), dpg.get_item_rect_max(tag)
        drv.wait(0.6)                    # more than a double-click's time since the last one
        (x0, y0), (x1, y1) = widget
        drv.double_click(((x0 + x1) / 2, (y0 + y1) / 2))
        drv.frames(2)
        box = "typein::" + tag
        open_ = {"box": dpg.does_item_exist(box) and bool(dpg.is_item_active(box)),
                 "box_rect": [list(dpg.get_item_rect_min(box)), list(dpg.get_item_rect_max(box))]
                 if dpg.does_item_exist(box) else None,
                 "widget_rect": [list(widget[0]), list(widget[1])],
                 "node_same_size": _size(app.view.node_rect(nid)) == _size(before),
                 "text": dpg.get_value(box) if dpg.does_item_exist(box) else None}
        drv.key("ctrl+a")
        drv.type_text(text)
        drv.key("Return")
        drv.frames(4)
        return {"value": graph.nodes[nid].params[param], "status": app.status_text, "error": app.status_error,
                "steps": len(app.doc.history), "box_gone": not dpg.does_item_exist(box),
                "widget_shown": bool(dpg.is_item_shown(tag)), **open_}

    for text in ("1:30", "250 ms", "2,5", "2 min", "1x"):
        out[text] = typed("fade", "fade_out_s", text)
    out["-7.5 dB"] = typed("gain", "gain_db", "-7.5 dB")
    steps = len(app.doc.history)          # keys in the open box are the box's: Ctrl+Z undoes no edit of the graph
    drv.wait(0.6)
    drv.double_click(_centre(dpg, "param::fade::fade_out_s"))
    drv.frames(2)
    drv.type_text("3")
    drv.key("ctrl+z")
    drv.key("Escape")
    drv.frames(3)
    out["ctrl_z_in_box"] = {"value": graph.nodes["fade"].params["fade_out_s"], "steps": len(app.doc.history) - steps,
                            "status": app.status_text}
    tag = "param::load::start_s"          # a time without an end: a text box, read the same way
    drv.click_item(tag)
    drv.key("ctrl+a")
    drv.type_text("0:00.5")
    drv.key("Return")
    drv.frames(4)
    out["start"] = {"value": graph.nodes["load"].params["start_s"], "shown": dpg.get_value(tag),
                    "status": app.status_text}
    drv.dump(out)


def _centre(dpg, tag):
    (x0, y0), (x1, y1) = dpg.get_item_rect_min(tag), dpg.get_item_rect_max(tag)
    return (x0 + x1) / 2, (y0 + y1) / 2


def _size(r):
    return None if r is None else (round(r[1][0] - r[0][0]), round(r[1][1] - r[0][1]))
