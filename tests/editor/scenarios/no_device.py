"""Press play with no sound server: a message in the status bar, the editor keeps working."""


def main(app, drv):
    drv.frames(5)
    drv.click_item("play::gain::out")
    drv.until(lambda: app.status_error, 30, "an error message")
    out = {"shown": app.dpg.get_value("status"), "said": app.status_text}
    drv.frames(5)
    app.doc.set_param("gain", "gain_db", -3.0)      # still editing
    drv.frames(3)
    drv.dump(out)
