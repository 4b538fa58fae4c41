"""The Sweep panel and Preferences in a small window (QA, real X events): opened in a large window
that is then made 640x400, and opened again at 640x400, all of each (its close button, the table)
is inside the window."""


def main(app, drv):
    dpg = app.dpg

    def rect(tag):
        (x, y), size = dpg.get_item_pos(tag), dpg.get_item_rect_size(tag)
        return [[x, y], [x + size[0], y + size[1]]]
    out = {}
    dpg.set_viewport_width(1200)
    dpg.set_viewport_height(800)
    drv.frames(6)
    app.sweep.open()
    app.prefs_panel.open()
    drv.frames(6)
    out["large"] = {"viewport": [dpg.get_viewport_client_width(), dpg.get_viewport_client_height()],
                    "sweep": rect("sweep"), "prefs": rect("prefs")}
    dpg.set_viewport_width(640)                       # resized while they are open
    dpg.set_viewport_height(400)
    drv.frames(8)
    out["resized"] = {"viewport": [dpg.get_viewport_client_width(), dpg.get_viewport_client_height()],
                      "sweep": rect("sweep"), "prefs": rect("prefs")}
    dpg.hide_item("sweep")
    dpg.hide_item("prefs")
    drv.frames(3)
    dpg.set_item_pos("sweep", [300, 80])              # where it opened before (as a user left it)
    dpg.configure_item("sweep", width=720, height=460)
    drv.frames(2)
    app.sweep.open()                                  # opened in the small window
    drv.frames(6)
    out["reopened"] = {"sweep": rect("sweep")}
    import os
    from pathlib import Path
    drv.screenshot(Path(os.environ["AUDIOCHAIN_TEST_TMP"]) / "sweep_small.png")
    drv.dump(out)
