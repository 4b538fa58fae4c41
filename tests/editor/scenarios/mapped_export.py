"""An export fed a list (windows) after a run of the same export fed one clip: its line names the
first file it wrote and how many more, its tooltip every path, its waveform is that first file (not
the older out.wav of the run before), and play plays it."""


def main(app, drv):
    dpg, g = app.dpg, app.doc.graph
    drv.frames(4)
    out = {}

    def line():
        return {"text": dpg.get_value("value::export::out"), "tip": dpg.get_value("valuetip::export::out"),
                "wave": bool(dpg.is_item_shown("plot::export::out"))}
    drv.click_item("run_button")
    drv.until(lambda: not app.runner.jobs, 30, "the first run")
    drv.until(lambda: dpg.is_item_shown("plot::export::out"), 20, "the export's waveform")
    out["single"] = line()
    app.doc.edit("window the export", lambda: (
        g.add("time.tokenize_window", id="win", unit="seconds", size=1.0),
        g.connect("gain.out", "win.audio"),
        g.connect("win.out", "export.audio")))
    drv.frames(4)
    drv.click_item("run_button")
    drv.until(lambda: not app.runner.jobs, 30, "the mapped run")
    drv.until(lambda: dpg.get_value("value::export::out").startswith("out_1.wav"), 20, "the mapped export's line")
    drv.until(lambda: dpg.is_item_shown("plot::export::out"), 20, "the first file's waveform")
    drv.frames(2)
    out["mapped"] = line()
    out["files"] = list(app.runner.output(app.doc.graph, "export", "out"))
    out["wave_source"] = getattr(app.view.previews.get(("export", "out")), "frames", None)
    drv.click_item("play::export::out")
    drv.until(lambda: app.audition.now is not None or app.audition.pending is None, 10, "play")
    drv.frames(3)
    out["status"] = app.status_text
    out["playing"] = list(app.audition.now) if app.audition.now else None
    out["clip_frames"] = app.audition.clip.frames if app.audition.clip is not None else None
    app.audition.stop()
    drv.dump(out)
