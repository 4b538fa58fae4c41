"""Define a sweep in the panel (typed), run it, audition variants A/B (level-matched) while recording the sink."""
import os
import threading
import time
from pathlib import Path

import numpy as np

from tests.editor._graphs import open_sweep_panel, run_sweep, type_sweep_axes


def main(app, drv):
    import sounddevice as sd
    tmp = Path(os.environ["AUDIOCHAIN_TEST_TMP"])
    dpg = app.dpg
    out = {"listen_items": open_sweep_panel(app, drv, tmp / "sweep")}
    type_sweep_axes(app, drv, "gain.gain_db=-18,0")
    out.update(run_sweep(app, drv))                        # status, ab
    out["rows"] = [(r.variant.name, r.status) for r in app.sweep.shown()]
    out["rows_drawn"] = [dpg.get_value(dpg.get_item_children(row, 1)[0]) for row in dpg.get_item_children("sweep::table", 1)]
    chunks, started = [], threading.Event()

    def cb(indata, frames, time_info, status):
        chunks.append((time.perf_counter(), indata.copy()))
        started.set()

    with sd.InputStream(samplerate=48000, channels=2, dtype="float32", callback=cb):
        assert started.wait(10)
        drv.click_item("sweep::ab")                       # A: -18 dB
        drv.until(lambda: app.audition.now is not None, 10, "A to play")
        end = time.perf_counter() + 0.6
        while time.perf_counter() < end:
            drv.frames(1)
        drv.click_item("sweep::ab")                       # B: 0 dB, from the same place
        out["ab_after_toggle"] = dpg.get_value("sweep::abtext")
        out["ab_match"] = dpg.get_value("sweep::abmatch")
        out["offset_s"] = (app.audition.playhead() or (0, 0, 0.0))[2]    # B goes on where A was
        out["playing_after_toggle"] = list(app.audition.now or ())
        out["status_after_toggle"] = app.status_text
        drv.until(lambda: app.audition.now is None, 30, "B to end")
        out["status_after_b"] = app.status_text

        def levels():
            rec = np.concatenate([c for _, c in chunks])[:, 0].astype(np.float64)
            blk = 2400                                     # 50 ms blocks of the recording, in order
            return [float(20 * np.log10(np.sqrt(np.mean(rec[i:i + blk] ** 2)) + 1e-12))
                    for i in range(0, len(rec) - blk + 1, blk)]

        def b_heard_and_done():                            # B's level, then 0.3 s of silence
            lv = levels()
            loud = [i for i, v in enumerate(lv) if v > -18]
            return bool(loud) and len(lv) - 1 - loud[-1] >= 6
        end = time.monotonic() + 30                        # the sound server's latency, on a busy machine
        while time.monotonic() < end and not b_heard_and_done():
            drv.frames(1)
    levels = levels()
    np.save(tmp / "ab.npy", np.concatenate([c for _, c in chunks]))
    out["loud_blocks_db"] = [round(v, 2) for v in levels if v > -60]
    out["manifest"] = (tmp / "sweep" / "manifest.json").exists() and (tmp / "sweep" / "manifest.csv").exists()
    out["files"] = sorted(str(p.relative_to(tmp / "sweep")) for p in (tmp / "sweep").rglob("*.wav"))
    drv.click_item("sweep::keep")
    out["kept"] = app.doc.graph.sweep
    drv.screenshot(tmp / "sweep.png")
    drv.dump(out)
