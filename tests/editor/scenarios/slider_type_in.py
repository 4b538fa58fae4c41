"""A double-click on a slider types a value, as ctrl+click does, through real clicks and keys: the
double-click's first click moved the slider where it landed, and that change is taken back (the box
opens on the old value, Escape leaves the old value and no undo step); a value typed is one undo
step, set on Enter (not at each key: typing "-3.5" set -3, then -3.5), and keys typed then Escape
set nothing; a single click still sets the value under the pointer; a value past the slider's end is held
there, as a DAW holds it, and the status bar says so (it was held without a word)."""


def main(app, drv):
    dpg = app.dpg
    drv.frames(6)
    out = {}
    tag = "param::gain::gain_db"
    history = app.doc.history

    def typing():            # the box typed into, in the slider's place
        return dpg.does_item_exist("typein::" + tag) and bool(dpg.is_item_active("typein::" + tag))

    def gain():
        return app.doc.graph.nodes["gain"].params.get("gain_db")

    def at(frac):
        (x0, y0), (x1, y1) = dpg.get_item_rect_min(tag), dpg.get_item_rect_max(tag)
        return x0 + (x1 - x0) * frac, (y0 + y1) / 2

    def double_click(frac):
        drv.double_click(at(frac))
        drv.frames(2)

    double_click(0.2)
    out["opened"] = {"gain": gain(), "shown": dpg.get_value(tag), "steps": len(history),
                     "typing": typing(), "status": app.status_text}
    drv.screenshot(app_tmp() / "slider_type_in.png")
    drv.key("Escape")
    drv.frames(3)
    out["escaped"] = {"gain": gain(), "steps": len(history), "redo": history.redo_label,
                      "typing": typing(), "status": app.status_text}
    double_click(0.8)
    drv.key("ctrl+a")
    drv.type_text("-3.5")
    drv.frames(2)
    out["while_typing"] = {"gain": gain(), "steps": len(history), "status": app.status_text}
    drv.key("Return")
    drv.frames(3)
    out["typed"] = {"gain": gain(), "steps": len(history), "undo": history.undo_label}
    drv.key("ctrl+z")
    out["undone"] = {"gain": gain(), "steps": len(history)}
    drv.wait(0.6)                      # more than a double-click's time (0.3 s) since the last click
    drv.click(at(0.2))
    drv.frames(3)
    out["clicked"] = {"gain": gain(), "steps": len(history)}
    drv.wait(0.6)
    double_click(0.5)                   # keys typed, then Escape: nothing set, nothing to undo
    drv.key("ctrl+a")
    drv.type_text("18")
    drv.frames(2)
    drv.key("Escape")
    drv.frames(3)
    out["typed_escaped"] = {"gain": gain(), "steps": len(history), "status": app.status_text}
    drv.wait(0.6)
    double_click(0.5)                   # a value past the slider's end is held there, and says so
    drv.key("ctrl+a")
    drv.type_text("500")
    drv.key("Return")
    drv.frames(4)
    out["too_big"] = {"gain": gain(), "shown": dpg.get_value(tag), "steps": len(history), "status": app.status_text}
    drv.dump(out)


def app_tmp():
    import os
    from pathlib import Path
    return Path(os.environ["AUDIOCHAIN_TEST_TMP"])
