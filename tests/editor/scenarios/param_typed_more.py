"""More of typing a value, through real events: a drag on the gain slider, then at once a
double-click on its handle to type keeps the dragged value (it was taken back as the double-click's first click);
an emptied box left with Enter changes nothing and says nothing red; a seed (a whole number without a
slider) is read as the other boxes are ('1e3' is 1000, '2.5' is refused: it was cut to 2 without a
word); F5 and Ctrl+S while a value is being typed run and save with that value; a node deleted with
its box open leaves no stale 'type a value' line; a double-click on a time box without a slider types
a new value over the whole old one."""
import msgpack


def main(app, drv):
    dpg, graph, doc = app.dpg, app.doc.graph, app.doc
    doc.add_node("models.bark", (300, 300), node_id="voice")
    drv.frames(8)
    out = {}

    def centre(tag):
        (x0, y0), (x1, y1) = dpg.get_item_rect_min(tag), dpg.get_item_rect_max(tag)
        return (x0 + x1) / 2, (y0 + y1) / 2

    def double_click(tag):
        drv.double_click(centre(tag))
        drv.frames(2)

    gain = "param::gain::gain_db"
    (x0, y0), (x1, y1) = dpg.get_item_rect_min(gain), dpg.get_item_rect_max(gain)
    y = (y0 + y1) / 2
    end = (x0 + (x1 - x0) * 0.7, y)
    drv.drag((x0 + 10, y), end, steps=10)
    dragged, steps = graph.nodes["gain"].params["gain_db"], len(doc.history)
    drv.move(end)                           # on the handle, where the drag left it: the click changes nothing
    drv.xdo("click", "--repeat", "2", "--delay", "60", "1", frames=4)
    drv.frames(2)
    out["box_text_after_drag"] = dpg.get_value("typein::" + gain)
    drv.key("Escape")
    drv.frames(3)
    out["drag_kept"] = {"dragged": dragged, "now": graph.nodes["gain"].params["gain_db"],
                        "steps": len(doc.history) - steps, "status": app.status_text}

    drv.wait(0.6)
    double_click(gain)
    drv.key("ctrl+a")
    drv.key("BackSpace")
    drv.key("Return")
    drv.frames(3)
    out["emptied"] = {"now": graph.nodes["gain"].params["gain_db"], "status": app.status_text,
                      "error": app.status_error}

    seed = "param::voice::seed"
    out["seed_type"] = dpg.get_item_type(seed).split("::")[-1]
    for text in ("1e3", "2.5"):
        drv.click_item(seed)
        drv.key("ctrl+a")
        drv.type_text(text)
        drv.key("Return")
        drv.frames(3)
        out["seed " + text] = {"value": graph.nodes["voice"].params["seed"], "status": app.status_text,
                               "error": app.status_error, "shown": dpg.get_value(seed)}

    drv.wait(0.6)                               # F5 while typing: the run gets the typed value
    double_click(gain)
    drv.key("ctrl+a")
    drv.type_text("-20")
    drv.key("F5")
    drv.frames(3)
    out["f5"] = {"value": graph.nodes["gain"].params["gain_db"], "box_open": dpg.does_item_exist("typein::" + gain),
                 "running": bool(app.runner.jobs) or app.status_text.startswith(("ran", "running", "run"))}
    drv.until(lambda: not app.runner.jobs, 60, "the run")
    drv.wait(0.6)                               # Ctrl+S while typing: the file gets the typed value
    double_click(gain)
    drv.key("ctrl+a")
    drv.type_text("-15")
    drv.key("ctrl+s")
    drv.frames(3)
    with open(doc.path, "rb") as f:
        saved = msgpack.unpackb(f.read(), raw=False)
    out["ctrl_s"] = {"saved": [n for n in saved["nodes"] if n["id"] == "gain"][0]["params"]["gain_db"],
                     "dirty": doc.dirty, "status": app.status_text}

    drv.wait(0.6)                               # Tab: as Enter, the keyboard in no other box
    double_click(gain)
    drv.key("ctrl+a")
    drv.type_text("-12")
    drv.key("Tab")
    drv.frames(3)
    from nodeflow.editor.commands import typing
    out["tab"] = {"value": graph.nodes["gain"].params["gain_db"], "box": dpg.does_item_exist("typein::" + gain),
                  "typing": typing(app), "status": app.status_text}

    drv.wait(0.6)                               # a time box without a slider: a double-click on its
    start = "param::load::start_s"              # unit selected only " s" (QA: "0.0 0.5" was refused)
    drv.double_click(drv.across(start, 0.75))
    drv.frames(2)
    drv.type_text("0.5")
    drv.key("Return")
    drv.frames(3)
    out["start_box"] = {"value": graph.nodes["load"].params["start_s"], "status": app.status_text,
                        "error": app.status_error, "shown": dpg.get_value(start)}

    drv.wait(0.6)                               # the node deleted while its box is open
    double_click(gain)
    doc.remove(["gain"])
    drv.frames(4)
    out["deleted"] = {"status": app.status_text, "box": dpg.does_item_exist("typein::" + gain)}
    drv.dump(out)
