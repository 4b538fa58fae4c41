"""Open `audiochain tune`'s results in the Tune panel (typed folder, real clicks): play the best
candidate, A/B it against the loudest one level-matched at the same place (the null sink recorded
with parec), use the best one's settings, rerun another.  ``AUDIOCHAIN_TEST_TMP``/tune holds the tune;
``ab.f32`` gets the recording and ``rerun.npy`` what the rerun rendered."""
import os
import subprocess
import time
from pathlib import Path

import numpy as np


def main(app, drv):
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    drv.frames(5)
    app.tune.open()                                       # View > Tune results...
    drv.frames(3)
    dpg.set_value("tune::folder", "")
    drv.click_item("tune::folder")
    drv.type_text(str(tmp / "tune"))
    drv.click_item("tune::load")
    drv.until(lambda: app.tune.rows, 20, "the rows")
    drv.frames(3)
    out = {"about": dpg.get_value("tune::about"), "status": app.status_text,
           "rows_drawn": [[dpg.get_value(c) for c in dpg.get_item_children(row, 1)
                           if dpg.get_item_type(c).endswith("mvText")][:5]       # the cells, not their tooltips
                          for row in dpg.get_item_children("tune::table", 1)],
           "ab_default": dpg.get_value("tune::abtext")}
    rows = app.tune.rows
    drv.click_item("tune::play::0")
    drv.until(lambda: app.audition.now is not None, 10, "the best candidate to play")
    out["playing"] = list(app.audition.now)
    app.stop_audio()
    gains = [r["params"]["gain.gain_db"] for r in rows]
    j = max(range(len(rows)), key=lambda k: abs(gains[k] - gains[0]))
    out["b_index"] = j
    drv.click_item(f"tune::B::{j}")
    drv.frames(2)
    out["ab_picked"] = dpg.get_value("tune::abtext")
    raw = tmp / "ab.f32"
    rec = subprocess.Popen(["parec", "-d", "nullsink.monitor", "--format=float32le", "--rate=48000",
                            "--channels=2", "--latency-msec=50", str(raw)])
    try:
        end = time.monotonic() + 10
        while time.monotonic() < end and not (raw.exists() and raw.stat().st_size > 19200):
            time.sleep(0.02)
        drv.click_item("tune::ab")                        # A
        drv.until(lambda: app.audition.now is not None, 10, "A to play")
        end = time.perf_counter() + 0.6
        while time.perf_counter() < end:
            drv.frames(1)
        drv.click_item("tune::ab")                        # B, from the same place
        out["ab_after_toggle"] = dpg.get_value("tune::abtext")
        out["ab_match"] = dpg.get_value("tune::abmatch")
        out["offset_s"] = (app.audition.playhead() or (0, 0, 0.0))[2]    # B goes on where A was
        out["playing_after_toggle"] = list(app.audition.now or ())
        drv.until(lambda: app.audition.now is None, 30, "B to end")
        time.sleep(0.6)
    finally:
        rec.terminate()
        rec.wait(10)
    drv.click_item("tune::use::0")
    drv.frames(2)
    out["gain_after_use"] = app.doc.graph.nodes["gain"].params.get("gain_db")
    out["genre_after_use"] = app.doc.graph.nodes["prompt"].params.get("genre")
    out["undo"] = app.doc.history.undo_label
    out["status_after_use"] = app.status_text
    drv.click_item(f"tune::rerun::{j}")
    drv.until(lambda: not app.runner.jobs and app.doc.graph.nodes["gain"].params.get("gain_db") == gains[j]
              and app.runner.output(app.doc.graph, "gain", "out") is not None, 60, "the rerun")
    np.save(tmp / "rerun.npy", app.runner.output(app.doc.graph, "gain", "out").samples)
    out["status_after_rerun"] = app.status_text
    drv.frames(3)
    drv.screenshot(tmp / "tune.png")
    drv.dump(out)
