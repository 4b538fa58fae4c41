"""Run a graph whose audio knows its tempo (a file exported with bpm/meter tags): the waveform's time
axis is in bars, and so is the export's (the file it wrote carries the tempo too) and that of the
windows cut from it by bars (a list of clips that all carry the tempo)."""
import os
from pathlib import Path


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    drv.frames(5)
    drv.key("F5")
    drv.until(lambda: not app.runner.jobs and "load.out" in app.state()["previews"], 60, "the run")
    drv.until(lambda: ("export", "out") in app.view.previews, 20, "the export's waveform (its file)")
    drv.until(lambda: ("win", "out") in app.view.previews, 20, "the windows' waveform")
    drv.frames(5)
    drv.screenshot(tmp / "bars.png")
    info = dict(app.runner.output(app.doc.graph, "load", "out").info)
    # shift+click a little after bar 2 and a little before the end: the loop is bars 2-3, on the beat
    (px0, py0), (px1, py1) = app.dpg.get_item_rect_min("plot::load::out"), app.dpg.get_item_rect_max("plot::load::out")
    drv.xdo("keydown", "shift")
    for frac in (0.53, 0.97):
        drv.click((px0 + (px1 - px0) * frac, (py0 + py1) / 2 - 6))
    drv.xdo("keyup", "shift", frames=3)
    loop = app.audition.loop
    drv.dump({"unit": app.view.time_unit.get(("load", "out")), "info": info,
              "export_unit": app.view.time_unit.get(("export", "out")), "win_unit": app.view.time_unit.get(("win", "out")),
              "loop": None if loop is None else [list(loop[0]), loop[1], loop[2]], "loop_status": app.status_text})
