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
    drv.dump({"unit": app.view.time_unit.get(("load", "out")), "info": info,
              "export_unit": app.view.time_unit.get(("export", "out")), "win_unit": app.view.time_unit.get(("win", "out"))})
